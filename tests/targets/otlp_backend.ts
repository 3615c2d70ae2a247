/**
 * OTLP/HTTP backends that misbehave, for the tests of the agent's exporter: one that
 * accepts and never answers, one that hangs up without a response, one that resets the
 * connection, one that says 503 forever, one that trickles its answer a byte at a time —
 * and one that is strict about HTTP/1.1 framing, answers 200 and counts the spans it got.
 * Raw TCP (`Deno.listen`), so each state is exactly what it says, and the strict one sees
 * the bytes as they came.
 *
 * @example
 * ```ts ignore
 * await using backend = startOtlpBackend("silent");
 * // agent --otlp-endpoint backend.url …
 * await backend.waitForRequests(1);
 * ```
 *
 * @module
 */

/** How the backend behaves once a connection is accepted. */
export type BackendState = "silent" | "hangup" | "reset" | "unavailable" | "trickle" | "strict";

/** A running backend. */
export interface OtlpBackend extends AsyncDisposable {
  /** Base URL for `--otlp-endpoint`. */
  url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Requests whose head was read so far (every state but `reset`). */
  requests: number;
  /** `strict`: spans in the well-framed trace requests. */
  spans: number;
  /** `strict`: what was wrong with a request's framing, one line each. */
  framingErrors: string[];
  /** `strict`: how each request body was framed (`content-length` or `chunked`). */
  framings: string[];
  /** Resolves once `n` requests were read (for `reset`, `n` connections accepted). */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const HEAD_END = enc.encode("\r\n\r\n");

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A parsed request, or what is wrong with it, or `undefined` while more bytes are needed. */
type Parsed =
  | { ok: true; path: string; framing: string; body: Uint8Array; used: number }
  | { ok: false; error: string };

/** One HTTP/1.1 request from the front of `buf`, strictly by RFC 9112. */
export function parseRequest(buf: Uint8Array): Parsed | undefined {
  const end = indexOf(buf, HEAD_END);
  if (end < 0) return buf.length > 65536 ? { ok: false, error: "head over 64 KiB" } : undefined;
  const lines = dec.decode(buf.subarray(0, end)).split("\r\n");
  const m = /^(POST) (\/\S*) HTTP\/1\.1$/.exec(lines[0] ?? "");
  if (!m) return { ok: false, error: `bad request line ${JSON.stringify(lines[0])}` };
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const h = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!h) return { ok: false, error: `bad header line ${JSON.stringify(line)}` };
    const name = h[1]!.toLowerCase();
    headers.set(name, [...headers.get(name) ?? [], h[2]!]);
  }
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te && cl) return { ok: false, error: "both Transfer-Encoding and Content-Length" };
  let at = end + 4;
  if (cl) {
    if (cl.length !== 1 || !/^\d+$/.test(cl[0]!)) {
      return { ok: false, error: `bad Content-Length ${cl.join(",")}` };
    }
    const n = Number(cl[0]);
    if (buf.length < at + n) return undefined;
    return {
      ok: true,
      path: m[2]!,
      framing: "content-length",
      body: buf.slice(at, at + n),
      used: at + n,
    };
  }
  if (!te) return { ok: false, error: "a POST with neither Content-Length nor Transfer-Encoding" };
  if (te.join(",").toLowerCase() !== "chunked") {
    return { ok: false, error: `Transfer-Encoding ${te.join(",")}` };
  }
  let body: Uint8Array = new Uint8Array(0);
  while (true) {
    const eol = indexOf(buf, enc.encode("\r\n"), at);
    if (eol < 0) return undefined;
    const sizeLine = dec.decode(buf.subarray(at, eol));
    if (!/^[0-9a-fA-F]{1,8}(;.*)?$/.test(sizeLine)) {
      return { ok: false, error: `bad chunk size line ${JSON.stringify(sizeLine)}` };
    }
    const size = parseInt(sizeLine, 16);
    at = eol + 2;
    if (size === 0) {
      // No trailers expected: the chunked body ends with an empty line.
      if (buf.length < at + 2) return undefined;
      if (buf[at] !== 13 || buf[at + 1] !== 10) {
        return { ok: false, error: "chunked body not ended by CRLF after the last chunk" };
      }
      return { ok: true, path: m[2]!, framing: "chunked", body, used: at + 2 };
    }
    if (buf.length < at + size + 2) return undefined;
    if (buf[at + size] !== 13 || buf[at + size + 1] !== 10) {
      return { ok: false, error: "chunk data not followed by CRLF" };
    }
    body = concat(body, buf.subarray(at, at + size));
    at += size + 2;
  }
}

/** Reads a protobuf varint at `at`; returns [value, next offset] or undefined. */
function varint(b: Uint8Array, at: number): [number, number] | undefined {
  let v = 0;
  for (let shift = 0; shift < 50 && at < b.length; shift += 7) {
    const byte = b[at++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [v, at];
  }
  return undefined;
}

/** The length-delimited fields numbered `field` of a protobuf message. */
function fields(b: Uint8Array, field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < b.length) {
    const key = varint(b, at);
    if (!key) break;
    at = key[1];
    const wire = key[0] & 7;
    if (wire === 0) {
      const v = varint(b, at);
      if (!v) break;
      at = v[1];
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const len = varint(b, at);
      if (!len) break;
      const part = b.subarray(len[1], len[1] + len[0]);
      if (Math.floor(key[0] / 8) === field) out.push(part);
      at = len[1] + len[0];
    } else break;
  }
  return out;
}

/** Spans in an ExportTraceServiceRequest: resource_spans(1) → scope_spans(2) → spans(2). */
export function countSpans(body: Uint8Array): number {
  let n = 0;
  for (const rs of fields(body, 1)) for (const ss of fields(rs, 2)) n += fields(ss, 2).length;
  return n;
}

/** Starts a backend on 127.0.0.1 (a free port) in `state`. */
export function startOtlpBackend(state: BackendState): OtlpBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closed = false;
  const backend: OtlpBackend = {
    url: `http://127.0.0.1:${listener.addr.port}`,
    connections: 0,
    requests: 0,
    spans: 0,
    framingErrors: [],
    framings: [],
    async waitForRequests(n, timeoutMs = 15_000) {
      const end = performance.now() + timeoutMs;
      const enough = () => (state === "reset" ? backend.connections : backend.requests) >= n;
      while (!enough()) {
        if (performance.now() > end) {
          throw new Error(
            `the ${state} backend saw ${backend.connections} connections, ` +
              `${backend.requests} requests; want ${n}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async [Symbol.asyncDispose]() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };

  const write = async (conn: Deno.Conn, text: string | Uint8Array) => {
    const bytes = typeof text === "string" ? enc.encode(text) : text;
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  };
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => {
        timers.delete(t);
        r();
      }, ms);
      timers.add(t);
    });

  const serve = async (conn: Deno.Conn) => {
    if (state === "reset") {
      // Close with the request unread in the receive buffer: the kernel answers with RST.
      await sleep(200);
      return;
    }
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    while (!closed) {
      const n = await conn.read(chunk);
      if (n === null) return;
      buf = concat(buf, chunk.subarray(0, n));
      while (buf.length > 0) {
        if (state !== "strict") {
          if (indexOf(buf, HEAD_END) < 0) break;
          backend.requests++;
          buf = new Uint8Array(0);
          if (state === "hangup") return;
          if (state === "unavailable") {
            await write(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
          }
          if (state === "trickle") {
            await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
            while (!closed) {
              await write(conn, "\0");
              await sleep(200);
            }
          }
          continue; // silent: read on, never answer
        }
        const parsed = parseRequest(buf);
        if (parsed === undefined) break;
        if (!parsed.ok) {
          backend.framingErrors.push(parsed.error);
          await write(
            conn,
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
          );
          return;
        }
        backend.requests++;
        backend.framings.push(parsed.framing);
        if (parsed.path === "/v1/traces") backend.spans += countSpans(parsed.body);
        buf = buf.slice(parsed.used);
        await write(
          conn,
          "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
        );
      }
    }
  };

  const accepting = (async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      backend.connections++;
      conns.add(conn);
      serve(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })();
  return backend;
}
