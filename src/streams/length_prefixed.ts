/**
 * Splits one direction of a stream into length-prefixed messages -- the framing PostgreSQL
 * (type byte, big-endian length) and MySQL (little-endian length, sequence number) share.
 * What a header looks like is the protocol's {@linkcode FrameFormat}; the framer does the
 * rest: headers and bodies split across pieces, a kept prefix of each body, gaps inside a
 * body (the message is truncated) or across a header (framing is lost: wait for a piece
 * that starts plausibly), and payloads continued over several physical packets.
 *
 * @module
 */

/** One framed message. */
export interface Frame {
  /** Message type (PostgreSQL's type byte; 0 when the format has none). */
  type: number;
  /** Sequence number (MySQL's; 0 when the format has none). */
  seq: number;
  /** Body length from the header(s). */
  length: number;
  /** Body bytes kept, at most the header's `keep`; valid until the next message. */
  body: Uint8Array;
  /** Some of the body was not seen or not kept. */
  truncated: boolean;
  /** True for a message the format took whole from one byte ({@linkcode FrameFormat.start}). */
  single: boolean;
  /** Time and thread of the piece the header began in. */
  monoNs: bigint;
  tid: number;
  /** Time of the piece the message ended in. */
  endMonoNs: bigint;
}

/** A decoded header. */
export interface FrameHead {
  type: number;
  seq: number;
  /** Body length. */
  length: number;
  /** Most body bytes to keep. */
  keep: number;
  /** The payload goes on in the next physical packet (MySQL's 2^24-1 length). */
  continues: boolean;
}

/** What one protocol's headers look like. */
export interface FrameFormat {
  /** Bytes of the next header. */
  headerSize(): number;
  /**
   * A header begins with `byte`: true when that byte is a whole message by itself (the
   * format reports it), false to read a header as usual.
   */
  start?(byte: number, monoNs: bigint, tid: number): boolean;
  /**
   * Decodes a complete header (`monoNs`/`tid`: where it began). `null`: not a header (the
   * format has said what is wrong; the framer resynchronises). `"single"`: its first byte
   * was a whole message by itself (reported by the format): the rest is read again.
   */
  decode(header: Uint8Array, monoNs: bigint, tid: number): FrameHead | null | "single";
  /** Whether a piece may begin with a header, to resynchronise on. */
  plausible(bytes: Uint8Array): boolean;
  /** Framing was lost: the next header is awaited in a fresh piece. */
  onResync?(): void;
  /** The stream starts afresh. */
  onReset?(): void;
}

const HEADER = 0;
const BODY = 1;
const RESYNC = 2;
const STOPPED = 3;

/** Longest header a format may use. */
const MAX_HEADER = 16;

/**
 * One direction's framer.
 *
 * @example
 * ```ts
 * import { type Frame, LengthPrefixedFramer } from "./length_prefixed.ts";
 * const frames: Frame[] = [];
 * const framer = new LengthPrefixedFramer({
 *   headerSize: () => 2,
 *   decode: (h) => ({ type: 0, seq: 0, length: h[0]! << 8 | h[1]!, keep: 64, continues: false }),
 *   plausible: () => true,
 * }, { onMessage: (f) => frames.push({ ...f, body: f.body.slice() }), onLostFraming: () => {} });
 * framer.data(Uint8Array.of(0, 3, 65, 66), 1n, 7);
 * framer.data(Uint8Array.of(67), 2n, 7);
 * // frames[0]: length 3, body "ABC", monoNs 1n, endMonoNs 2n
 * ```
 */
export class LengthPrefixedFramer {
  readonly #format: FrameFormat;
  readonly #onMessage: (frame: Frame) => void;
  readonly #onLostFraming: () => void;
  #state: number = HEADER;
  #hdr = new Uint8Array(MAX_HEADER);
  #hdrLen = 0;
  #frame: Frame | null = null;
  #buf = new Uint8Array(0);
  #bufLen = 0;
  #keep = 0;
  #remaining = 0;
  #continues = false;
  #hdrMonoNs = 0n;
  #hdrTid = 0;

  /** Makes a framer for `format`, reporting messages and lost framing. */
  constructor(
    format: FrameFormat,
    sink: { onMessage(frame: Frame): void; onLostFraming(): void },
  ) {
    this.#format = format;
    this.#onMessage = sink.onMessage;
    this.#onLostFraming = sink.onLostFraming;
  }

  /** Nothing more is parsed (encryption began, say). */
  get stopped(): boolean {
    return this.#state === STOPPED;
  }

  /** Waiting for a piece that starts with a header. */
  get resyncing(): boolean {
    return this.#state === RESYNC;
  }

  /** Parses nothing more. */
  stop(): void {
    this.#state = STOPPED;
    this.#frame = null;
  }

  /** Looks for a header at the start of the next piece. */
  resync(): void {
    if (this.#state === STOPPED) return;
    this.#state = RESYNC;
    this.#frame = null;
    this.#hdrLen = 0;
    this.#continues = false;
    this.#format.onResync?.();
  }

  /** Starts afresh, a header expected next. */
  reset(): void {
    this.#state = HEADER;
    this.#frame = null;
    this.#hdrLen = 0;
    this.#continues = false;
    this.#format.onReset?.();
  }

  /** Contiguous bytes of the direction. */
  data(bytes: Uint8Array, monoNs: bigint, tid: number): void {
    const n = bytes.length;
    let i = 0;
    if (this.#state === RESYNC) {
      if (!this.#format.plausible(bytes)) return;
      this.#state = HEADER;
    }
    while (i < n) {
      if (this.#state === HEADER) {
        if (this.#hdrLen === 0) {
          this.#hdrMonoNs = monoNs;
          this.#hdrTid = tid;
          if (this.#format.start?.(bytes[i]!, monoNs, tid)) {
            i++;
            continue;
          }
        }
        const want = this.#format.headerSize();
        while (this.#hdrLen < want && i < n) this.#hdr[this.#hdrLen++] = bytes[i++]!;
        if (this.#hdrLen < want) return;
        this.#header(want, monoNs, tid);
        if (this.resyncing || this.stopped) return;
        continue;
      }
      if (this.#state === BODY) {
        const take = Math.min(this.#remaining, n - i);
        const room = Math.min(take, this.#keep - this.#bufLen);
        if (room > 0) {
          this.#buf.set(bytes.subarray(i, i + room), this.#bufLen);
          this.#bufLen += room;
        }
        i += take;
        this.#remaining -= take;
        this.#frame!.endMonoNs = monoNs;
        if (this.#remaining === 0) this.#finishPart();
        continue;
      }
      return; // RESYNC (after a bad header) or STOPPED
    }
  }

  /** `size` bytes of the direction will never be seen. */
  gap(size: number, monoNs: bigint): void {
    if (this.#state === HEADER) {
      if (this.#hdrLen === 0 && size === 0) return;
      this.#onLostFraming();
      this.resync();
      return;
    }
    if (this.#state !== BODY) return;
    const frame = this.#frame!;
    frame.truncated = true;
    frame.endMonoNs = monoNs;
    if (size <= this.#remaining) {
      this.#remaining -= size;
      if (this.#remaining === 0) this.#finishPart();
      return;
    }
    this.#remaining = 0;
    this.#continues = false;
    this.#finishPart();
    this.#onLostFraming();
    this.resync();
  }

  #header(size: number, monoNs: bigint, tid: number): void {
    const head = this.#format.decode(this.#hdr.subarray(0, size), this.#hdrMonoNs, this.#hdrTid);
    this.#hdrLen = 0;
    if (head === "single") {
      // The first byte was a message by itself: what followed it starts the next header.
      this.data(this.#hdr.slice(1, size), monoNs, tid);
      return;
    }
    if (head === null) {
      this.resync();
      return;
    }
    if (this.#frame === null) {
      const keep = head.keep;
      if (this.#buf.length < keep) this.#buf = new Uint8Array(Math.max(keep, 256));
      this.#keep = keep;
      this.#bufLen = 0;
      this.#frame = {
        type: head.type,
        seq: head.seq,
        length: 0,
        body: this.#buf,
        truncated: false,
        single: false,
        monoNs: this.#hdrMonoNs,
        tid: this.#hdrTid,
        endMonoNs: monoNs,
      };
    }
    this.#frame.length += head.length;
    this.#continues = head.continues;
    this.#remaining = head.length;
    this.#state = BODY;
    if (head.length === 0) this.#finishPart();
  }

  /** One physical message ended: the logical one too, unless it continues. */
  #finishPart(): void {
    this.#state = HEADER;
    if (this.#continues) return;
    const frame = this.#frame!;
    this.#frame = null;
    frame.body = this.#buf.subarray(0, this.#bufLen);
    if (this.#bufLen < frame.length) frame.truncated = true;
    this.#onMessage(frame);
  }
}
