/**
 * Runs one instrumentation on one process, alone, until a signal aborts: what tests and
 * benches use instead of the engine when they look at a single instrumentation (Go's, the
 * SQL libraries'). It asks the instrumentation to probe the process, reads what its probes
 * send, and gives back what was found and counted.
 *
 * @module
 */
import { inspectProcess } from "../../src/discovery/mod.ts";
import type { Instrumentation } from "../../src/instrumentation.ts";

/** Options for {@linkcode runInstrumentation}. */
export interface RunOptions<L> {
  /** The process to probe (for it alone). */
  pid: number;
  /** Stops the run; the instrumentation is then closed (its probes detached). */
  signal: AbortSignal;
  /** Called once its probes are attached. */
  onReady?: (location: L, probes: number) => void;
  /** How often the ring buffer is read, in ms. Default 50. */
  pollMs?: number;
}

/** What a run found and counted, or why nothing was attached. */
export type RunResult<S, L> =
  | { ok: true; location: L; probes: number; badRecords: number; stats: S }
  | { ok: false; error: string };

/**
 * Runs `inst` on process `opts.pid` until `opts.signal` aborts, then closes it.
 *
 * @example
 * ```ts ignore
 * const spans: Span[] = [];
 * const done = runInstrumentation(new GoInstrumentation({ onSpan: (s) => spans.push(s) }), {
 *   pid, signal: stop.signal,
 * });
 * ```
 */
export async function runInstrumentation<S, L>(
  inst: Instrumentation<S, L>,
  opts: RunOptions<L>,
): Promise<RunResult<S, L>> {
  try {
    const inspected = await inspectProcess(opts.pid);
    if (!inspected.ok) return { ok: false, error: inspected.message };
    const added = await inst.add(inspected.process, true);
    if (!added.attached || added.location === undefined) {
      return {
        ok: false,
        error: added.note ?? `process ${opts.pid}: nothing for ${inst.name} to probe`,
      };
    }
    opts.onReady?.(added.location, inst.uprobes);
    const stopped = new Promise<void>((resolve) => {
      if (opts.signal.aborted) resolve();
      opts.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    while (!opts.signal.aborted) {
      await Promise.race([new Promise((r) => setTimeout(r, opts.pollMs ?? 50)), stopped]);
      while (inst.consume() > 0) { /* until empty */ }
    }
    while (inst.consume() > 0) { /* what arrived before the stop */ }
    inst.flush?.();
    return {
      ok: true,
      location: added.location,
      probes: inst.uprobes,
      badRecords: inst.badRecords,
      stats: inst.stats(),
    };
  } finally {
    await inst.close();
  }
}

/** A run whose probes are attached: `stop()` ends it and gives back what it counted. */
export interface AttachedRun<S, L> {
  stop(): Promise<RunResult<S, L>>;
}

/**
 * Starts {@linkcode runInstrumentation} on process `opts.pid` and waits until its probes are
 * attached; throws with the run's error when it ends first.
 *
 * @example
 * ```ts ignore
 * const run = await attachInstrumentation(new GoInstrumentation({ onSpan }), { pid });
 * // … load …
 * const result = await run.stop();
 * ```
 */
export async function attachInstrumentation<S, L>(
  inst: Instrumentation<S, L>,
  opts: Omit<RunOptions<L>, "signal" | "onReady">,
): Promise<AttachedRun<S, L>> {
  const stop = new AbortController();
  let attached!: () => void;
  const ready = new Promise<void>((r) => (attached = r));
  const done = runInstrumentation(inst, {
    ...opts,
    signal: stop.signal,
    onReady: () => attached(),
  });
  const early = await Promise.race([ready.then(() => undefined), done]);
  if (early !== undefined) {
    throw new Error(early.ok ? "the run ended before its probes were attached" : early.error);
  }
  return {
    stop() {
      stop.abort();
      return done;
    },
  };
}
