/**
 * Whether a process's libpq may be probed in the synchronous mode, from the files that call
 * it, and the probe sites on their PLT stubs.
 *
 * A process starts in the asynchronous mode (PQsend* and PQgetResult), which sees every
 * statement. It may turn synchronous (PQexec* at entry and return: two hits per statement
 * instead of seven) when every file of it that imports a PQsend* call reaches it through
 * PLT stubs alone: those stubs are probed in the synchronous mode, so the application's
 * first asynchronous statement is seen there, and libpq's own calls of PQsend* inside
 * PQexec* (through libpq's PLT) are not. A process that calls libpq by addresses it looked
 * up (ctypes, dlsym) shows no import and stays asynchronous. The PQexec* stubs of the same
 * files are probed in the asynchronous mode: a run of them says the process is synchronous.
 *
 * @module
 */
import type { MappedFile, ProcessInfo } from "../discovery/mod.ts";
import { importCalls, openElf } from "../symbols/mod.ts";
import type { SqlLibSite } from "./locate.ts";
import { LIBPQ_APP_PROGRAMS, LIBPQ_EXECS, LIBPQ_SENDS } from "./probes.ts";

interface Stub {
  kind: keyof typeof LIBPQ_APP_PROGRAMS;
  symbol: string;
  offset: number;
}

/** A file's PLT stubs of libpq's calls; `undefined`: it may call a PQsend* past any stub. */
type FileCalls = Stub[] | undefined;

const byFile = new Map<string, FileCalls>();
const MAX_FILES = 4096;

async function callsOf(file: MappedFile): Promise<FileCalls> {
  const key = `${file.device}:${file.inode}`;
  if (byFile.has(key)) return byFile.get(key);
  const opened = await openElf(file);
  // Not remembered: a file that could not be read now may be read by the next process.
  if (!opened.ok) return [];
  let calls: FileCalls = [];
  try {
    const imports = importCalls(opened.elf, [...LIBPQ_EXECS, ...LIBPQ_SENDS]);
    for (const [symbol, c] of imports) {
      const kind = (LIBPQ_SENDS as readonly string[]).includes(symbol) ? "send" : "exec";
      const offsets = c.stubs.map((v) => opened.elf.vaddrToOffset(v));
      const complete = !c.direct && c.stubs.length > 0 && offsets.every((o) => o !== undefined);
      if (!complete && kind === "send") {
        calls = undefined;
        break;
      }
      if (!complete) continue; // some PQexec* calls not seen: fewer runs, no harm
      for (const offset of offsets) calls.push({ kind, symbol, offset: offset! });
    }
  } finally {
    opened.elf.close();
  }
  if (byFile.size >= MAX_FILES) byFile.delete(byFile.keys().next().value!);
  byFile.set(key, calls);
  return calls;
}

/**
 * The sites on the PLT stubs of a process's files other than `libpq` (the file it maps
 * libpq from), each with the mode it is attached in; none when the process must stay
 * asynchronous.
 *
 * @example
 * ```ts ignore
 * const sites = await libpqCallers(process, libpqFile);
 * ```
 */
export async function libpqCallers(proc: ProcessInfo, libpq: MappedFile): Promise<SqlLibSite[]> {
  const sites: SqlLibSite[] = [];
  for (const file of proc.files) {
    if (file.device === libpq.device && file.inode === libpq.inode) continue;
    const calls = await callsOf(file);
    if (calls === undefined) return [];
    for (const s of calls) {
      sites.push({
        library: "libpq",
        file,
        symbol: `${s.symbol}@plt`,
        retprobe: false,
        offset: s.offset,
        ...LIBPQ_APP_PROGRAMS[s.kind],
      });
    }
  }
  // No PQexec* stub: nothing would ever say the process is synchronous.
  return sites.some((s) => s.mode === "async") ? sites : [];
}
