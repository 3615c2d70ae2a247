/**
 * A seeded fuzzer for {@linkcode Http1Parser}: mutates a corpus of real request and
 * response byte strings, cuts them at random points, drops random stretches as gaps, and
 * checks that the parser neither throws nor reports an impossible message.
 *
 * @module
 */
import { type Http1Message, Http1Parser } from "../src/protocols/http1/framer.ts";
import { mulberry32 } from "../src/prng.ts";

/** What a fuzz run saw. */
export interface FuzzHttp1Result {
  iterations: number;
  messages: number;
  problems: number;
}

const CORPUS_TEXT: string[] = [
  "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
  "POST /api/v1/items?x=1&y=2 HTTP/1.1\r\nHost: api:8443\r\nContent-Type: application/json\r\n" +
  'Content-Length: 17\r\n\r\n{"name":"widget"}',
  "PUT /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
  "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n",
  "HEAD /index.html HTTP/1.0\r\n\r\n",
  "POST /form HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
  "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  "GET http://user:pw@proxy.example/a/b?c=d#frag HTTP/1.1\r\nX-Folded: a\r\n  b\r\n\r\n",
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" +
  "a\r\n0123456789\r\n1; name=value\r\nx\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
  "HTTP/1.1 204 No Content\r\nDate: Tue, 01 Jan 2030 00:00:00 GMT\r\n\r\n",
  'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
  "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until the connection closes",
  "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5, 5\r\n\r\noops!",
  "HTTP/1.1 200\r\nContent-Length: x\r\n\r\n",
];

const CORPUS: Uint8Array[] = CORPUS_TEXT.map((t) =>
  Uint8Array.from(t, (ch) => ch.charCodeAt(0) & 0xff)
);

const INTERESTING = ["\r\n", "\r\n\r\n", "\n", ":", " ", "0\r\n", "HTTP/1.1 ", "GET ", ";", "ff"]
  .map((t) => Uint8Array.from(t, (ch) => ch.charCodeAt(0)));

function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  let b = Array.from(input);
  const rounds = 1 + Math.floor(rand() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 8)) {
      case 0: // flip a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rand() * 256);
        break;
      case 1: // delete a stretch
        b.splice(at, Math.floor(rand() * 16));
        break;
      case 2: // duplicate a stretch
        b.splice(at, 0, ...b.slice(at, at + Math.floor(rand() * 32)));
        break;
      case 3: // insert an interesting token
        b.splice(at, 0, ...INTERESTING[Math.floor(rand() * INTERESTING.length)]!);
        break;
      case 4: // append another corpus entry (pipelining)
        b = b.concat(Array.from(CORPUS[Math.floor(rand() * CORPUS.length)]!));
        break;
      case 5: // random bytes
        for (let k = Math.floor(rand() * 8); k > 0; k--) {
          b.splice(at, 0, Math.floor(rand() * 256));
        }
        break;
      case 6: // truncate
        b.length = Math.min(b.length, at);
        break;
      default: // leave as is
        break;
    }
  }
  return Uint8Array.from(b);
}

function check(m: Http1Message): void {
  if (!(Number.isInteger(m.bodySize) && m.bodySize >= 0)) {
    throw new Error(`fuzz: impossible bodySize ${m.bodySize}`);
  }
  if (m.lastByteMonoNs < m.firstByteMonoNs) {
    throw new Error(`fuzz: message ends (${m.lastByteMonoNs}) before it starts`);
  }
  if (m.kind === "response" && !(m.status >= 100 && m.status <= 599)) {
    throw new Error(`fuzz: impossible status ${m.status}`);
  }
}

/**
 * Runs `iterations` random cases from `seed`; throws on the first failure, naming the
 * iteration and seed so that it can be replayed.
 *
 * @example
 * ```ts
 * import { fuzzHttp1 } from "./http1_fuzz.ts";
 * const result = fuzzHttp1(100, 1);
 * // result.iterations === 100
 * ```
 */
export function fuzzHttp1(iterations: number, seed: number): FuzzHttp1Result {
  const rand = mulberry32(seed);
  let messages = 0;
  let problems = 0;
  const methods = ["GET", "HEAD", "CONNECT", undefined];
  for (let it = 0; it < iterations; it++) {
    const base = CORPUS[Math.floor(rand() * CORPUS.length)]!;
    const input = mutate(base, rand);
    // Mostly the parser the entry was written for, sometimes the other one.
    const natural = base[0] === 72 && base[1] === 84 ? "response" : "request";
    const kind = rand() < 0.9 ? natural : natural === "request" ? "response" : "request";
    const method = methods[Math.floor(rand() * methods.length)];
    const onMessage = (m: Http1Message) => {
      check(m);
      messages++;
    };
    const parser = kind === "request"
      ? new Http1Parser("request", { onMessage, maxHeaderBytes: rand() < 0.2 ? 40 : 65536 })
      : new Http1Parser("response", {
        onMessage,
        requestMethod: () => method,
        maxHeaderBytes: rand() < 0.2 ? 40 : 65536,
      });
    try {
      let pos = 0;
      let t = 1n;
      while (pos < input.length) {
        const len = 1 + Math.floor(rand() * Math.min(input.length - pos, rand() < 0.5 ? 4 : 64));
        // Gaps of both kinds: lost records, and a call's bytes beyond what was captured.
        if (rand() < 0.08) parser.gap(len, t, rand() < 0.5);
        else parser.data(input.subarray(pos, pos + len), t, 1);
        pos += len;
        t += BigInt(1 + Math.floor(rand() * 1000));
      }
      if (rand() < 0.5) parser.end();
      problems += parser.problems;
    } catch (e) {
      throw new Error(
        `fuzzHttp1: iteration ${it} (seed ${seed}, ${kind}) failed on ` +
          JSON.stringify(String.fromCharCode(...input)),
        { cause: e },
      );
    }
  }
  return { iterations, messages, problems };
}
