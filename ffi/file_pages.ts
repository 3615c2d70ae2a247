/**
 * The agent's resident memory is mostly pages of files it has mapped: the Deno executable
 * (~100 MB, of which start-up touches ~40 MB: module loading, the runtime's snapshot, code
 * that runs once) and its libraries. Once the probes are attached, the pages of those
 * mappings that were only read are taken out of the agent's page tables; what the agent
 * still runs comes back from the page cache on its next touch (a minor fault). The kernel
 * drops such clean pages under memory pressure anyway; this drops them while they are idle.
 *
 * @module
 */
import { unmapCleanPages } from "./libc.ts";

/** A mapping from `/proc/PID/smaps`, the fields read here. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  path: string;
  /** Resident, KiB. */
  rss: number;
}

const HEAD = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+ *(.*)$/;

/**
 * The file mappings in `smaps` that nothing has written: not writable, and no page of them
 * copied on write (`Anonymous: 0 kB`; a library's relocated read-only data has such pages).
 * Lines it does not know are skipped.
 */
export function cleanFileMappings(smaps: string): FileMapping[] {
  const out: FileMapping[] = [];
  let current: FileMapping | undefined;
  let anonymous = -1;
  const close = () => {
    if (current && anonymous === 0) out.push(current);
    current = undefined;
  };
  for (const line of smaps.split("\n")) {
    const head = HEAD.exec(line);
    if (head) {
      close();
      const [, start, end, perms, path = ""] = head;
      if (!perms!.includes("w") && path.startsWith("/")) {
        current = { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), path, rss: 0 };
        anonymous = -1;
      }
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Anonymous): +(\d+) kB$/.exec(line);
    if (field?.[1] === "Rss") current.rss = Number(field[2]);
    else if (field?.[1] === "Anonymous") anonymous = Number(field[2]);
  }
  close();
  // V8 keeps the last match's subject (`RegExp.lastMatch`), here a slice of `smaps`: it held
  // the whole text (~250 KB) until a match elsewhere (a heap snapshot showed it 15 s on).
  HEAD.exec("");
  return out;
}

/**
 * Takes this process's clean file pages (see {@link cleanFileMappings}) out of its resident
 * memory; returns how many KiB were resident in the mappings released.
 */
export function releaseFilePages(): number {
  let smaps: string;
  try {
    smaps = Deno.readTextFileSync("/proc/self/smaps");
  } catch {
    return 0; // no /proc: nothing to go by
  }
  let released = 0;
  for (const m of cleanFileMappings(smaps)) {
    if (m.rss > 0 && unmapCleanPages(m.start, m.end - m.start)) released += m.rss;
  }
  return released;
}
