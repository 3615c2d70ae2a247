/**
 * The command line's selectors (`--exe`, `--port`, `--all`, `--container`) as a
 * {@linkcode ProcessWatch}: the processes they match now, each process that executes a
 * program they match, and -- for `--port`, which an exec does not reveal -- a rescan.
 *
 * @module
 */
import {
  exeMatches,
  globToRegExp,
  type Selectors,
  selectProcesses,
} from "./discovery/selectors.ts";
import { parseCgroup } from "./discovery/container.ts";
import type { ProcessWatch } from "./trace.ts";

const PF_KTHREAD = 0x00200000;

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** True when any selector besides `--pid` is given: processes are then watched for. */
export function watchesProcesses(s: Selectors): boolean {
  return Boolean(s.all || s.exes?.length || s.ports?.length || s.containers?.length);
}

/** Watches for processes the selectors match; `log` hears what matched nothing. */
export function selectorWatch(selectors: Selectors, log: (line: string) => void): ProcessWatch {
  const wanted: Selectors = { ...selectors, pids: [] };
  const globs = (selectors.exes ?? []).map((glob) => ({ glob, re: globToRegExp(glob) }));
  const containers = (selectors.containers ?? []).map((c) => c.toLowerCase());
  let lastRescan = 0;
  return {
    many: Boolean(selectors.all),
    async initial() {
      const { matched, problems } = await selectProcesses(wanted);
      for (const p of problems) log(`${p} Watching for one to start.`);
      for (const m of matched) log(`pid ${m.pid} (${m.comm}) matches ${m.why.join("; ")}`);
      return matched.map((m) => m.pid);
    },
    matches(pid) {
      if (pid === Deno.pid) return Promise.resolve(undefined);
      const stat = readText(`/proc/${pid}/stat`);
      if (stat === undefined) return Promise.resolve(undefined);
      const flags = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ", 7)[6] ?? 0);
      if (flags & PF_KTHREAD) return Promise.resolve(undefined);
      if (selectors.all) return Promise.resolve("--all");
      let exe: string | undefined;
      try {
        exe = Deno.readLinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
      } catch { /* gone, or not ours to read */ }
      for (const g of globs) {
        if (exe !== undefined && exeMatches(g.glob, exe, g.re)) {
          return Promise.resolve(`--exe ${g.glob}: ${exe}`);
        }
      }
      if (containers.length > 0) {
        const id = parseCgroup(readText(`/proc/${pid}/cgroup`) ?? "")?.id;
        const prefix = id && containers.find((c) => id.startsWith(c));
        if (prefix) return Promise.resolve(`--container ${prefix}: ${id.slice(0, 12)}`);
      }
      return Promise.resolve(undefined);
    },
    async rescan() {
      // Listening starts after exec: look again, at most every two seconds.
      if (!selectors.ports?.length || performance.now() - lastRescan < 2000) return [];
      lastRescan = performance.now();
      const { matched } = await selectProcesses({ ports: selectors.ports });
      return matched.map((m) => m.pid);
    },
  };
}
