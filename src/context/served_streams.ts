/**
 * Calls a process serves whose span comes from the bytes (grpc-go's, through the HTTP/2
 * parser) joined to the goroutine their handler runs on, which Go's probes see. The probes
 * give the handler's goroutine a stand-in context when it starts, so the calls it makes get
 * their ids at once; the span stage fixes the call's own span when its request headers are
 * parsed. Both name the call alike -- process, connection (client and server address and
 * port) and HTTP/2 stream id -- and whichever comes second joins them: the stand-in's
 * children then belong to the call's span.
 *
 * A stream id names one call of one connection (ids are never reused on a connection), and
 * an address pair one connection at a time; what waits unjoined is dropped after a while, so
 * a later connection on the same pair cannot meet an old one's stream.
 *
 * @module
 */
import type { TraceContext } from "../model/trace_context.ts";

/** The ids a handler's goroutine got before its call's span was known. */
export interface StandIn {
  traceId: string;
  spanId: string;
  /**
   * The stand-in is a span of its own that the call's span replaces: net/http's server span
   * of a grpc-go server mounted on net/http (`grpc.Server.ServeHTTP`). Absent: a root that
   * is never a span (grpc-go's own transport).
   */
  replaced?: true;
}

/** Options for {@linkcode ServedStreams}. */
export interface ServedStreamsOptions {
  /** How long one side waits for the other, in milliseconds. Default 10,000. */
  maxAgeMs?: number;
  /** Milliseconds of a monotonic clock. Default `performance.now`. */
  now?: () => number;
}

interface Waiting<T> {
  value: T;
  sinceMs: number;
}

// One entry per call in flight whose other side has not come yet.
const MAX_WAITING = 10_000;

/**
 * Stand-ins and served calls by (process, connection, stream), joined when both are known.
 *
 * @example
 * ```ts
 * import { ServedStreams } from "./served_streams.ts";
 * const streams = new ServedStreams();
 * streams.onJoin = (standIn, call) => console.log(standIn.spanId, "is", call.spanId);
 * streams.handler(7, "10.0.0.1:5000>10.0.0.2:50051", 1, { traceId: "ab".repeat(16), spanId: "01".repeat(8) });
 * streams.served(7, "10.0.0.1:5000>10.0.0.2:50051", 1, { traceId: "cd".repeat(16), spanId: "02".repeat(8), parentSpanId: "" });
 * // logs: 0101010101010101 is 0202020202020202
 * ```
 */
export class ServedStreams {
  /** Told of each join: the stand-in, and the context of the span it stands for. */
  onJoin?: (standIn: StandIn, call: TraceContext) => void;
  /** Told of a stand-in whose stream was seen to be no call served from the bytes. */
  onNotServed?: (standIn: StandIn) => void;
  readonly #handlers = new Map<string, Waiting<StandIn>>();
  readonly #served = new Map<string, Waiting<TraceContext>>();
  readonly #notServed = new Map<string, Waiting<true>>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: ServedStreamsOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** A handler of stream `stream` on connection `conn` (client>server) of `pid` began. */
  handler(pid: number, conn: string, stream: number, standIn: StandIn): void {
    const key = `${pid}/${conn}#${stream}`;
    const call = this.#take(this.#served, key);
    if (call !== undefined) this.onJoin?.(standIn, call);
    else if (this.#take(this.#notServed, key)) this.onNotServed?.(standIn);
    else this.#wait(this.#handlers, key, standIn);
  }

  /** Stream `stream` of `conn` carries a request that is no call served from the bytes. */
  notServed(pid: number, conn: string, stream: number): void {
    const key = `${pid}/${conn}#${stream}`;
    const standIn = this.#take(this.#handlers, key);
    if (standIn !== undefined) this.onNotServed?.(standIn);
    else this.#wait(this.#notServed, key, true);
  }

  /** The span stage fixed the context of a call it serves: stream `stream` of `conn`. */
  served(pid: number, conn: string, stream: number, call: TraceContext): void {
    const key = `${pid}/${conn}#${stream}`;
    const standIn = this.#take(this.#handlers, key);
    if (standIn !== undefined) this.onJoin?.(standIn, call);
    else this.#wait(this.#served, key, call);
  }

  /** Entries waiting for their other side. */
  get size(): number {
    return this.#handlers.size + this.#served.size + this.#notServed.size;
  }

  #take<T>(map: Map<string, Waiting<T>>, key: string): T | undefined {
    const w = map.get(key);
    if (w === undefined) return undefined;
    map.delete(key);
    return this.#now() - w.sinceMs > this.#maxAgeMs ? undefined : w.value;
  }

  #wait<T>(map: Map<string, Waiting<T>>, key: string, value: T): void {
    const now = this.#now();
    // Oldest first (insertion order): drop what is too old, and the oldest when full.
    for (const [k, w] of map) {
      if (now - w.sinceMs <= this.#maxAgeMs && map.size < MAX_WAITING) break;
      map.delete(k);
    }
    map.delete(key);
    map.set(key, { value, sinceMs: now });
  }
}
