/**
 * Test helper: a fake probe that numbers stream positions per connection and direction
 * and hands chunks to a span builder, with a deterministic id generator.
 *
 * @module
 */
import type { Direction, SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import type { IdGenerator } from "../model/ids.ts";
import type { Span } from "../model/span.ts";

/** Ids 000…1, 000…2, … so tests can name them. */
export function countingIds(): IdGenerator {
  let n = 0;
  return {
    traceId: () => (++n).toString(16).padStart(32, "0"),
    spanId: () => (++n).toString(16).padStart(16, "0"),
  };
}

/** Options of one simulated call. */
export interface CallOptions {
  pid?: number;
  conn?: string;
  tid?: number;
  /** Bytes the call moved beyond the captured text (a known truncation). */
  uncaptured?: number;
  /** Split the captured text into chunks of this size (one call, several records). */
  chunkSize?: number;
}

/** Numbers calls like the BPF side does. */
export class Wire {
  readonly #pos = new Map<string, number>();

  /** The chunks of one call carrying `text` (latin1), advancing the stream position. */
  call(direction: Direction, text: string, monoNs: bigint, o: CallOptions = {}): StreamChunk[] {
    const pid = o.pid ?? 100;
    const conn = o.conn ?? "c1";
    const key = `${pid}/${conn}/${direction}`;
    const start = this.#pos.get(key) ?? 0;
    const data = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    const callEnd = start + data.length + (o.uncaptured ?? 0);
    this.#pos.set(key, callEnd);
    const size = Math.max(1, o.chunkSize ?? (data.length || 1));
    const out: StreamChunk[] = [];
    for (let off = 0; off < data.length || off === 0; off += size) {
      const piece = data.subarray(off, off + size);
      out.push({
        pid,
        tid: o.tid ?? 200,
        conn,
        secure: true,
        direction,
        pos: start + off,
        data: piece,
        callEnd,
        last: off + size >= data.length,
        monoNs,
      });
      if (data.length === 0) break;
    }
    return out;
  }

  /** Skips `n` bytes of a direction, as if its records were lost. */
  lose(direction: Direction, n: number, o: CallOptions = {}): void {
    const key = `${o.pid ?? 100}/${o.conn ?? "c1"}/${direction}`;
    this.#pos.set(key, (this.#pos.get(key) ?? 0) + n);
  }

  /**
   * Starts a connection over (positions back to 0), as when the BPF side has forgotten a
   * key (its LRU map evicted it). A key reused by a new connection keeps counting instead.
   */
  restart(o: CallOptions = {}): void {
    for (const d of ["ingress", "egress"]) {
      this.#pos.delete(`${o.pid ?? 100}/${o.conn ?? "c1"}/${d}`);
    }
  }
}

/** An IPv4 socket for `conn`; `socket` names the kernel socket. */
export function socketOf(conn = "c1", pid = 100, socket = `sock-${conn}`): SocketInfo {
  return {
    pid,
    conn,
    socket,
    fd: 5,
    family: "ipv4",
    localAddress: "10.1.0.5",
    localPort: 8443,
    peerAddress: "10.1.0.9",
    peerPort: 51000,
    monoNs: 0n,
    callMonoNs: 0n,
  };
}

/** A span's name with its path beside it ("GET /a"): names carry no path by themselves. */
export function label(span: Span): string {
  const path = span.attributes["url.path"];
  return typeof path === "string" && !span.name.includes(" ") ? `${span.name} ${path}` : span.name;
}
