/**
 * An incremental HTTP/1.x parser for one direction of a connection (requests or responses).
 *
 * It is fed reassembled bytes and gaps ({@linkcode StreamSink} order) and reports each
 * message's head as soon as it is complete and the whole message when its body ends.
 * Bodies are counted, never copied. It never throws on any input: framing it cannot follow
 * is reported through `onProblem`, and the parser resynchronises on the next line that
 * looks like a start line (`METHOD SP target SP HTTP/1.x` or `HTTP/1.x NNN`).
 *
 * Framing follows RFC 9112 §6: Transfer-Encoding chunked, then Content-Length, then (for
 * responses) read until the stream ends. Responses to HEAD, 1xx, 204 and 304 have no body;
 * 1xx other than 101 are interim and skipped; after 101 (or a 2xx to CONNECT) the stream is
 * no longer HTTP and the parser stops. A gap inside a known-length body is counted as body
 * bytes, so a large response captured only in part still gets its full size.
 *
 * @module
 */
import { type HeaderField, HTTP_METHODS } from "../http/headers.ts";

/** How a message's body is delimited. */
export type BodyFraming = "none" | "length" | "chunked" | "close";

/** What the two message kinds share. */
export interface Http1MessageBase {
  /** "1.1" or "1.0" (the digits after `HTTP/`). */
  version: string;
  /** Header fields in the order received. */
  headers: HeaderField[];
  /** Trailer fields of a chunked body, in order. */
  trailers: HeaderField[];
  /** How the body is delimited. */
  framing: BodyFraming;
  /** Decoded body length: bytes seen plus bytes known to have passed in gaps. */
  bodySize: number;
  /**
   * False when the end was not seen where framing put it (framing lost in a gap, bad
   * framing headers, or the stream ended early); `bodySize` is then not exact.
   */
  complete: boolean;
  /** Monotonic time of the piece that held the first byte of the start line. */
  firstByteMonoNs: bigint;
  /** Monotonic time of the piece that held the last byte of the message. */
  lastByteMonoNs: bigint;
  /** Thread that read or wrote the first byte. */
  tid: number;
}

/** A request. */
export interface Http1Request extends Http1MessageBase {
  /** Discriminant. */
  kind: "request";
  /** Request method, as sent (`GET`). */
  method: string;
  /** Request target, as sent (`/p?q`, `http://h/p`, `h:443`, `*`). */
  target: string;
}

/** A final response (interim 1xx other than 101 are not reported). */
export interface Http1Response extends Http1MessageBase {
  /** Discriminant. */
  kind: "response";
  /** Status code, 100-599. */
  status: number;
  /** Reason phrase (may be empty). */
  reason: string;
}

/** Either message kind. */
export type Http1Message = Http1Request | Http1Response;

/** What went wrong, for counting. */
export type Http1Problem =
  | "bad-start-line"
  | "headers-too-large"
  | "bad-content-length"
  | "bad-transfer-encoding"
  | "bad-chunk"
  | "gap-in-headers"
  | "gap-in-framing";

/** Options for {@linkcode Http1Parser}. */
export interface Http1ParserOptions<M extends Http1Message> {
  /** Called when a message's head is complete, before any of its body. */
  onHead?(message: M): void;
  /** Called when a message is complete (the same object `onHead` was given). */
  onMessage(message: M): void;
  /** Called for each problem; the parser carries on. */
  onProblem?(problem: Http1Problem): void;
  /**
   * Responses only: the method of the request the next final response answers, asked when
   * its head is complete. Needed because responses to HEAD have no body and a 2xx to
   * CONNECT starts a tunnel. Default: unknown (treated as neither).
   */
  requestMethod?(): string | undefined;
  /** Most bytes of a start line plus header block, or of a trailer block. Default 64 KiB. */
  maxHeaderBytes?: number;
  /**
   * Responses only: whether the header fields of a response with this status are kept
   * for its `headers`; a response whose are not has none. Default: every response's.
   */
  keepFields?(status: number): boolean;
}

const CRLF = new Uint8Array([13, 10]);

const S_START = 0; // at a message boundary
const S_RESYNC = 1; // looking for a start line at a line start
const S_HEAD = 2; // start line and header fields
const S_BODY = 3; // Content-Length body
const S_CHUNK_SIZE = 4;
const S_CHUNK_DATA = 5;
const S_CHUNK_END = 6; // CRLF after chunk data
const S_TRAILERS = 7;
const S_CLOSE = 8; // body until the stream ends
const S_STOPPED = 9; // no longer HTTP/1 (after 101, CONNECT)

const CR = 13;
const LF = 10;
const SP = 32;
const MAX_CHUNK_LINE = 4096;

const LATIN1 = new TextDecoder("latin1");
const UTF8 = new TextDecoder();

/**
 * Header bytes as text, one character per byte (ISO-8859-1, as RFC 9110 §5.5 reads field
 * values). Header blocks are nearly always ASCII, for which the UTF-8 decoder gives the
 * same string several times faster; anything else is decoded again as Latin-1.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  const text = UTF8.decode(bytes);
  // Pure ASCII decodes to one code unit per byte and no replacement characters.
  if (text.length === bytes.length && text.indexOf("\uFFFD") < 0) return text;
  return LATIN1.decode(bytes);
}

/** `bytes[from, to)` as text, one character per byte (as {@linkcode decodeLatin1}). */
function latin1(bytes: Uint8Array, from: number, to: number): string {
  // Short runs (a version, a reason phrase, a framing field's value) are read in place:
  // a decoder's call costs more than the loop.
  let text = "";
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    // The decoder's "latin1" is windows-1252, which differs above 0x7f.
    if (c > 0x7f || to - from > 64) return LATIN1.decode(bytes.subarray(from, to));
    text += String.fromCharCode(c);
  }
  return text;
}

/** `b[at, at + lower.length)` equals `lower` (a lower-case ASCII token) ignoring ASCII case. */
function equalsLowerBytes(b: Uint8Array, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = b[at + i]!;
    const want = lower.charCodeAt(i);
    if (c !== want && (c < 65 || c > 90 || c + 32 !== want)) return false;
  }
  return true;
}

/** `b[from, to)` as text without leading and trailing spaces and tabs (HTTP's OWS). */
function owsLatin1(b: Uint8Array, from: number, to: number): string {
  while (from < to && (b[from] === SP || b[from] === 9)) from++;
  while (to > from && (b[to - 1] === SP || b[to - 1] === 9)) to--;
  return latin1(b, from, to);
}

/** `text[from, to)` without leading and trailing spaces and tabs (HTTP's OWS). */
function owsSlice(text: string, from: number, to: number): string {
  let c = text.charCodeAt(from);
  while (from < to && (c === SP || c === 9)) c = text.charCodeAt(++from);
  c = text.charCodeAt(to - 1);
  while (to > from && (c === SP || c === 9)) c = text.charCodeAt(--to - 1);
  return text.slice(from, to);
}

/**
 * Parses one direction's HTTP/1.x messages from bytes and gaps.
 *
 * @example
 * ```ts
 * import { Http1Parser, type Http1Request } from "./framer.ts";
 * const got: Http1Request[] = [];
 * const p = new Http1Parser("request", { onMessage: (m) => got.push(m) });
 * const bytes = new TextEncoder().encode("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel");
 * p.data(bytes, 1n, 7);
 * p.data(new TextEncoder().encode("lo"), 2n, 7);
 * // got[0]: method "POST", target "/a", bodySize 5, firstByteMonoNs 1n, lastByteMonoNs 2n
 * ```
 */
export class Http1Parser<K extends "request" | "response"> {
  /** Which messages this parser reads. */
  readonly kind: K;
  /** Problems seen so far. */
  problems = 0;
  readonly #opts: Http1ParserOptions<MessageOf<K>>;
  readonly #maxHeader: number;

  #state: number = S_START;
  /** RESYNC: the next byte starts a line. */
  #atLineStart = true;
  /** HEAD entered from RESYNC: a bad start line is not a new problem. */
  #probing = false;
  /** The message being read (after its head). */
  #msg: MessageOf<K> | null = null;
  /** Body or chunk bytes still to come. */
  #remaining = 0;
  /** CHUNK_END: a CR has been seen. */
  #sawCR = false;
  /** Stop after the current message (101, CONNECT). */
  #stopAfter = false;

  // Block (head or trailers) spanning pieces: bytes so far, and the current line's state.
  #buf = new Uint8Array(0);
  #bufLen = 0;
  #lineLen = 0;
  #prevByte = 0;
  #firstLineDone = false;
  #headMonoNs = 0n;
  #headTid = 0;
  /** The head's `Content-Length` and `Transfer-Encoding` values so far (repeats joined). */
  #contentLength: string | undefined;
  #transferEncoding: string | undefined;

  /** Makes a parser for `kind` messages. */
  constructor(kind: K, options: Http1ParserOptions<MessageOf<K>>) {
    this.kind = kind;
    this.#opts = options;
    this.#maxHeader = options.maxHeaderBytes ?? 65536;
  }

  /** True once the stream has stopped being HTTP/1 (after 101 or a CONNECT tunnel). */
  get stopped(): boolean {
    return this.#state === S_STOPPED;
  }

  /** First-byte time of the message in progress; undefined between messages. */
  get inProgressSince(): bigint | undefined {
    if (this.#state === S_START || this.#state === S_STOPPED) return undefined;
    return this.#msg?.firstByteMonoNs ?? this.#headMonoNs;
  }

  /** Treats the rest of the stream as not HTTP/1 (the other direction saw an upgrade). */
  stop(): void {
    this.#state = S_STOPPED;
    this.#msg = null;
    this.#bufLen = 0;
  }

  /**
   * Stops after the message being read (a request asking to switch protocols: what follows
   * it is the new protocol's if the answer is 101).
   */
  stopAfterMessage(): void {
    this.#stopAfter = true;
  }

  /** Undoes {@linkcode stopAfterMessage} (the switch was refused): the next byte starts a message. */
  resume(): void {
    if (this.#state === S_STOPPED) this.#state = S_START;
    this.#stopAfter = false;
  }

  /** Forgets everything; the next byte starts a message. */
  reset(): void {
    this.#state = S_START;
    this.#msg = null;
    this.#bufLen = 0;
    this.#stopAfter = false;
  }

  /**
   * Consumes contiguous bytes of the stream. `bytes` is not kept. Returns how many were
   * HTTP/1: all of them, or fewer when the stream stopped being HTTP/1 within them (after a
   * 101's head, or a request told to stop after it).
   */
  data(bytes: Uint8Array, monoNs: bigint, tid = 0): number {
    const n = bytes.length;
    let i = 0;
    // A piece usually starts a call, and a call often starts a message: worth a look.
    if (this.#state === S_RESYNC) this.#atLineStart = true;
    while (i < n) {
      switch (this.#state) {
        case S_START: {
          let b = bytes[i]!;
          while (b === CR || b === LF) {
            if (++i === n) return n;
            b = bytes[i]!;
          }
          if (!this.#plausibleFirstByte(b)) {
            this.#problem("bad-start-line");
            this.#state = S_RESYNC;
            this.#atLineStart = false;
            break;
          }
          this.#beginHead(monoNs, tid, false);
          break;
        }
        case S_RESYNC: {
          if (this.#atLineStart) {
            const b = bytes[i]!;
            if (b === CR || b === LF) {
              i++;
              break;
            }
            if (this.#plausibleFirstByte(b)) {
              this.#beginHead(monoNs, tid, true);
              break;
            }
            this.#atLineStart = false;
          }
          const lf = findLF(bytes, i);
          if (this.kind === "response") {
            // A status line may follow a body without a line break ("...}HTTP/1.1 200 OK").
            const h = findHttp1(bytes, i, lf < 0 ? n : lf);
            if (h >= 0) {
              i = h;
              this.#atLineStart = true;
              break;
            }
          }
          if (lf < 0) return n;
          i = lf + 1;
          this.#atLineStart = true;
          break;
        }
        case S_HEAD:
        case S_TRAILERS:
          i = this.#scanBlock(bytes, i, monoNs);
          break;
        case S_BODY:
          i += this.#takeBody(n - i, monoNs);
          if (this.#remaining === 0) this.#finish(true);
          break;
        case S_CHUNK_SIZE:
          i = this.#scanChunkSize(bytes, i, monoNs);
          break;
        case S_CHUNK_DATA:
          i += this.#takeBody(n - i, monoNs);
          if (this.#remaining === 0) {
            this.#state = S_CHUNK_END;
            this.#sawCR = false;
          }
          break;
        case S_CHUNK_END: {
          const b = bytes[i]!;
          if (b === CR && !this.#sawCR) {
            this.#sawCR = true;
            i++;
          } else if (b === LF) {
            i++;
            this.#state = S_CHUNK_SIZE;
            this.#bufLen = 0;
          } else {
            this.#problem("bad-chunk");
            this.#framingLost(0, monoNs, false);
          }
          break;
        }
        case S_CLOSE: {
          const msg = this.#msg!;
          msg.bodySize += n - i;
          msg.lastByteMonoNs = monoNs;
          i = n;
          break;
        }
        default: // S_STOPPED
          return i;
      }
    }
    return n;
  }

  /**
   * Consumes `size` bytes that passed in the stream but were not seen: `lost` (records that
   * never came), or not (the capture kept only a call's first bytes).
   */
  gap(size: number, monoNs: bigint, lost = true): void {
    switch (this.#state) {
      case S_START:
      case S_RESYNC:
        this.#state = S_RESYNC;
        this.#atLineStart = true;
        return;
      case S_HEAD:
        if (!lost && this.#firstLineDone) {
          this.#truncatedHead(monoNs);
          return;
        }
        if (!this.#probing) this.#problem("gap-in-headers");
        this.#bufLen = 0;
        this.#state = S_RESYNC;
        this.#atLineStart = true;
        return;
      case S_TRAILERS:
        // The body is known in full; only trailers are lost.
        this.#msg!.lastByteMonoNs = monoNs;
        this.#finish(true);
        this.#resyncIfIdle(true);
        return;
      case S_BODY: {
        const msg = this.#msg!;
        msg.lastByteMonoNs = monoNs;
        if (size < this.#remaining) {
          msg.bodySize += size;
          this.#remaining -= size;
          return;
        }
        msg.bodySize += this.#remaining;
        const over = size - this.#remaining;
        this.#remaining = 0;
        this.#finish(true);
        if (over > 0) this.#resyncIfIdle(true);
        return;
      }
      case S_CHUNK_DATA: {
        const msg = this.#msg!;
        msg.lastByteMonoNs = monoNs;
        if (size <= this.#remaining) {
          msg.bodySize += size;
          this.#remaining -= size;
          if (this.#remaining === 0) {
            this.#state = S_CHUNK_END;
            this.#sawCR = false;
          }
          return;
        }
        this.#problem("gap-in-framing");
        this.#framingLost(size, monoNs, true);
        return;
      }
      case S_CHUNK_SIZE:
      case S_CHUNK_END:
        this.#problem("gap-in-framing");
        this.#framingLost(size, monoNs, true);
        return;
      case S_CLOSE: {
        const msg = this.#msg!;
        msg.bodySize += size;
        msg.lastByteMonoNs = monoNs;
        return;
      }
      default: // S_STOPPED
        return;
    }
  }

  /**
   * The stream has ended (connection gone, or end of the run): a body read until close is
   * complete; a message cut short is reported with `complete: false`; a partial head is
   * dropped. The parser is then ready for a new stream.
   */
  end(): void {
    const msg = this.#msg;
    if (msg !== null) {
      if (this.#state === S_CLOSE) {
        this.#finish(true);
      } else if (this.#state !== S_HEAD && this.#state !== S_STOPPED) {
        this.#finish(false);
      }
    }
    this.reset();
  }

  /** Counts up to `available` body bytes (of a Content-Length body or a chunk); returns how many. */
  #takeBody(available: number, monoNs: bigint): number {
    const msg = this.#msg!;
    const take = Math.min(this.#remaining, available);
    msg.bodySize += take;
    msg.lastByteMonoNs = monoNs;
    this.#remaining -= take;
    return take;
  }

  #problem(p: Http1Problem): void {
    this.problems++;
    this.#opts.onProblem?.(p);
  }

  #plausibleFirstByte(b: number): boolean {
    return this.kind === "request" ? b >= 65 && b <= 90 : b === 72; // A-Z | 'H'
  }

  #beginHead(monoNs: bigint, tid: number, probing: boolean): void {
    this.#state = S_HEAD;
    this.#probing = probing;
    this.#bufLen = 0;
    this.#lineLen = 0;
    this.#prevByte = 0;
    this.#firstLineDone = false;
    this.#headMonoNs = monoNs;
    this.#headTid = tid;
    this.#contentLength = undefined;
    this.#transferEncoding = undefined;
  }

  /**
   * Scans a head or trailer block from `i` for the empty line that ends it. Returns where
   * to go on. Bytes of a block that spans pieces are copied into `#buf`.
   */
  #scanBlock(bytes: Uint8Array, i: number, monoNs: bigint): number {
    const n = bytes.length;
    let seg = i; // first byte of this piece not yet copied into #buf
    let p = i;
    for (;;) {
      const lf = findLF(bytes, p);
      if (lf < 0) {
        if (this.#bufLen + (n - seg) > this.#maxHeader) return this.#tooLarge(n, false);
        this.#lineLen += n - p;
        this.#prevByte = bytes[n - 1]!;
        this.#append(bytes, seg, n);
        return n;
      }
      const lineLen = this.#lineLen + (lf - p);
      const prev = lf > p ? bytes[lf - 1]! : this.#prevByte;
      if (!this.#firstLineDone && this.#state === S_HEAD) {
        this.#firstLineDone = true;
        let ok: boolean;
        if (this.#bufLen === 0) {
          ok = this.#validStartLine(bytes, seg, lf);
        } else {
          this.#append(bytes, seg, lf + 1);
          seg = lf + 1;
          ok = this.#validStartLine(this.#buf, 0, this.#bufLen - 1);
        }
        if (!ok) {
          if (!this.#probing) this.#problem("bad-start-line");
          this.#bufLen = 0;
          this.#state = S_RESYNC;
          this.#atLineStart = true;
          return lf + 1;
        }
      } else if (lineLen === 0 || (lineLen === 1 && prev === CR)) {
        const end = lf + 1;
        if (this.#bufLen + (end - seg) > this.#maxHeader) return this.#tooLarge(end, true);
        let block: Uint8Array;
        if (this.#bufLen > 0) {
          this.#append(bytes, seg, end);
          block = this.#buf.subarray(0, this.#bufLen);
          if (this.#state === S_HEAD) this.#framingOf(block); // its lines came in pieces
        } else {
          block = bytes.subarray(seg, end);
        }
        this.#bufLen = 0;
        if (this.#state === S_HEAD) this.#headComplete(block, monoNs);
        else this.#trailersComplete(block, monoNs);
        return end;
      } else if (this.#state === S_HEAD && this.#lineLen === 0) {
        // A field line whole in this piece: the framing fields are noted as the head is
        // scanned (a head in pieces is read again once whole).
        this.#framingLine(bytes, p, prev === CR ? lf - 1 : lf);
      }
      this.#lineLen = 0;
      p = lf + 1;
    }
  }

  /**
   * A head whose rest the capture did not keep (a call larger than `--capture-bytes`, a head
   * of 16 KiB or more): the message is made of its start line and the fields seen whole,
   * then the stream resynchronises, as where its body begins is not known.
   */
  #truncatedHead(monoNs: bigint): void {
    this.#bufLen -= this.#lineLen; // the field the gap cut
    this.#append(CRLF, 0, 2);
    const block = this.#buf.subarray(0, this.#bufLen);
    this.#bufLen = 0;
    this.#framingOf(block);
    this.#headComplete(block, monoNs);
    if (this.#msg !== null) this.#finish(false);
    this.#resyncIfIdle(true);
  }

  #tooLarge(resumeAt: number, atLineStart: boolean): number {
    this.#problem("headers-too-large");
    this.#bufLen = 0;
    if (this.#state === S_TRAILERS) {
      // The body was complete; only the trailers are unreadable.
      this.#finish(true);
    }
    this.#state = S_RESYNC;
    this.#atLineStart = atLineStart;
    return resumeAt;
  }

  #append(bytes: Uint8Array, from: number, to: number): void {
    const len = to - from;
    if (len <= 0) return;
    const need = this.#bufLen + len;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2, 256));
      grown.set(this.#buf.subarray(0, this.#bufLen));
      this.#buf = grown;
    }
    this.#buf.set(bytes.subarray(from, to), this.#bufLen);
    this.#bufLen = need;
  }

  /** Checks `b[s, e)` (without the LF) as a request line or status line. */
  #validStartLine(b: Uint8Array, s: number, e: number): boolean {
    if (e > s && b[e - 1] === CR) e--;
    if (this.kind === "request") {
      let j = s;
      while (j < e && j - s <= 32) {
        const c = b[j]!;
        if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95)) break;
        j++;
      }
      if (j === s || j - s > 32 || b[j] !== SP) return false;
      const t = j + 1;
      const v = e - 8; // "HTTP/1.x"
      if (v - 1 <= t || b[v - 1] !== SP || !isHttp1Version(b, v)) return false;
      for (let k = t; k < v - 1; k++) {
        const c = b[k]!;
        if (c <= SP || c === 127) return false;
      }
      return true;
    }
    // HTTP/1.x NNN[ reason]
    if (e - s < 12 || !isHttp1Version(b, s) || b[s + 8] !== SP) return false;
    if (b[s + 9]! < 49 || b[s + 9]! > 53) return false; // 100..599 (RFC 9110 §15)
    for (let k = s + 10; k < s + 12; k++) {
      const c = b[k]!;
      if (c < 48 || c > 57) return false;
    }
    return e - s === 12 || b[s + 12] === SP;
  }

  #headComplete(block: Uint8Array, monoNs: bigint): void {
    let lineEnd = findLF(block, 0);
    const fieldsFrom = lineEnd + 1;
    if (lineEnd > 0 && block[lineEnd - 1] === CR) lineEnd--;
    // Only the framing fields now (found while scanning); the others when asked for.
    const contentLength = this.#contentLength;
    const transferEncoding = this.#transferEncoding;

    let framing: BodyFraming;
    let length = 0;
    let bad: Http1Problem | undefined;
    let msg: Http1Message;
    if (this.kind === "request") {
      const text = decodeLatin1(block);
      const startLine = text.slice(0, lineEnd);
      const sp1 = startLine.indexOf(" ");
      const sp2 = startLine.lastIndexOf(" ");
      msg = new RequestMessage(
        startLine.slice(0, sp1),
        startLine.slice(sp1 + 1, sp2),
        startLine.slice(sp2 + 6),
        text,
        fieldsFrom,
        this.#headMonoNs,
        monoNs,
        this.#headTid,
      );
      if (transferEncoding !== undefined) {
        if (isChunked(transferEncoding)) framing = "chunked";
        else {
          framing = "none";
          bad = "bad-transfer-encoding";
        }
      } else if (contentLength !== undefined) {
        ({ framing, length, bad } = lengthFraming(contentLength));
      } else framing = "none";
    } else {
      // "HTTP/1.d NNN[ reason]", as #validStartLine found it.
      const status = (block[9]! - 48) * 100 + (block[10]! - 48) * 10 + block[11]! - 48;
      if (status >= 100 && status < 200 && status !== 101) {
        this.#state = S_START; // interim response
        return;
      }
      // Decoding a head costs more than the rest of reading it: only for whoever reads its
      // fields (an upgrade's answer, say).
      const keep = this.#opts.keepFields?.(status) ?? true;
      msg = new ResponseMessage(
        status,
        latin1(block, 13, lineEnd),
        latin1(block, 5, 8),
        keep ? decodeLatin1(block) : "",
        keep ? fieldsFrom : 0,
        this.#headMonoNs,
        monoNs,
        this.#headTid,
      );
      const method = this.#opts.requestMethod?.();
      if (status === 101 || (method === "CONNECT" && status >= 200 && status < 300)) {
        framing = "none";
        this.#stopAfter = true;
      } else if (method === "HEAD" || status === 204 || status === 304) {
        framing = "none";
      } else if (transferEncoding !== undefined) {
        framing = isChunked(transferEncoding) ? "chunked" : "close";
      } else if (contentLength !== undefined) {
        ({ framing, length, bad } = lengthFraming(contentLength));
      } else framing = "close";
    }
    msg.framing = framing;
    const m = msg as MessageOf<K>;
    this.#msg = m;
    this.#opts.onHead?.(m);
    if (this.#msg !== m) return; // the callback reset or stopped us

    if (bad !== undefined) {
      // The head is real but its body cannot be delimited: report it, then look for the
      // next message.
      this.#problem(bad);
      this.#finish(false);
      this.#resyncIfIdle(true);
      return;
    }
    switch (framing) {
      case "length":
        if (length === 0) this.#finish(true);
        else {
          this.#remaining = length;
          this.#state = S_BODY;
        }
        return;
      case "chunked":
        this.#state = S_CHUNK_SIZE;
        this.#bufLen = 0;
        return;
      case "close":
        this.#state = S_CLOSE;
        return;
      default:
        this.#finish(true);
    }
  }

  /** Notes the field line `b[pos, e)` (without its line end) if it is a framing field. */
  #framingLine(b: Uint8Array, pos: number, e: number): void {
    // The names start with "c" and "t"; a line starting with OWS is an obs-fold.
    const first = b[pos]! | 0x20;
    if (first !== 99 && first !== 116) return;
    let colon = pos;
    while (colon < e && b[colon] !== 58) colon++;
    if (colon === e) return;
    let end = colon; // the name without trailing OWS (a line starts with none)
    while (end > pos && (b[end - 1] === SP || b[end - 1] === 9)) end--;
    if (end - pos === 14 && equalsLowerBytes(b, pos, "content-length")) {
      const value = owsLatin1(b, colon + 1, e);
      const seen = this.#contentLength;
      this.#contentLength = seen === undefined ? value : `${seen},${value}`;
    } else if (end - pos === 17 && equalsLowerBytes(b, pos, "transfer-encoding")) {
      const value = owsLatin1(b, colon + 1, e);
      const seen = this.#transferEncoding;
      this.#transferEncoding = seen === undefined ? value : `${seen},${value}`;
    }
  }

  /** Reads the framing fields of a whole head afresh. */
  #framingOf(block: Uint8Array): void {
    this.#contentLength = undefined;
    this.#transferEncoding = undefined;
    let pos = findLF(block, 0) + 1;
    while (pos < block.length) {
      let nl = findLF(block, pos);
      if (nl < 0) nl = block.length;
      const e = nl > pos && block[nl - 1] === CR ? nl - 1 : nl;
      if (e === pos) break;
      this.#framingLine(block, pos, e);
      pos = nl + 1;
    }
  }

  #trailersComplete(block: Uint8Array, monoNs: bigint): void {
    const msg = this.#msg!;
    msg.lastByteMonoNs = monoNs;
    if (block.length > 2) {
      const text = decodeLatin1(block);
      for (const raw of text.split("\n")) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        const colon = line.indexOf(":");
        if (colon > 0) {
          msg.trailers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
        }
      }
    }
    this.#finish(true);
  }

  /** Reads a chunk-size line (`HEX[;ext...]`) starting at `i`. */
  #scanChunkSize(bytes: Uint8Array, i: number, monoNs: bigint): number {
    const n = bytes.length;
    const lf = findLF(bytes, i);
    if (lf < 0) {
      if (this.#bufLen + (n - i) > MAX_CHUNK_LINE) {
        this.#problem("bad-chunk");
        this.#framingLost(0, monoNs, false);
        return n;
      }
      this.#append(bytes, i, n);
      return n;
    }
    let b: Uint8Array = bytes;
    let s = i;
    let e = lf;
    if (this.#bufLen > 0) {
      this.#append(bytes, i, lf);
      b = this.#buf;
      s = 0;
      e = this.#bufLen;
    }
    this.#bufLen = 0;
    if (e > s && b[e - 1] === CR) e--;
    let size = 0;
    let j = s;
    for (; j < e && j - s < 13; j++) {
      const d = hexValue(b[j]!);
      if (d < 0) break;
      size = size * 16 + d;
    }
    const after = j < e ? b[j]! : -1;
    if (j === s || (after !== -1 && after !== 59 && after !== SP && after !== 9)) {
      // not a hex size, or a size followed by something other than ";ext" or whitespace
      this.#problem("bad-chunk");
      this.#framingLost(0, monoNs, true);
      return lf + 1;
    }
    this.#msg!.lastByteMonoNs = monoNs;
    if (size === 0) {
      this.#state = S_TRAILERS;
      this.#lineLen = 0;
      this.#prevByte = LF;
      this.#firstLineDone = true;
    } else {
      this.#remaining = size;
      this.#state = S_CHUNK_DATA;
    }
    return lf + 1;
  }

  /**
   * Chunked framing can no longer be followed: report the message with what is known
   * (plus `extra` bytes of the gap that broke it) and resynchronise.
   */
  #framingLost(extra: number, monoNs: bigint, atLineStart: boolean): void {
    const msg = this.#msg!;
    msg.bodySize += extra;
    msg.lastByteMonoNs = monoNs;
    this.#bufLen = 0;
    this.#finish(false);
    this.#resyncIfIdle(atLineStart);
  }

  /** After a message ended where the next one cannot be trusted to start. */
  #resyncIfIdle(atLineStart: boolean): void {
    if (this.#state === S_START) {
      this.#state = S_RESYNC;
      this.#atLineStart = atLineStart;
    }
  }

  #finish(complete: boolean): void {
    const msg = this.#msg!;
    msg.complete = complete;
    this.#msg = null;
    this.#state = this.#stopAfter ? S_STOPPED : S_START;
    this.#stopAfter = false;
    this.#opts.onMessage(msg);
  }
}

/** The header fields of a head's text from `pos` on, in order, obs-folds joined. */
function parseFields(text: string, pos: number): HeaderField[] {
  const headers: HeaderField[] = [];
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const e = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    if (e === pos) break;
    const c0 = text.charCodeAt(pos);
    if (c0 === SP || c0 === 9) {
      // obs-fold: a continuation of the previous field's value
      const last = headers[headers.length - 1];
      if (last !== undefined) last[1] = `${last[1]} ${owsSlice(text, pos, e)}`;
    } else {
      const colon = text.indexOf(":", pos);
      if (colon > pos && colon < e) {
        headers.push([owsSlice(text, pos, colon), owsSlice(text, colon + 1, e)]);
      }
    }
    pos = nl + 1;
  }
  return headers;
}

/** What both message kinds share; `headers` are parsed from the head's text when first read. */
class MessageBase {
  version: string;
  trailers: HeaderField[] = [];
  framing: BodyFraming = "none";
  bodySize = 0;
  complete = true;
  firstByteMonoNs: bigint;
  lastByteMonoNs: bigint;
  tid: number;
  #text: string;
  #fieldsFrom: number;
  #headers: HeaderField[] | undefined;

  constructor(
    version: string,
    text: string,
    fieldsFrom: number,
    firstByteMonoNs: bigint,
    lastByteMonoNs: bigint,
    tid: number,
  ) {
    this.version = version;
    this.#text = text;
    this.#fieldsFrom = fieldsFrom;
    this.firstByteMonoNs = firstByteMonoNs;
    this.lastByteMonoNs = lastByteMonoNs;
    this.tid = tid;
  }

  get headers(): HeaderField[] {
    return this.#headers ??= parseFields(this.#text, this.#fieldsFrom);
  }

  set headers(fields: HeaderField[]) {
    this.#headers = fields;
  }
}

class RequestMessage extends MessageBase implements Http1Request {
  readonly kind = "request";
  method: string;
  target: string;

  constructor(
    method: string,
    target: string,
    version: string,
    text: string,
    fieldsFrom: number,
    firstByteMonoNs: bigint,
    lastByteMonoNs: bigint,
    tid: number,
  ) {
    super(version, text, fieldsFrom, firstByteMonoNs, lastByteMonoNs, tid);
    this.method = method;
    this.target = target;
  }
}

class ResponseMessage extends MessageBase implements Http1Response {
  readonly kind = "response";
  status: number;
  reason: string;

  constructor(
    status: number,
    reason: string,
    version: string,
    text: string,
    fieldsFrom: number,
    firstByteMonoNs: bigint,
    lastByteMonoNs: bigint,
    tid: number,
  ) {
    super(version, text, fieldsFrom, firstByteMonoNs, lastByteMonoNs, tid);
    this.status = status;
    this.reason = reason;
  }
}

/** The message type a parser of kind `K` produces. */
export type MessageOf<K extends "request" | "response"> = K extends "request" ? Http1Request
  : Http1Response;

/**
 * Index of the next LF at or after `from`, or -1. Header lines are short, and a plain loop
 * beats `indexOf` (a call into the runtime) over a few dozen bytes; long runs use it.
 */
function findLF(b: Uint8Array, from: number): number {
  const n = b.length;
  const stop = from + 128 < n ? from + 128 : n;
  for (let i = from; i < stop; i++) if (b[i] === LF) return i;
  return stop === n ? -1 : b.indexOf(LF, stop);
}

/** Index of the first "HTTP/1." starting in `b[from, to)`, or -1. */
function findHttp1(b: Uint8Array, from: number, to: number): number {
  const last = Math.min(to, b.length - 7);
  for (let k = from; k < last; k++) {
    if (
      b[k] === 72 && b[k + 1] === 84 && b[k + 2] === 84 && b[k + 3] === 80 &&
      b[k + 4] === 47 && b[k + 5] === 49 && b[k + 6] === 46
    ) return k;
  }
  return -1;
}

/** "HTTP/1.d" at `b[at]`. */
function isHttp1Version(b: Uint8Array, at: number): boolean {
  return b[at] === 72 && b[at + 1] === 84 && b[at + 2] === 84 && b[at + 3] === 80 &&
    b[at + 4] === 47 && b[at + 5] === 49 && b[at + 6] === 46 &&
    b[at + 7]! >= 48 && b[at + 7]! <= 57;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** True when the last transfer coding is `chunked`. */
function isChunked(te: string): boolean {
  const comma = te.lastIndexOf(",");
  return te.slice(comma + 1).trim().toLowerCase() === "chunked";
}

/**
 * Parses a Content-Length value; repeated values ("5, 5", or several fields joined by
 * commas) must agree. Returns -1 when invalid.
 */
export function parseContentLength(value: string): number {
  let result = -1;
  let from = 0;
  while (from <= value.length) {
    let to = value.indexOf(",", from);
    if (to < 0) to = value.length;
    let a = from;
    let b = to;
    while (a < b && (value.charCodeAt(a) === SP || value.charCodeAt(a) === 9)) a++;
    while (b > a && (value.charCodeAt(b - 1) === SP || value.charCodeAt(b - 1) === 9)) b--;
    if (a === b || b - a > 15) return -1;
    let n = 0;
    for (let i = a; i < b; i++) {
      const d = value.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    if (result !== -1 && n !== result) return -1;
    result = n;
    from = to + 1;
  }
  return result;
}

/** Framing by a Content-Length value: its length, or no body and a problem if it is bad. */
function lengthFraming(
  value: string,
): { framing: BodyFraming; length: number; bad: Http1Problem | undefined } {
  const length = parseContentLength(value);
  return length < 0
    ? { framing: "none", length: 0, bad: "bad-content-length" }
    : { framing: "length", length, bad: undefined };
}

/** Methods a request stream may open with: the above and WebDAV's and caches'. */
const SNIFFED_METHODS = new Set([
  ...HTTP_METHODS,
  ..."PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH REPORT PURGE".split(" "),
]);

/**
 * Guesses from the first bytes of a direction whether it carries HTTP/1 requests, HTTP/1
 * responses, or something else. "more" means not enough bytes yet.
 */
export function sniffHttp1(b: Uint8Array): "request" | "response" | "no" | "more" {
  let i = 0;
  while (i < b.length && (b[i] === CR || b[i] === LF)) i++;
  if (i === b.length) return "more";
  if (b[i] === 72 && (i + 1 === b.length || b[i + 1] === 84)) {
    const want = "HTTP/1.";
    for (let k = 0; k < want.length; k++) {
      if (i + k === b.length) return "more";
      if (b[i + k] !== want.charCodeAt(k)) return "no";
    }
    return "response";
  }
  let j = i;
  while (j < b.length && j - i <= 10 && b[j]! >= 65 && b[j]! <= 90) j++;
  if (j === b.length && j - i <= 10) return "more";
  if (b[j] !== SP || j === i) return "no";
  return SNIFFED_METHODS.has(String.fromCharCode(...b.subarray(i, j))) ? "request" : "no";
}
