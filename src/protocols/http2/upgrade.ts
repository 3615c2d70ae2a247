/**
 * The `Upgrade: h2c` path (RFC 7540 §3.2): a connection that opens as HTTP/1.1, with a
 * request asking to switch to cleartext HTTP/2. If the server answers 101, the request
 * becomes stream 1 (its response comes as HTTP/2), the client sends the connection preface
 * and both sides speak HTTP/2 from there; any other answer means the connection stays
 * HTTP/1.1 (`declined`: the HTTP/1 protocol's business, not this one's).
 *
 * Both heads are read with the HTTP/1 parser; only the bytes up to the end of each head
 * (and a request body given by Content-Length) are held or skipped here. It never throws.
 *
 * @module
 */
import { Http1Parser, type Http1Request, parseContentLength } from "../http1/framer.ts";
import { getHeader } from "../http/headers.ts";
import { Http2Connection, type Http2ConnectionOptions, isGrpc, type Side } from "./connection.ts";
import { type HeaderField, latin1 } from "./hpack.ts";

/** Where the upgrade is. */
export type UpgradeState = "upgrading" | "h2" | "declined";

/** Most bytes of an HTTP/1.1 head held while waiting for its end. */
const MAX_HEAD = 16384;
/** Most client bytes held after the request while the server has not said 101. */
const MAX_EARLY = 65536;
const CRLFCRLF = [13, 10, 13, 10];
/** HTTP/1.1 fields that belong to the connection, not to the request (RFC 9113 §8.2.2). */
const CONNECTION_FIELDS = new Set([
  "connection",
  "upgrade",
  "http2-settings",
  "host",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
]);

/**
 * Whether an HTTP/1.1 request head (its bytes so far) asks to upgrade to h2c: `yes` once
 * the head is complete with `Upgrade: h2c`, `more` while it may still.
 */
export function sniffUpgrade(b: Uint8Array): "yes" | "no" | "more" {
  const end = indexOfCrlfCrlf(b, 0);
  const head = latin1(b.subarray(0, end < 0 ? Math.min(b.length, MAX_HEAD) : end)).toLowerCase();
  if (/\r\nupgrade:[ \t]*h2c[ \t]*(?:\r\n|$)/.test(head)) return end < 0 ? "more" : "yes";
  if (end >= 0 || b.length >= MAX_HEAD) return "no";
  return "more";
}

/**
 * A connection that began with an upgrade request on side 0 (the client's).
 *
 * @example
 * ```ts ignore
 * const u = new H2cUpgrade({ onExchange });
 * u.push(0, requestHeadAndPreface, t, tid);
 * u.push(1, response101AndFrames, t, tid);
 * ```
 */
export class H2cUpgrade {
  readonly conn: Http2Connection;
  #state: UpgradeState = "upgrading";
  /** Head bytes held per side until the head ends. */
  #held: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  #headDone: [boolean, boolean] = [false, false];
  /** Request body bytes still to skip on the client side. */
  #bodyLeft = 0;
  /** Client bytes after the request, held until the server has said 101. */
  #early: { bytes: Uint8Array; monoNs: bigint; tid: number }[] = [];
  #earlyBytes = 0;
  #request: Http1Request | undefined;
  #requestEndNs = 0n;

  constructor(options: Http2ConnectionOptions) {
    this.conn = new Http2Connection(options);
    this.conn.expectPreface(0);
  }

  /** Where the upgrade is. */
  get state(): UpgradeState {
    return this.#state;
  }

  /** Contiguous bytes of one side. */
  push(side: Side, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    if (this.#state === "declined") return;
    if (this.#headDone[side]) {
      if (side === 0) this.#clientAfterHead(bytes, monoNs, tid);
      else this.conn.push(1, bytes, monoNs, tid);
      return;
    }
    const held = this.#held[side];
    const all = held.length === 0 ? bytes : concat(held, bytes);
    const end = indexOfCrlfCrlf(all, Math.max(0, held.length - 3));
    if (end < 0) {
      if (all.length > MAX_HEAD) this.#decline();
      else this.#held[side] = all.slice();
      return;
    }
    this.#held[side] = new Uint8Array(0);
    this.#headDone[side] = true;
    const head = all.subarray(0, end + 4);
    const rest = all.subarray(end + 4);
    if (side === 0) {
      if (this.#requestHead(head, monoNs, tid)) this.#clientAfterHead(rest, monoNs, tid);
    } else {
      if (this.#responseHead(head, monoNs)) this.conn.push(1, rest, monoNs, tid);
    }
  }

  /** A stretch of one side never seen: before the switch, the upgrade cannot be followed. */
  gap(side: Side, size: number, monoNs: bigint): void {
    if (this.#state === "h2" && (side === 1 || this.#early.length === 0)) {
      this.conn.gap(side, size, monoNs);
    } else if (this.#state === "upgrading") this.#decline();
  }

  /** The connection is gone. */
  end(): void {
    if (this.#state === "h2") this.conn.end();
  }

  #decline(): void {
    this.#state = "declined";
    this.#held = [new Uint8Array(0), new Uint8Array(0)];
    this.#early = [];
  }

  /** Reads the request head; false if it cannot be followed. */
  #requestHead(head: Uint8Array, monoNs: bigint, tid: number): boolean {
    const parser = new Http1Parser("request", {
      onHead: (req) => (this.#request = req),
      onMessage: () => {},
    });
    parser.data(head, monoNs, tid);
    const req = this.#request;
    if (req === undefined || getHeader(req.headers, "transfer-encoding") !== undefined) {
      this.#decline(); // not a request head, or a chunked body: not followed
      return false;
    }
    const length = getHeader(req.headers, "content-length");
    this.#bodyLeft = length === undefined ? 0 : Math.max(0, parseContentLength(length));
    this.#requestEndNs = monoNs;
    return true;
  }

  #clientAfterHead(bytes: Uint8Array, monoNs: bigint, tid: number): void {
    if (this.#bodyLeft > 0) {
      const skip = Math.min(this.#bodyLeft, bytes.length);
      this.#bodyLeft -= skip;
      bytes = bytes.subarray(skip);
      this.#requestEndNs = monoNs;
    }
    if (bytes.length === 0) return;
    if (this.#state === "h2") this.conn.push(0, bytes, monoNs, tid);
    else {
      this.#earlyBytes += bytes.length;
      // Bounded: a server that never answers must not make this grow.
      if (this.#earlyBytes > MAX_EARLY) this.#decline();
      else this.#early.push({ bytes: bytes.slice(), monoNs, tid });
    }
  }

  /** Reads the response head; true if it switched to HTTP/2. */
  #responseHead(head: Uint8Array, monoNs: bigint): boolean {
    let status = 0;
    const parser = new Http1Parser("response", {
      requestMethod: () => this.#request?.method,
      onHead: (resp) => (status = resp.status),
      onMessage: () => {},
    });
    parser.data(head, monoNs, 0);
    const req = this.#request;
    if (status !== 101 || req === undefined) {
      this.#decline();
      return false;
    }
    this.#state = "h2";
    const bodySize = req.bodySize;
    const fields: HeaderField[] = [
      [":method", req.method],
      [":path", req.target],
      [":scheme", "http"],
    ];
    const host = getHeader(req.headers, "host");
    if (host !== undefined) fields.push([":authority", host]);
    for (const [name, value] of req.headers) {
      const lower = name.toLowerCase();
      if (!CONNECTION_FIELDS.has(lower)) fields.push([lower, value]);
    }
    const headers = { fields, unknown: 0, truncated: false };
    const contentLength = getHeader(req.headers, "content-length");
    this.conn.openUpgraded({
      headers,
      trailers: undefined,
      hasTrailers: false,
      bodySize: contentLength === undefined
        ? bodySize
        : Math.max(0, parseContentLength(contentLength)),
      complete: this.#bodyLeft === 0,
      ended: true,
      grpcMessages: undefined,
      firstByteMonoNs: req.firstByteMonoNs,
      lastByteMonoNs: this.#requestEndNs,
      tid: req.tid,
    }, isGrpc(headers));
    const early = this.#early;
    this.#early = [];
    for (const e of early) this.conn.push(0, e.bytes, e.monoNs, e.tid);
    return true;
  }
}

function indexOfCrlfCrlf(b: Uint8Array, from: number): number {
  outer: for (let i = from; i + 4 <= b.length; i++) {
    for (let k = 0; k < 4; k++) if (b[i + k] !== CRLFCRLF[k]) continue outer;
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
