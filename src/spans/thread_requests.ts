/**
 * Parent and child by thread: a request a traced process serves on one thread is the parent
 * of the calls (HTTP, SQL) that the same thread makes before it answers. This is how
 * thread-per-request servers work (Python's threading servers, Java, C); where one thread
 * serves several requests at once (an event loop) the parent is ambiguous and none is given.
 * Not for Go, whose goroutines move between threads: its probes follow goroutines instead.
 *
 * @module
 */
import type { TraceContext } from "./peer_links.ts";

interface Served {
  context: TraceContext;
  /** Requests in progress on the thread; the context is only trusted while it is one. */
  open: number;
  sinceMonoNs: bigint;
}

// Threads are few; a request that never gets its answer must not pin an entry forever.
const MAX_THREADS = 10_000;

/** Server requests in progress, by thread. */
export class ThreadRequests {
  readonly #byThread = new Map<string, Served>();
  readonly #maxAgeNs: bigint;

  /** `maxAgeNs`: a request open longer than this no longer adopts calls. Default 60 s. */
  constructor(maxAgeNs = 60_000_000_000n) {
    this.#maxAgeNs = maxAgeNs;
  }

  /** Thread `tid` of `pid` began serving a request with this context. */
  begin(pid: number, tid: number, context: TraceContext, monoNs: bigint): void {
    const key = `${pid}/${tid}`;
    const served = this.#byThread.get(key);
    if (served !== undefined && monoNs - served.sinceMonoNs < this.#maxAgeNs) {
      served.open++;
      served.context = context;
      served.sinceMonoNs = monoNs;
      return;
    }
    if (served === undefined && this.#byThread.size >= MAX_THREADS) {
      this.#byThread.delete(this.#byThread.keys().next().value!);
    }
    this.#byThread.set(key, { context, open: 1, sinceMonoNs: monoNs });
  }

  /** The request with this context, begun on thread `tid`, was answered. */
  end(pid: number, tid: number, context: TraceContext): void {
    const key = `${pid}/${tid}`;
    const served = this.#byThread.get(key);
    if (served === undefined) return;
    if (--served.open <= 0 || served.context === context) this.#byThread.delete(key);
  }

  /** The request thread `tid` is serving alone, at `monoNs`, if there is one. */
  parentOf(pid: number, tid: number, monoNs: bigint): TraceContext | undefined {
    const served = this.#byThread.get(`${pid}/${tid}`);
    if (served === undefined || served.open !== 1) return undefined;
    if (monoNs < served.sinceMonoNs || monoNs - served.sinceMonoNs > this.#maxAgeNs) {
      return undefined;
    }
    return served.context;
  }

  /** Threads with a request in progress. */
  get size(): number {
    return this.#byThread.size;
  }
}
