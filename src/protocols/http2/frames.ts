/**
 * Splits one direction of an HTTP/2 connection into frames (RFC 9113 §4), fed reassembled
 * bytes and gaps in stream order.
 *
 * Frame payloads other than DATA are held until complete (up to a limit) and handed over
 * whole; DATA content is passed on piece by piece as it arrives, padding removed, and never
 * copied, so a large body costs nothing to follow. A gap inside a frame whose length is
 * known keeps the framing: the frame is reported lost (or, for DATA, the gap is counted as
 * content). A gap across a frame boundary, or bytes that cannot be a frame header, lose the
 * framing; the splitter then hunts for a frame header it can trust (plausible type, flags,
 * stream and length, confirmed by the header that follows it, or starting a piece of the
 * stream as writes of whole frames do) and says the frames in between are lost. It never
 * throws.
 *
 * @module
 */

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE: Uint8Array = Uint8Array.from(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  (c) => c.charCodeAt(0),
);

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

/** Frame flags (RFC 9113 §6). */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** The 9-octet frame header. */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** Receives one direction's frames. */
export interface FrameSink {
  /**
   * A whole frame other than DATA. `payload` (padding and priority fields left in) is a
   * view valid only during the call. `startNs`/`endNs`: times of its first and last bytes.
   */
  frame(h: FrameHeader, payload: Uint8Array, startNs: bigint, endNs: bigint, tid: number): void;
  /** A frame other than DATA whose payload was too large to hold or partly lost in a gap. */
  frameLost(h: FrameHeader, endNs: bigint): void;
  /**
   * DATA content: `piece` is bytes (a view valid during the call) or the size of a stretch
   * lost in a gap. Called once with an empty piece for a frame with no content.
   */
  data(h: FrameHeader, piece: Uint8Array | number, startNs: bigint, tid: number): void;
  /** A DATA frame ended (its END_STREAM flag applies now). */
  dataEnd(h: FrameHeader, startNs: bigint, endNs: bigint): void;
  /** Framing was lost: frames were missed here, of which nothing is known. */
  lost(monoNs: bigint): void;
}

/** Options for {@linkcode FrameSplitter}. */
export interface FrameSplitterOptions {
  /** Whether the direction begins with the client preface. Default false. */
  preface?: boolean;
  /** Most payload bytes of a frame other than DATA held. Default 65536 + 9. */
  maxHeldPayload?: number;
  /** Most bytes held while hunting for a frame header. Default 65536. */
  maxHuntBytes?: number;
}

type Mode = "preface" | "header" | "payload" | "data" | "hunt" | "stopped";

const HEADER_BYTES = 9;
const EMPTY = new Uint8Array(0);
/** SETTINGS_MAX_FRAME_SIZE's default: what a header found by hunting may claim. */
const HUNT_MAX_LENGTH = 16384;
/** Flags each type defines. */
const FLAGS: readonly number[] = [0x09, 0x2d, 0, 0, 0x01, 0x0c, 0x01, 0, 0, 0x04];

/**
 * One direction's frame splitter.
 *
 * @example
 * ```ts ignore
 * const s = new FrameSplitter(sink, { preface: true });
 * s.push(bytes, monoNs, tid);
 * s.gap(1200, monoNs);
 * ```
 */
export class FrameSplitter {
  readonly #sink: FrameSink;
  readonly #maxHeld: number;
  readonly #maxHunt: number;
  #mode: Mode;
  /** Preface bytes matched so far. */
  #prefaceAt = 0;
  /** The header being collected. */
  readonly #hdr = new Uint8Array(HEADER_BYTES);
  #hdrLen = 0;
  #h: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
  #startNs = 0n;
  #tid = 0;
  /** Payload bytes of the current frame still to come. */
  #left = 0;
  /** Held payload of the current frame (null when it is skipped). */
  #held: Uint8Array | null = null;
  #heldLen = 0;
  /** Whether the current frame's payload is small enough to hold. */
  #hold = false;
  /** The current frame lost part of its payload. */
  #broken = false;
  // DATA: padding state.
  #needPadLength = false;
  /** Padding bytes still to come at the end of the current DATA frame. */
  #padding = 0;
  #sawContent = false;
  // Hunting.
  #hunt: Uint8Array = new Uint8Array(0);
  /** Offsets in `#hunt` where a piece of the stream began. */
  #pieceStarts: number[] = [];
  /** Frames parsed since framing was last lost (or from the start). */
  framesParsed = 0;
  /** Times framing was lost. */
  framingLost = 0;

  /** `sink` receives the frames. */
  constructor(sink: FrameSink, options: FrameSplitterOptions = {}) {
    this.#sink = sink;
    this.#maxHeld = options.maxHeldPayload ?? 65536 + 9;
    this.#maxHunt = options.maxHuntBytes ?? 65536;
    this.#mode = options.preface ? "preface" : "header";
  }

  /** Whether framing is currently lost (hunting for a frame header). */
  get hunting(): boolean {
    return this.#mode === "hunt";
  }

  /** Stops: nothing more is parsed. */
  stop(): void {
    this.#mode = "stopped";
    this.#held = null;
    this.#hunt = new Uint8Array(0);
  }

  /** Contiguous bytes of the direction. */
  push(bytes: Uint8Array, monoNs: bigint, tid: number): void {
    let at = 0;
    while (at < bytes.length) {
      switch (this.#mode) {
        case "stopped":
          return;
        case "preface": {
          const b = bytes[at]!;
          if (b !== PREFACE[this.#prefaceAt]) {
            this.#startHunt(monoNs);
            break; // hunt from this byte
          }
          at++;
          if (++this.#prefaceAt === PREFACE.length) this.#mode = "header";
          break;
        }
        case "header": {
          if (this.#hdrLen === 0) {
            this.#startNs = monoNs;
            this.#tid = tid;
          }
          if (this.#hdrLen === 0 && bytes.length - at >= HEADER_BYTES) {
            // The whole header is here (the usual case): read in place.
            at += HEADER_BYTES;
            this.#beginFrame(readHeader(bytes, at - HEADER_BYTES), monoNs);
            break;
          }
          // (Byte by byte: a view for `set` would cost an allocation per frame.)
          while (this.#hdrLen < HEADER_BYTES && at < bytes.length) {
            this.#hdr[this.#hdrLen++] = bytes[at++]!;
          }
          if (this.#hdrLen === HEADER_BYTES) this.#beginFrame(readHeader(this.#hdr, 0), monoNs);
          break;
        }
        case "payload": {
          const take = Math.min(this.#left, bytes.length - at);
          if (this.#heldLen === 0 && take === this.#left && this.#hold && !this.#broken) {
            // The whole payload is in this piece: handed over as a view, not copied.
            at += take;
            this.#left = 0;
            this.#endFrame(monoNs, bytes.subarray(at - take, at));
            break;
          }
          if (this.#hold && this.#held === null) this.#held = new Uint8Array(this.#h.length);
          if (this.#held !== null) this.#held.set(bytes.subarray(at, at + take), this.#heldLen);
          this.#heldLen += take;
          this.#left -= take;
          at += take;
          if (this.#left === 0) this.#endFrame(monoNs);
          break;
        }
        case "data":
          at = this.#dataBytes(bytes, at, monoNs, tid);
          break;
        case "hunt":
          this.#huntBytes(bytes.subarray(at), monoNs, tid);
          return;
      }
    }
  }

  /** `size` bytes of the direction that will never be seen. */
  gap(size: number, monoNs: bigint): void {
    switch (this.#mode) {
      case "stopped":
      case "hunt":
        this.#hunt = new Uint8Array(0);
        this.#pieceStarts = [];
        return;
      case "preface":
      case "header":
        if (size === 0 && this.#hdrLen === 0 && this.#mode === "header") return;
        this.#startHunt(monoNs);
        return;
      case "payload":
        if (size >= this.#left) {
          const rest = size - this.#left;
          this.#left = 0;
          this.#broken = true;
          this.#endFrame(monoNs);
          if (rest > 0) this.#startHunt(monoNs);
        } else {
          this.#left -= size;
          this.#broken = true;
        }
        return;
      case "data": {
        let rest = size;
        if (this.#needPadLength && rest > 0) {
          // The pad length is lost: the padding will be counted as content.
          this.#needPadLength = false;
          this.#left--;
          rest--;
        }
        const content = Math.min(rest, this.#left - this.#padding);
        if (content > 0) {
          this.#sink.data(this.#h, content, monoNs, this.#tid);
          this.#sawContent = true;
        }
        const taken = Math.min(rest, this.#left);
        this.#left -= taken;
        this.#padding = Math.min(this.#padding, this.#left);
        rest -= taken;
        if (this.#left === 0) {
          this.#endData(monoNs);
          if (rest > 0) this.#startHunt(monoNs);
        }
        return;
      }
    }
  }

  #beginFrame(h: FrameHeader, monoNs: bigint): void {
    this.#hdrLen = 0;
    // A header that breaks the rules of its type means the framing was lost somewhere.
    if (!wellFormed(h)) {
      this.#startHunt(monoNs);
      return;
    }
    this.#h = h;
    this.#left = h.length;
    this.#broken = false;
    this.framesParsed++;
    if (h.type === FrameType.DATA) {
      this.#mode = "data";
      this.#padding = 0;
      this.#sawContent = false;
      // (A padded frame too short for its pad length is malformed: taken as unpadded.)
      this.#needPadLength = (h.flags & Flag.PADDED) !== 0 && h.length > 0;
      if (h.length === 0) this.#endData(monoNs);
      return;
    }
    this.#mode = "payload";
    this.#heldLen = 0;
    this.#held = null;
    this.#hold = h.length <= this.#maxHeld;
    if (h.length === 0) this.#endFrame(monoNs, EMPTY);
  }

  /** The current frame ended; `whole`: its payload, when it came in one piece. */
  #endFrame(monoNs: bigint, whole?: Uint8Array): void {
    const h = this.#h;
    this.#mode = "header";
    this.#hdrLen = 0;
    const held = whole ?? this.#held;
    this.#held = null;
    if (held === null || this.#broken) this.#sink.frameLost(h, monoNs);
    else this.#sink.frame(h, held, this.#startNs, monoNs, this.#tid);
  }

  /** DATA payload bytes from `at`; returns where it stopped. */
  #dataBytes(bytes: Uint8Array, at: number, monoNs: bigint, tid: number): number {
    if (this.#needPadLength) {
      this.#needPadLength = false;
      this.#left--;
      // More padding than payload is malformed: the rest is taken as padding.
      this.#padding = Math.min(bytes[at]!, this.#left);
      at++;
    }
    const content = Math.min(this.#left - this.#padding, bytes.length - at);
    if (content > 0) {
      this.#sink.data(this.#h, bytes.subarray(at, at + content), this.#startNs, tid);
      this.#sawContent = true;
      this.#left -= content;
      at += content;
    }
    if (this.#left === this.#padding) {
      const skip = Math.min(this.#left, bytes.length - at);
      this.#left -= skip;
      this.#padding -= skip;
      at += skip;
    }
    if (this.#left === 0) this.#endData(monoNs);
    return at;
  }

  #endData(monoNs: bigint): void {
    if (!this.#sawContent) this.#sink.data(this.#h, new Uint8Array(0), this.#startNs, this.#tid);
    this.#sink.dataEnd(this.#h, this.#startNs, monoNs);
    this.#mode = "header";
    this.#hdrLen = 0;
  }

  #startHunt(monoNs: bigint): void {
    this.framingLost++;
    this.#mode = "hunt";
    this.#held = null;
    this.#hdrLen = 0;
    this.#hunt = new Uint8Array(0);
    this.#pieceStarts = [];
    this.#sink.lost(monoNs);
  }

  /** Looks for a trustworthy frame header in the bytes held since framing was lost. */
  #huntBytes(bytes: Uint8Array, monoNs: bigint, tid: number): void {
    const held = this.#hunt;
    const buf = new Uint8Array(held.length + bytes.length);
    buf.set(held);
    buf.set(bytes, held.length);
    this.#pieceStarts.push(held.length);
    for (let i = 0; i + HEADER_BYTES <= buf.length; i++) {
      const h = readHeader(buf, i);
      if (!plausible(h)) continue;
      const next = i + HEADER_BYTES + h.length;
      const confirmed = next + HEADER_BYTES <= buf.length
        ? plausible(readHeader(buf, next))
        : this.#pieceStarts.includes(i);
      if (!confirmed) {
        // Not yet decidable here: wait for more bytes before looking further.
        if (next + HEADER_BYTES > buf.length && !this.#pieceStarts.includes(i)) {
          this.#keep(buf.subarray(i), i);
          return;
        }
        continue;
      }
      this.#mode = "header";
      this.#hunt = new Uint8Array(0);
      this.#pieceStarts = [];
      this.push(buf.subarray(i), monoNs, tid);
      return;
    }
    const from = Math.max(0, buf.length - (HEADER_BYTES - 1));
    this.#keep(buf.subarray(from), from);
  }

  /** Holds the tail of the hunt buffer that starts at `from`, bounded. */
  #keep(tail: Uint8Array, from: number): void {
    if (tail.length > this.#maxHunt) {
      tail = tail.subarray(tail.length - (HEADER_BYTES - 1));
      this.#pieceStarts = [];
    } else {
      this.#pieceStarts = this.#pieceStarts.filter((p) => p >= from).map((p) => p - from);
    }
    this.#hunt = tail.slice();
  }
}

/** Reads a frame header at `at` (9 bytes must be there). */
export function readHeader(b: Uint8Array, at: number): FrameHeader {
  return {
    length: (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!,
    type: b[at + 3]!,
    flags: b[at + 4]!,
    streamId: ((b[at + 5]! << 24) | (b[at + 6]! << 16) | (b[at + 7]! << 8) | b[at + 8]!) >>> 0,
  };
}

/**
 * Whether a header found without framing could really start a frame: a known type with
 * only its defined flags, a length within the default frame size, and the rules below.
 */
export function plausible(h: FrameHeader): boolean {
  if (h.type > FrameType.CONTINUATION || h.length > HUNT_MAX_LENGTH) return false;
  return (h.flags & ~FLAGS[h.type]!) === 0 && wellFormed(h);
}

/**
 * Whether a header keeps its type's rules (RFC 9113 §6): which frames are on stream 0 and
 * which fixed lengths they have, and the reserved bit clear. Unknown types pass (§4.1:
 * they are ignored).
 */
export function wellFormed(h: FrameHeader): boolean {
  if (h.streamId > 0x7fffffff) return false;
  const onConnection = h.streamId === 0;
  switch (h.type) {
    case FrameType.SETTINGS:
      return onConnection && h.length % 6 === 0 && ((h.flags & Flag.ACK) === 0 || h.length === 0);
    case FrameType.PING:
      return onConnection && h.length === 8;
    case FrameType.GOAWAY:
      return onConnection && h.length >= 8;
    case FrameType.WINDOW_UPDATE:
      return h.length === 4;
    case FrameType.RST_STREAM:
      return !onConnection && h.length === 4;
    case FrameType.PRIORITY:
      return !onConnection && h.length === 5;
    case FrameType.DATA:
    case FrameType.HEADERS:
    case FrameType.PUSH_PROMISE:
    case FrameType.CONTINUATION:
      return !onConnection;
    default:
      return true;
  }
}
