/**
 * Parent and child by thread: a request a traced process serves on one thread is the parent
 * of the calls (HTTP, SQL) that the same thread makes while serving it. This is how
 * thread-per-request servers work (Python's threading servers, Java, C); where one thread
 * serves several requests at once (an event loop) the parent is ambiguous and none is given.
 * Not for Go, whose goroutines move between threads: its probes follow goroutines instead.
 *
 * Each thread keeps the time spans of its last few requests, so a call is matched to the
 * request whose span holds its start, whichever of the two is seen first.
 *
 * @module
 */
import type { TraceContext } from "../model/trace_context.ts";

interface Served {
  context: TraceContext;
  sinceMonoNs: bigint;
  /** When the response was complete; undefined while it is not. */
  untilMonoNs?: bigint;
  /** A call took it as its parent (see `lent`). */
  lent?: boolean;
}

// Threads are many in a thread-per-connection server, requests per thread few at a time.
const MAX_THREADS = 10_000;
const PER_THREAD = 8;

/** A thread's key: pids and tids are below 2^22 (the kernel's PID_MAX_LIMIT). */
const threadKey = (pid: number, tid: number) => pid * 4_194_304 + tid;

/** Requests served recently, by thread. */
export class ThreadRequests {
  readonly #byThread = new Map<number, Served[]>();
  readonly #maxAgeNs: bigint;

  /** `maxAgeNs`: a request open longer than this no longer adopts calls. Default 60 s. */
  constructor(maxAgeNs = 60_000_000_000n) {
    this.#maxAgeNs = maxAgeNs;
  }

  /** Thread `tid` of `pid` began serving a request with this context at `monoNs`. */
  begin(pid: number, tid: number, context: TraceContext, monoNs: bigint): void {
    const key = threadKey(pid, tid);
    let served = this.#byThread.get(key);
    if (served === undefined) {
      if (this.#byThread.size >= MAX_THREADS) {
        this.#byThread.delete(this.#byThread.keys().next().value!);
      }
      served = [];
      this.#byThread.set(key, served);
    }
    if (served.length >= PER_THREAD) served.shift();
    served.push({ context, sinceMonoNs: monoNs });
  }

  /** The request with this context, begun on thread `tid`, was answered at `monoNs`. */
  end(pid: number, tid: number, context: TraceContext, monoNs: bigint): void {
    const served = this.#byThread.get(threadKey(pid, tid));
    if (served === undefined) return;
    for (const s of served) {
      if (s.context !== context) continue;
      s.untilMonoNs = monoNs;
      return;
    }
  }

  /** The one request thread `tid` was serving at `monoNs`, if exactly one. */
  parentOf(pid: number, tid: number, monoNs: bigint): TraceContext | undefined {
    const served = this.#byThread.get(threadKey(pid, tid));
    if (served === undefined) return undefined;
    let match: Served | undefined;
    for (const s of served) {
      if (monoNs < s.sinceMonoNs || monoNs - s.sinceMonoNs > this.#maxAgeNs) continue;
      if (s.untilMonoNs !== undefined && monoNs > s.untilMonoNs) continue;
      if (match !== undefined) return undefined; // two at once: an event loop
      match = s;
    }
    if (match === undefined) return undefined;
    match.lent = true;
    return match.context;
  }

  /**
   * Whether a call made by thread `tid` may have taken this request's context as its parent
   * (it did, or the request is no longer kept): its ids are then copied into spans, and the
   * request's trace may no longer change.
   */
  lent(pid: number, tid: number, context: TraceContext): boolean {
    const served = this.#byThread.get(threadKey(pid, tid));
    const s = served?.find((s) => s.context === context);
    return s === undefined || s.lent === true;
  }
}
