/**
 * A seeded fuzzer for the Go event decoder: mutates real records (as `go.bpf.c` lays them
 * out, by the object's BTF), cuts them short, and sets lengths and kinds to extremes;
 * checks that the decoder never throws and never returns text longer than its field.
 *
 * @module
 */
import { BpfObject } from "../ffi/mod.ts";
import { mulberry32 } from "../src/prng.ts";
import { GO_BPF_OBJECT } from "../src/golang/instrumentation.ts";
import { goEventDecoder, type GoEventTypes } from "../src/golang/events.ts";
import { encodeGoEvent, sampleGoEvents } from "../src/golang/_test_events.ts";

/** What a fuzz run saw. */
export interface FuzzGoEventsResult {
  iterations: number;
  events: number;
  rejected: number;
  problems: number;
}

function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  let b = input.slice();
  const rounds = 1 + Math.floor(rand() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * b.length);
    switch (Math.floor(rand() * 6)) {
      case 0: // flip a byte
        b[at] = Math.floor(rand() * 256);
        break;
      case 1: // a 32-bit field (a length, the kind) to an extreme
        if (at + 4 <= b.length) {
          new DataView(b.buffer).setUint32(
            at & ~3,
            [0, 1, 2, 3, 0xffffffff, 0x7fffffff, 65536][Math.floor(rand() * 7)]!,
            true,
          );
        }
        break;
      case 2: // truncate
        b = b.slice(0, at);
        break;
      case 3: // random bytes over a stretch
        for (let k = at; k < Math.min(b.length, at + 16); k++) b[k] = Math.floor(rand() * 256);
        break;
      case 4: // invalid UTF-8
        b[at] = 0xff;
        break;
      default:
        break;
    }
  }
  return b;
}

/**
 * Runs `iterations` mutated records through the decoder built from `types` (default: the
 * BTF of `bpf/out/go.bpf.o`, opened but not loaded, so no privileges are needed). A
 * problem is a throw or a text longer than its field.
 */
export function fuzzGoEvents(
  iterations: number,
  seed: number,
  types?: GoEventTypes,
): FuzzGoEventsResult {
  if (types === undefined) {
    const obj = BpfObject.open(GO_BPF_OBJECT);
    try {
      return fuzzGoEvents(iterations, seed, obj);
    } finally {
      obj.close();
    }
  }
  const rand = mulberry32(seed);
  const decode = goEventDecoder(types);
  const [server, client] = sampleGoEvents();
  const link = {
    type: "link" as const,
    pid: client.pid,
    ids: client.ids,
    server: false,
    client: { address: "127.0.0.1", port: 50000 },
    serverEnd: { address: "127.0.0.1", port: 8080 },
    method: server.method,
    path: server.path,
    query: server.query,
    stream: 3,
  };
  const corpus = [...sampleGoEvents(), link].map((e) => encodeGoEvent(types, e));
  const http = types.structLayout("go_http_event");
  let events = 0, rejected = 0, problems = 0;
  for (let i = 0; i < iterations; i++) {
    const input = mutate(corpus[Math.floor(rand() * corpus.length)]!, rand);
    // Records sit at an offset inside the ring's memory.
    const pad = Math.floor(rand() * 16);
    const bytes = new Uint8Array(pad + input.length);
    bytes.set(input, pad);
    try {
      const r = decode(bytes, new DataView(bytes.buffer), pad, input.length);
      if (!r.ok) {
        rejected++;
        continue;
      }
      events++;
      const e = r.event;
      const texts = e.type === "sql"
        ? [[e.query, 256]] as const
        : e.type === "link"
        ? [[e.method, 16], [e.path, 128], [e.query, 128]] as const
        : e.type === "inject"
        ? [[{ text: e.head }, 192], [{ text: e.line }, 70]] as const
        : e.type === "handler" || e.type === "caller"
        ? [] as const
        : [[e.method, http.fields["method"]!.size], [e.path, http.fields["path"]!.size]] as const;
      for (const [t, max] of texts) {
        if (new TextEncoder().encode(t.text).length > max * 3) problems++;
      }
      if (e.ids.traceId.length !== 32 || e.ids.spanId.length !== 16) problems++;
    } catch {
      problems++;
    }
  }
  return { iterations, events, rejected, problems };
}
