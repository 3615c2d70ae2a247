/**
 * Noticing processes as they start, exec and exit, by polling /proc: one readdir of /proc
 * per interval, then only /proc/PID/stat of each known process. Its start time (field 22)
 * tells a reused pid from the process that had it; its `comm` changing tells an exec. A
 * BPF `sched_process_exec` tracepoint can replace this where it is loaded; the callbacks
 * stay the same.
 *
 * @module
 */

/** A process as the watcher reports it. */
export interface WatchedProcess {
  pid: number;
  /** The kernel's short name (`comm`). */
  comm: string;
  /** The executable path inside the process's mount namespace ("" when unreadable). */
  exe: string;
  /** Start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  startTime: number;
}

/** Why {@link WatchOptions.onExec} was called. */
export type ExecReason =
  /** A pid not seen before (or, with `initial`, present at the start). */
  | "new"
  /** A known process whose `comm` changed: it called execve. */
  | "exec"
  /** A known pid that now belongs to another process (the old one exited). */
  | "reused";

/** Options for {@link watchProcesses}. */
export interface WatchOptions {
  /** How often /proc is read, in milliseconds. Default 500: an exec is noticed within about half a second, at ~5% of a core per 1,000 processes. */
  intervalMs?: number;
  /** Only processes for which this returns true are reported. Default: all. */
  filter?: (p: WatchedProcess) => boolean;
  /** A process started, exec'd a new program, or took over a reused pid. */
  onExec?: (p: WatchedProcess, reason: ExecReason) => void;
  /** A reported process exited (or exec'd into one the filter refuses). */
  onExit?: (pid: number) => void;
  /** Report the processes already running at the start as "new". Default false. */
  initial?: boolean;
  /** Stops watching when aborted. */
  signal?: AbortSignal;
  /** Pids never reported. Default: upspan's own. */
  exclude?: number[];
  /** The proc file system. Default `/proc`. */
  procRoot?: string;
}

const PF_KTHREAD = 0x00200000;

interface Known {
  startTime: number;
  comm: string;
  /** Whether it passed the filter and was reported. */
  reported: boolean;
}

/** Parsed fields of /proc/PID/stat that the watcher needs; undefined when unreadable. */
function readStat(
  root: string,
  pid: number,
): { comm: string; startTime: number; kthread: boolean; zombie: boolean } | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${root}/${pid}/stat`);
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(")");
  // After "pid (comm) ": state is field 3, flags field 9, starttime field 22.
  const rest = text.slice(close + 2).split(" ", 20);
  return {
    comm: text.slice(text.indexOf("(") + 1, close),
    startTime: Number(rest[19] ?? 0),
    kthread: (Number(rest[6] ?? 0) & PF_KTHREAD) !== 0,
    zombie: rest[0] === "Z" || rest[0] === "X",
  };
}

function readExe(root: string, pid: number): string {
  try {
    return Deno.readLinkSync(`${root}/${pid}/exe`).replace(/ \(deleted\)$/, "");
  } catch {
    return "";
  }
}

/**
 * Watches for processes that start, exec or exit until `signal` aborts; resolves then.
 * Callbacks run synchronously inside the poll; an exception from one stops the watch and
 * rejects the promise.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * watchProcesses({
 *   filter: (p) => p.comm.startsWith("python"),
 *   onExec: (p, why) => console.log(why, p.pid, p.exe),
 *   onExit: (pid) => console.log("exit", pid),
 *   signal: ac.signal,
 * });
 * ```
 */
export async function watchProcesses(opts: WatchOptions): Promise<void> {
  const root = opts.procRoot ?? "/proc";
  const interval = opts.intervalMs ?? 500;
  const exclude = new Set(opts.exclude ?? [Deno.pid]);
  const filter = opts.filter ?? (() => true);
  const known = new Map<number, Known>();
  let first = true;

  const consider = (pid: number, comm: string, startTime: number, reason: ExecReason) => {
    const p: WatchedProcess = { pid, comm, exe: readExe(root, pid), startTime };
    const report = filter(p);
    known.set(pid, { startTime, comm, reported: report });
    if (report) opts.onExec?.(p, reason);
  };

  const poll = () => {
    const seen = new Set<number>();
    for (const entry of Deno.readDirSync(root)) {
      const c = entry.name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry.name);
      if (exclude.has(pid)) continue;
      seen.add(pid);
      const s = readStat(root, pid);
      const k = known.get(pid);
      if (!s || s.zombie) {
        // Gone between the readdir and the read, or exited and not yet reaped.
        if (k) {
          known.delete(pid);
          if (k.reported) opts.onExit?.(pid);
        }
        continue;
      }
      if (s.kthread) continue;
      if (!k) {
        if (first && !opts.initial) known.set(pid, { ...s, reported: false });
        else consider(pid, s.comm, s.startTime, "new");
      } else if (k.startTime !== s.startTime) {
        if (k.reported) opts.onExit?.(pid);
        consider(pid, s.comm, s.startTime, "reused");
      } else if (k.comm !== s.comm) {
        const wasReported = k.reported;
        consider(pid, s.comm, s.startTime, "exec");
        if (wasReported && !known.get(pid)!.reported) opts.onExit?.(pid);
      }
    }
    for (const [pid, k] of known) {
      if (seen.has(pid)) continue;
      known.delete(pid);
      if (k.reported) opts.onExit?.(pid);
    }
    first = false;
  };

  const signal = opts.signal;
  while (!signal?.aborted) {
    poll();
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, interval);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
