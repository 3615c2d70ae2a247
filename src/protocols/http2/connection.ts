/**
 * One HTTP/2 connection seen from both directions: streams multiplexed on it are followed
 * by stream id and each finished stream is reported as one exchange (request headers, final
 * response headers, trailers, body sizes from DATA, gRPC message counts).
 *
 * Which direction is the client's: the one that begins with the connection preface; on a
 * connection joined mid-way, the one whose header blocks carry `:method` (the other's carry
 * `:status`). A stream is reported when its response ends (END_STREAM), when it is reset,
 * or, with what was seen, when the connection ends after its response began. Streams opened
 * before the connection was joined (no request headers seen) and pushed streams are not
 * reported. Memory is bounded: at most `maxStreams` open streams (the oldest is dropped),
 * and header blocks and HPACK tables are bounded in `direction.ts`. It never throws.
 *
 * @module
 */
import { type DirectionEvents, type HeadersEvent, Http2Direction } from "./direction.ts";
import { PREFACE } from "./frames.ts";
import type { HeaderBlock, HeaderField } from "./hpack.ts";
import { GrpcMessages } from "./grpc_messages.ts";

/** Either direction of the connection, in the order the caller numbers them. */
export type Side = 0 | 1;

/** One message (request or response) of a stream. */
export interface Http2Message {
  /**
   * The header block that opened it; undefined when it could not be decoded (lost, or
   * references the HPACK table could not resolve made it untrustworthy -- see `unknown`).
   */
  headers: HeaderBlock | undefined;
  /** The trailer block, if one came (undefined also when it could not be decoded). */
  trailers: HeaderBlock | undefined;
  /** Whether a trailer block came at all. */
  hasTrailers: boolean;
  /** DATA content bytes (including stretches lost in gaps). */
  bodySize: number;
  /** False when frames of this direction were lost while the message was open. */
  complete: boolean;
  /** Whether END_STREAM was seen. */
  ended: boolean;
  /** gRPC messages in DATA, when the stream is gRPC. */
  grpcMessages: GrpcMessages | undefined;
  /** Time of the first byte of its first frame, and of the last byte of its last. */
  firstByteMonoNs: bigint;
  lastByteMonoNs: bigint;
  /** Thread that read or wrote the opening frame. */
  tid: number;
}

/** A finished stream. */
export interface Http2Exchange {
  streamId: number;
  request: Http2Message;
  /** The final (non-1xx) response, if it began. */
  response: Http2Message | undefined;
  /** RST_STREAM's error code, and which side sent it, when the stream was reset. */
  reset: { errorCode: number; by: "client" | "server" } | undefined;
  /** True when the connection ended (or the stream was dropped) before the stream did. */
  cutShort: boolean;
}

/** Options for {@linkcode Http2Connection}. */
export interface Http2ConnectionOptions {
  /** Receives each finished stream. */
  onExchange(exchange: Http2Exchange): void;
  /** Told when a stream's request headers arrive (before its exchange ends). */
  onRequest?(streamId: number, request: Http2Message): void;
  /**
   * The side whose bytes are the client's, when the caller knows (the traced process's
   * role). Default: found from the preface or from the header blocks.
   */
  clientSide?: Side;
  /** Most open streams followed; beyond, the oldest is dropped. Default 256. */
  maxStreams?: number;
  /** Most bytes of one header block. Default 65536. */
  maxHeaderBlockBytes?: number;
  /** Most bytes of each direction's HPACK table. Default 65536. */
  tableLimit?: number;
}

/** Counters of one connection. */
export interface Http2ConnectionStats {
  /** Streams dropped without being reported (too many open, timed out, never answered). */
  streamsDropped: number;
  /** Header blocks that could not be decoded. */
  lostBlocks: number;
}

interface Stream {
  id: number;
  request: Http2Message;
  response: Http2Message | undefined;
  grpc: boolean;
  /** DATA or headers of the response direction before its headers (unknown block). */
}

/**
 * An HTTP/2 connection.
 *
 * @example
 * ```ts ignore
 * const c = new Http2Connection({ onExchange: (x) => console.log(x.streamId) });
 * c.push(0, clientBytes, t, tid); // the traced process's reads or writes, either side
 * c.push(1, serverBytes, t, tid);
 * c.end();
 * ```
 */
export class Http2Connection {
  readonly #opts: Http2ConnectionOptions;
  readonly #maxStreams: number;
  readonly #dirs: [Http2Direction | undefined, Http2Direction | undefined] = [undefined, undefined];
  /** Whether each side started with a gap (its beginning was not seen). */
  readonly #lostStart: [boolean, boolean] = [false, false];
  #client: Side | undefined;
  /** Whether the client's preface was seen: the connection is followed from its start. */
  #prefaceSeen = false;
  readonly #streams = new Map<number, Stream>();
  #stopped = false;
  readonly stats: Http2ConnectionStats = { streamsDropped: 0, lostBlocks: 0 };

  constructor(options: Http2ConnectionOptions) {
    this.#opts = options;
    this.#maxStreams = options.maxStreams ?? 256;
    this.#client = options.clientSide;
  }

  /** The side whose bytes are the client's, once known. */
  get clientSide(): Side | undefined {
    return this.#client;
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Whether both directions' HPACK tables are known in full. */
  get headersTrusted(): boolean {
    return this.#dirs.every((d) => d === undefined || d.hpackComplete);
  }

  /**
   * Declares that `side` is the client's and its first bytes are the preface (the caller
   * knows, e.g. after an `Upgrade: h2c` exchange). Must come before that side's bytes.
   */
  expectPreface(side: Side): void {
    this.#client = side;
    this.#prefaceSeen = true;
  }

  /**
   * Opens stream 1 with a request already made in HTTP/1.1 (the `Upgrade: h2c` path,
   * RFC 7540 §3.2): its response comes as HTTP/2.
   */
  openUpgraded(request: Http2Message, grpc: boolean): void {
    this.#streams.set(1, { id: 1, request, response: undefined, grpc });
  }

  /** Contiguous bytes of one side. */
  push(side: Side, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    if (this.#stopped || bytes.length === 0) return;
    this.#dir(side, bytes).push(bytes, monoNs, tid);
  }

  /** `size` bytes of one side never seen. */
  gap(side: Side, size: number, monoNs: bigint): void {
    if (this.#stopped) return;
    const d = this.#dirs[side];
    if (d === undefined) this.#lostStart[side] = true;
    else d.gap(size, monoNs);
  }

  /** Drops streams whose request began more than `timeoutNs` before `nowNs`. */
  tick(nowNs: bigint, timeoutNs: bigint): void {
    for (const [id, s] of this.#streams) {
      if (nowNs - s.request.firstByteMonoNs <= timeoutNs) break; // oldest first
      this.#streams.delete(id);
      this.stats.streamsDropped++;
    }
  }

  /** The connection is gone: streams whose response began are reported, the rest dropped. */
  end(): void {
    for (const s of this.#streams.values()) {
      if (s.response !== undefined) this.#report(s, undefined, true);
      else this.stats.streamsDropped++;
    }
    this.#streams.clear();
    this.#stop();
  }

  /** Stops parsing (the bytes are not HTTP/2 after all, or the caller gives up). */
  #stop(): void {
    this.#stopped = true;
    for (const d of this.#dirs) d?.stop();
  }

  #dir(side: Side, first: Uint8Array): Http2Direction {
    const existing = this.#dirs[side];
    if (existing !== undefined) return existing;
    const fromStart = !this.#lostStart[side];
    let preface = this.#prefaceSeen && this.#client === side;
    if ((this.#client ?? side) === side && fromStart && startsWithPreface(first)) {
      this.#client = side;
      preface = true;
    }
    if (preface && fromStart) this.#prefaceSeen = true;
    const d = new Http2Direction(this.#events(side), {
      preface,
      fromStart,
      startConfirmed: preface ? undefined : () => this.#prefaceSeen,
      maxHeaderBlockBytes: this.#opts.maxHeaderBlockBytes,
      tableLimit: this.#opts.tableLimit,
    });
    this.#dirs[side] = d;
    return d;
  }

  #events(side: Side): DirectionEvents {
    return {
      headers: (ev) => this.#headers(side, ev),
      data: (id, piece) => {
        const m = this.#message(side, id);
        if (m === undefined) return;
        m.bodySize += typeof piece === "number" ? piece : piece.length;
        m.grpcMessages?.push(piece);
      },
      dataEnd: (id, endStream, endNs) => {
        const m = this.#message(side, id);
        if (m === undefined) return;
        m.lastByteMonoNs = endNs;
        if (endStream) this.#ended(side, id, m);
      },
      reset: (id, errorCode, endNs) => {
        const s = this.#streams.get(id);
        if (s === undefined || this.#client === undefined) return;
        const last = s.response ?? s.request;
        if (endNs > last.lastByteMonoNs) last.lastByteMonoNs = endNs;
        this.#report(s, { errorCode, by: side === this.#client ? "client" : "server" }, false);
      },
      goaway: () => {},
      lost: () => {
        this.stats.lostBlocks = this.#lostBlocks();
        for (const s of this.#streams.values()) {
          const m = side === this.#client ? s.request : s.response;
          if (m !== undefined && !m.ended) m.complete = false;
        }
      },
    };
  }

  #lostBlocks(): number {
    return (this.#dirs[0]?.lostBlocks ?? 0) + (this.#dirs[1]?.lostBlocks ?? 0);
  }

  /** The message of a stream this side carries, if the stream is followed. */
  #message(side: Side, id: number): Http2Message | undefined {
    const s = this.#streams.get(id);
    if (s === undefined || this.#client === undefined) return undefined;
    return side === this.#client ? s.request : s.response;
  }

  #headers(side: Side, ev: HeadersEvent): void {
    this.stats.lostBlocks = this.#lostBlocks();
    if (ev.promised !== undefined) return; // a pushed stream: not followed
    if (this.#client === undefined) {
      // Joined mid-way: the first block that says which it is decides.
      const kind = blockKind(ev.block);
      if (kind === undefined) return;
      this.#client = kind === "request" ? side : side === 0 ? 1 : 0;
    }
    if (side === this.#client) this.#requestHeaders(ev);
    else this.#responseHeaders(ev);
  }

  #requestHeaders(ev: HeadersEvent): void {
    const s = this.#streams.get(ev.streamId);
    if (s !== undefined) { // trailers of the request
      s.request.hasTrailers = true;
      s.request.trailers = ev.block;
      s.request.lastByteMonoNs = ev.endNs;
      if (ev.endStream) this.#ended(this.#client!, s.id, s.request);
      return;
    }
    if (ev.streamId % 2 === 0) return; // only clients open odd streams
    if (this.#streams.size >= this.#maxStreams) {
      const oldest = this.#streams.keys().next().value!;
      this.#streams.delete(oldest);
      this.stats.streamsDropped++;
    }
    const request = newMessage(ev);
    const grpc = isGrpc(ev.block);
    if (grpc) request.grpcMessages = new GrpcMessages();
    this.#streams.set(ev.streamId, { id: ev.streamId, request, response: undefined, grpc });
    if (ev.endStream) request.ended = true;
    this.#opts.onRequest?.(ev.streamId, request);
  }

  #responseHeaders(ev: HeadersEvent): void {
    const s = this.#streams.get(ev.streamId);
    if (s === undefined) return;
    if (s.response === undefined) {
      const status = ev.block === undefined ? undefined : field(ev.block.fields, ":status");
      // Interim (1xx) responses come before the final one and are passed over.
      if (status !== undefined && /^1\d\d$/.test(status) && !ev.endStream) return;
      s.response = newMessage(ev);
      if (s.grpc) s.response.grpcMessages = new GrpcMessages();
    } else {
      s.response.hasTrailers = true;
      s.response.trailers = ev.block;
      s.response.lastByteMonoNs = ev.endNs;
    }
    if (ev.endStream) this.#ended(this.#client === 0 ? 1 : 0, s.id, s.response);
  }

  #ended(side: Side, id: number, m: Http2Message): void {
    m.ended = true;
    const s = this.#streams.get(id);
    if (s !== undefined && side !== this.#client) this.#report(s, undefined, false);
  }

  #report(s: Stream, reset: Http2Exchange["reset"], cutShort: boolean): void {
    this.#streams.delete(s.id);
    this.#opts.onExchange({
      streamId: s.id,
      request: s.request,
      response: s.response,
      reset,
      cutShort,
    });
  }
}

function newMessage(ev: HeadersEvent): Http2Message {
  return {
    headers: ev.block,
    trailers: undefined,
    hasTrailers: false,
    bodySize: 0,
    complete: true,
    ended: ev.endStream,
    grpcMessages: undefined,
    firstByteMonoNs: ev.startNs,
    lastByteMonoNs: ev.endNs,
    tid: ev.tid,
  };
}

/** The first value of a field, by its (lower-case) name. */
export function field(fields: readonly HeaderField[], name: string): string | undefined {
  for (const [n, v] of fields) if (n === name) return v;
  return undefined;
}

/** Whether a request's content-type is gRPC's (`application/grpc`, `application/grpc+proto`...). */
export function isGrpc(block: HeaderBlock | undefined): boolean {
  const ct = block === undefined ? undefined : field(block.fields, "content-type");
  return ct !== undefined && /^application\/grpc(?:[+;]|$)/i.test(ct);
}

function blockKind(block: HeaderBlock | undefined): "request" | "response" | undefined {
  if (block === undefined) return undefined;
  for (const [n] of block.fields) {
    if (n === ":method") return "request";
    if (n === ":status") return "response";
  }
  return undefined;
}

/** Whether bytes begin the client preface (as far as they go). */
export function startsWithPreface(b: Uint8Array): boolean {
  const n = Math.min(b.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (b[i] !== PREFACE[i]) return false;
  return n > 0;
}
