/**
 * grpc-go client calls whose span comes from the bytes, made on goroutines Go's probes see:
 * the probes tell, for each client stream opened on a goroutine that had a context, its
 * process, connection (client and server address and port) and HTTP/2 stream id, and how to
 * find the caller's ids; the span stage asks for them when it fixes the call's ids, at its
 * HEADERS. Found, the call's span is the caller's child.
 *
 * The probe tells as the stream's constructor returns, which may come after the transport's
 * writer goroutine sent the HEADERS: a head that finds nothing asks `refresh` (Go's ring read
 * now) once. Still nothing, or a caller whose own span is not settled yet, and the call keeps
 * no parent: its ids are fixed and offered to its server at its head, so what comes later is
 * never used (it is dropped in time), and a parent is never guessed.
 *
 * @module
 */
import type { TraceContext } from "../model/trace_context.ts";

/** The ids a call's span takes as its parent's: undefined when not known (yet). */
export type CallerContext = () => Pick<TraceContext, "traceId" | "spanId" | "sampled"> | undefined;

/** Options for {@linkcode CallerStreams}. */
export interface CallerStreamsOptions {
  /**
   * How long a caller waits for its call's head, in milliseconds: its HEADERS go out as the
   * stream is made, so a short while; a later connection on the same address pair must not
   * meet it. Default 2,000.
   */
  maxAgeMs?: number;
  /** Milliseconds of a monotonic clock. Default `performance.now`. */
  now?: () => number;
}

// One entry per client stream opened under a context whose head has not been read yet.
const MAX_WAITING = 10_000;

/**
 * Callers by (process, connection, stream), taken by the call's head.
 *
 * @example
 * ```ts
 * import { CallerStreams } from "./caller_streams.ts";
 * const callers = new CallerStreams();
 * const handler = { traceId: "ab".repeat(16), spanId: "01".repeat(8) };
 * callers.caller(7, "127.0.0.1:5000>127.0.0.1:50051", 1, () => handler);
 * callers.callerOf(7, "127.0.0.1:5000>127.0.0.1:50051", 1)?.spanId; // "0101010101010101"
 * ```
 */
export class CallerStreams {
  /** Reads what Go's probes have sent so far; default none. */
  refresh?: () => void;
  readonly #callers = new Map<string, { caller: CallerContext; sinceMs: number }>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: CallerStreamsOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 2000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Stream `stream` of `conn` (client>server) of `pid` was opened under `caller`. */
  caller(pid: number, conn: string, stream: number, caller: CallerContext): void {
    const map = this.#callers;
    const now = this.#now();
    // Oldest first (insertion order): drop what is too old, and the oldest when full.
    for (const [k, w] of map) {
      if (now - w.sinceMs <= this.#maxAgeMs && map.size < MAX_WAITING) break;
      map.delete(k);
    }
    const key = `${pid}/${conn}#${stream}`;
    map.delete(key);
    map.set(key, { caller, sinceMs: now });
  }

  /** The parent of the call on stream `stream` of `conn`, at its head; taken once. */
  callerOf(
    pid: number,
    conn: string,
    stream: number,
  ): ReturnType<CallerContext> {
    const key = `${pid}/${conn}#${stream}`;
    let w = this.#callers.get(key);
    if (w === undefined && this.refresh !== undefined) {
      this.refresh();
      w = this.#callers.get(key);
    }
    if (w === undefined) return undefined;
    this.#callers.delete(key);
    return this.#now() - w.sinceMs > this.#maxAgeMs ? undefined : w.caller();
  }

  /** Callers waiting for their call's head. */
  get size(): number {
    return this.#callers.size;
  }
}
