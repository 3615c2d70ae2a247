/**
 * One direction of an HTTP/2 connection, from bytes to stream events: frames split
 * (`frames.ts`), header blocks put together from HEADERS or PUSH_PROMISE and their
 * CONTINUATIONs and decoded through this direction's HPACK table, DATA content passed on.
 *
 * A header block that cannot be had whole (too large, partly lost, interrupted by another
 * frame) is reported as unknown, and the HPACK table is forgotten, since the block may have
 * changed it. So is everything when the framing is lost. A direction that does not begin
 * at its beginning (the client preface, or the server's SETTINGS as its first frame) starts
 * with an unknown table. SETTINGS, PING, WINDOW_UPDATE and PRIORITY carry nothing a span
 * needs and are passed over. It never throws.
 *
 * @module
 */
import { Flag, type FrameHeader, type FrameSink, FrameSplitter, FrameType } from "./frames.ts";
import { type HeaderBlock, HpackDecoder } from "./hpack.ts";

/** What a direction reports, in stream order. */
export interface DirectionEvents {
  /**
   * A header block on `streamId`; `block` is undefined when it could not be decoded.
   * `promised` is set for PUSH_PROMISE (the block is the promised stream's request).
   */
  headers(ev: HeadersEvent): void;
  /** DATA content of a stream (bytes, or the size of a stretch lost in a gap). */
  data(streamId: number, piece: Uint8Array | number, startNs: bigint, tid: number): void;
  /** A DATA frame ended; `endStream` when it closed the stream. */
  dataEnd(streamId: number, endStream: boolean, endNs: bigint): void;
  /** RST_STREAM. */
  reset(streamId: number, errorCode: number, endNs: bigint): void;
  /** GOAWAY: streams above `lastStreamId` were not processed by the sender's peer. */
  goaway(lastStreamId: number, errorCode: number, endNs: bigint): void;
  /** Frames were lost here: streams of this direction may have missed anything. */
  lost(monoNs: bigint): void;
}

/** A header block and where it was. */
export interface HeadersEvent {
  streamId: number;
  block: HeaderBlock | undefined;
  endStream: boolean;
  /** For PUSH_PROMISE: the stream the block's request opens. */
  promised?: number;
  startNs: bigint;
  endNs: bigint;
  tid: number;
}

/** Options for {@linkcode Http2Direction}. */
export interface Http2DirectionOptions {
  /** This is the client's direction and begins with the connection preface. */
  preface: boolean;
  /** Whether the direction is seen from its first byte. */
  fromStart: boolean;
  /**
   * Asked before the first header block is decoded: whether the connection is now known to
   * have been seen from its start (the client's preface was seen). A server's first bytes
   * can be a SETTINGS frame sent in the middle of a connection as well as its first frame;
   * by the time it sends a header block, the client's preface (if seen) has been. Default:
   * always known.
   */
  startConfirmed?: () => boolean;
  /** Most bytes of one header block (all its frames). Default 65536. */
  maxHeaderBlockBytes?: number;
  /** Most bytes the HPACK dynamic table holds. Default 65536. */
  tableLimit?: number;
}

/** A header block being put together. */
interface Pending {
  streamId: number;
  endStream: boolean;
  promised: number | undefined;
  parts: Uint8Array[];
  bytes: number;
  broken: boolean;
  startNs: bigint;
  tid: number;
}

/**
 * One direction.
 *
 * @example
 * ```ts ignore
 * const d = new Http2Direction(events, { preface: true, fromStart: true });
 * d.push(bytes, monoNs, tid);
 * ```
 */
export class Http2Direction {
  readonly #events: DirectionEvents;
  readonly #splitter: FrameSplitter;
  readonly #hpack: HpackDecoder;
  readonly #maxBlock: number;
  #pending: Pending | undefined;
  #firstFrame = true;
  #firstBlock = true;
  readonly #startConfirmed: () => boolean;
  /** Header blocks that could not be decoded (lost, too large, malformed, interrupted). */
  lostBlocks = 0;

  constructor(events: DirectionEvents, options: Http2DirectionOptions) {
    this.#events = events;
    this.#maxBlock = options.maxHeaderBlockBytes ?? 65536;
    this.#startConfirmed = options.startConfirmed ?? (() => true);
    this.#hpack = new HpackDecoder({
      fromStart: options.fromStart,
      tableLimit: options.tableLimit,
      maxListBytes: this.#maxBlock,
    });
    this.#splitter = new FrameSplitter(this.#sink(), {
      preface: options.preface && options.fromStart,
      maxHeldPayload: this.#maxBlock + 256,
    });
  }

  /** Whether every header reference of this direction can be resolved. */
  get hpackComplete(): boolean {
    return this.#hpack.complete;
  }

  /** Frames parsed and times framing was lost, for tests and counters. */
  get stats(): { frames: number; framingLost: number; malformedBlocks: number } {
    return {
      frames: this.#splitter.framesParsed,
      framingLost: this.#splitter.framingLost,
      malformedBlocks: this.#hpack.malformed,
    };
  }

  /** Contiguous bytes. */
  push(bytes: Uint8Array, monoNs: bigint, tid: number): void {
    this.#splitter.push(bytes, monoNs, tid);
  }

  /** A stretch never seen. */
  gap(size: number, monoNs: bigint): void {
    this.#splitter.gap(size, monoNs);
  }

  /** Nothing more is parsed. */
  stop(): void {
    this.#splitter.stop();
    this.#pending = undefined;
  }

  #sink(): FrameSink {
    return {
      frame: (h, payload, startNs, endNs, tid) => this.#frame(h, payload, startNs, endNs, tid),
      frameLost: (h, endNs) => {
        this.#first(h);
        if (h.type === FrameType.HEADERS || h.type === FrameType.PUSH_PROMISE) {
          this.#interrupt(endNs);
          this.#blockLost(
            h.streamId,
            (h.flags & Flag.END_STREAM) !== 0,
            undefined,
            endNs,
            endNs,
            0,
          );
        } else if (h.type === FrameType.CONTINUATION) {
          const p = this.#pending;
          if (p !== undefined && p.streamId === h.streamId) {
            p.broken = true;
            if (h.flags & Flag.END_HEADERS) this.#finish(endNs);
          } else this.#hpack.lose();
        } else this.#interrupt(endNs);
      },
      data: (h, piece, startNs, tid) => {
        this.#first(h);
        this.#interrupt(startNs);
        this.#events.data(h.streamId, piece, startNs, tid);
      },
      dataEnd: (h, _startNs, endNs) => {
        this.#events.dataEnd(h.streamId, (h.flags & Flag.END_STREAM) !== 0, endNs);
      },
      lost: (monoNs) => {
        this.#firstFrame = false;
        this.#interrupt(monoNs);
        this.#hpack.lose();
        this.#events.lost(monoNs);
      },
    };
  }

  /** The first frame of a direction seen from its start is SETTINGS (RFC 9113 §3.4). */
  #first(h: FrameHeader): void {
    if (!this.#firstFrame) return;
    this.#firstFrame = false;
    if (h.type !== FrameType.SETTINGS || (h.flags & Flag.ACK) !== 0) this.#hpack.lose();
  }

  #frame(h: FrameHeader, p: Uint8Array, startNs: bigint, endNs: bigint, tid: number): void {
    this.#first(h);
    switch (h.type) {
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE: {
        this.#interrupt(endNs);
        const endStream = h.type === FrameType.HEADERS && (h.flags & Flag.END_STREAM) !== 0;
        let at = 0;
        let end = p.length;
        if (h.flags & Flag.PADDED) {
          end -= p[0] ?? 0;
          at = 1;
        }
        let promised: number | undefined;
        if (h.type === FrameType.HEADERS && h.flags & Flag.PRIORITY) at += 5;
        if (h.type === FrameType.PUSH_PROMISE) {
          promised = readU31(p, at);
          at += 4;
        }
        if (at > end || promised === 0) { // malformed: the block cannot be found
          this.#blockLost(h.streamId, endStream, promised, startNs, endNs, tid);
          return;
        }
        if (h.flags & Flag.END_HEADERS) {
          // A block in one frame is decoded at once, from the frame's own bytes.
          this.#block(h.streamId, endStream, promised, p.subarray(at, end), startNs, endNs, tid);
          return;
        }
        this.#pending = {
          streamId: h.streamId,
          endStream,
          promised,
          parts: [p.slice(at, end)],
          bytes: end - at,
          broken: false,
          startNs,
          tid,
        };
        return;
      }
      case FrameType.CONTINUATION: {
        const pending = this.#pending;
        if (pending === undefined || pending.streamId !== h.streamId) {
          // A continuation of a block we did not see the start of.
          this.#interrupt(endNs);
          this.#hpack.lose();
          this.lostBlocks++;
          return;
        }
        pending.bytes += p.length;
        if (pending.bytes > this.#maxBlock) pending.broken = true;
        else pending.parts.push(p.slice());
        if (h.flags & Flag.END_HEADERS) this.#finish(endNs);
        return;
      }
      case FrameType.RST_STREAM:
        this.#interrupt(endNs);
        this.#events.reset(h.streamId, readU32(p, 0), endNs);
        return;
      case FrameType.GOAWAY:
        this.#interrupt(endNs);
        this.#events.goaway(readU31(p, 0), readU32(p, 4), endNs);
        return;
      default:
        // SETTINGS, PING, WINDOW_UPDATE, PRIORITY and unknown types: nothing for a span.
        // (They may not come between a HEADERS and its CONTINUATION either.)
        this.#interrupt(endNs);
    }
  }

  /** A frame other than the expected CONTINUATION: the pending block is lost (§6.10). */
  #interrupt(monoNs: bigint): void {
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    this.#blockLost(p.streamId, p.endStream, p.promised, p.startNs, monoNs, p.tid);
  }

  #blockLost(
    streamId: number,
    endStream: boolean,
    promised: number | undefined,
    startNs: bigint,
    endNs: bigint,
    tid: number,
  ): void {
    this.lostBlocks++;
    this.#hpack.lose();
    this.#events.headers({ streamId, block: undefined, endStream, promised, startNs, endNs, tid });
  }

  #finish(endNs: bigint): void {
    const p = this.#pending!;
    this.#pending = undefined;
    if (p.broken) {
      this.#blockLost(p.streamId, p.endStream, p.promised, p.startNs, endNs, p.tid);
      return;
    }
    const whole = p.parts.length === 1 ? p.parts[0]! : concat(p.parts, p.bytes);
    this.#block(p.streamId, p.endStream, p.promised, whole, p.startNs, endNs, p.tid);
  }

  /** A whole header block: decoded and handed on. */
  #block(
    streamId: number,
    endStream: boolean,
    promised: number | undefined,
    bytes: Uint8Array,
    startNs: bigint,
    endNs: bigint,
    tid: number,
  ): void {
    if (this.#firstBlock) {
      this.#firstBlock = false;
      if (!this.#startConfirmed()) this.#hpack.lose();
    }
    const block = this.#hpack.decode(bytes);
    if (block === undefined) this.lostBlocks++;
    this.#events.headers({ streamId, block, endStream, promised, startNs, endNs, tid });
  }
}

function readU32(b: Uint8Array, at: number): number {
  if (at + 4 > b.length) return 0;
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function readU31(b: Uint8Array, at: number): number {
  return readU32(b, at) & 0x7fffffff;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
