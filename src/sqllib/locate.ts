/**
 * Where the SQL client libraries are in a process, and what to attach there: a mapped
 * `libpq*.so*`, `libmariadb.so*`/`libmysqlclient.so*` or `libsqlite3.so*`, or an
 * executable that has one linked in and exports its functions (MariaDB's `mariadb` client
 * does). For each, the probe sites of its table and the member offsets its accessors give.
 *
 * @module
 */
import type { MappedFile, ProcessInfo } from "../discovery/mod.ts";
import { type ElfFile, entryShiftAt, openElf, PT_LOAD } from "../symbols/mod.ts";
import { decodeAccessor } from "./accessor.ts";
import { libpqCallers } from "./callers.ts";
import {
  type LibpqMode,
  LIBRARY_MARKER,
  libraryOfPath,
  PG_MESSAGE_FIELD,
  SQL_ACCESSORS,
  SQL_PROBES,
  type SqlLibrary,
} from "./probes.ts";

/** `struct sqllib_proc`'s marker for a member that is not known. */
export const SQL_OFFSET_ABSENT = 0xffffffff;

/** A probe to place: a program at a file offset. */
export interface SqlLibSite {
  library: SqlLibrary;
  file: MappedFile;
  symbol: string;
  program: string;
  retprobe: boolean;
  /** File offset of the probed instruction. */
  offset: number;
  /** libpq: attached in this mode of the process only. */
  mode?: LibpqMode;
  /** How far past the function's entry that is (see `entryShift`): the program's cookie. */
  shift?: number;
}

/** One library found in a process. */
export interface SqlLibFound {
  library: SqlLibrary;
  file: MappedFile;
  sites: SqlLibSite[];
  /** `struct sqllib_proc` fields this library fills, by field name. */
  offsets: Record<string, number>;
}

/** Every library found in a process, with what could not be used and why. */
export interface SqlLibLocation {
  libraries: SqlLibFound[];
  /** All sites of all libraries. */
  sites: SqlLibSite[];
  /** The process's `struct sqllib_proc`, by field name (absent members as {@linkcode SQL_OFFSET_ABSENT}). */
  offsets: Record<string, number>;
  /** Libraries seen but not usable (`/usr/lib/.../libpq.so.5: PQresultStatus not decoded`). */
  problems: string[];
  /** With libpq: whether it may be probed in the synchronous mode (`sites` hold its sites). */
  libpqSync?: boolean;
}

type FileFacts = { sites: Omit<SqlLibSite, "file">[]; offsets: Record<string, number> } | string;

/** What each file held, by identity and library: a library shared by many processes is read once. */
const byFile = new Map<string, FileFacts>();
const MAX_FILES = 4096;

function functionOffset(elf: ElfFile, symbol: string): number | undefined {
  // Only a function defined here: an undefined import or a PLT stub is not the library.
  const sym = elf.findSymbol(symbol);
  const defined = sym?.defined && sym.type === "FUNC" && sym.value !== 0;
  return defined ? elf.vaddrToOffset(sym.value) : undefined;
}

/** Reads one library's sites and accessor offsets out of an ELF file. */
export function readLibrary(
  elf: ElfFile,
  library: SqlLibrary,
  path: string,
  inExecutable = false,
): FileFacts {
  const sites: Omit<SqlLibSite, "file">[] = [];
  for (const spec of SQL_PROBES[library]) {
    const offset = functionOffset(elf, spec.symbol);
    if (offset === undefined) {
      if (spec.optional) continue;
      return `${path} does not define ${spec.symbol}`;
    }
    const shift = entryShiftAt(elf, offset);
    sites.push({
      library,
      symbol: spec.symbol,
      program: spec.program,
      retprobe: !!spec.retprobe,
      offset: offset + shift,
      shift,
      ...(spec.mode ? { mode: spec.mode } : {}),
    });
  }
  const offsets: Record<string, number> = library === "libpq" ? { ...PG_MESSAGE_FIELD } : {};
  for (const spec of SQL_ACCESSORS[library]) {
    const at = functionOffset(elf, spec.symbol);
    const code = at === undefined ? undefined : elf.read(at, 32);
    const acc = code && decodeAccessor(code);
    if (!acc || acc.kind !== spec.kind || acc.offset < 0) {
      if (spec.optional) continue;
      return `${path}: cannot read the ${spec.field} offset from ${spec.symbol}'s code`;
    }
    offsets[spec.field] = acc.offset;
    // sqlite3_stmt_busy: `p->eVdbeState == VDBE_RUN_STATE`; halted is the next state.
    if (spec.field === "lite_state") offsets.lite_run_state = acc.immediate ?? SQL_OFFSET_ABSENT;
  }
  // SQLite's own sqlite3_exec calls (schema reads, DDL) are told apart by their return
  // address; not when SQLite is in the executable, where the application's code is too.
  const exec = elf.findSymbol("sqlite3_exec");
  if (library === "sqlite" && !inExecutable && exec && exec.value < 2 ** 32) {
    let size = 0;
    for (const ph of elf.programHeaders) {
      if (ph.type === PT_LOAD) size = Math.max(size, ph.vaddr + ph.memsz);
    }
    if (size < 2 ** 32) {
      offsets.lite_exec_vaddr = exec.value;
      offsets.lite_image_size = size;
    }
  }
  return { sites, offsets };
}

async function factsOf(
  file: MappedFile,
  library: SqlLibrary,
  inExecutable: boolean,
): Promise<FileFacts> {
  const key = `${file.device}:${file.inode}:${library}`;
  let facts = byFile.get(key);
  if (facts === undefined) {
    const opened = await openElf(file);
    // Not remembered: the path goes through /proc/PID/root, and a process that exited
    // while being read says nothing about the file, which the next process may map.
    if (!opened.ok) return `${file.path}: ${opened.error}`;
    try {
      facts = readLibrary(opened.elf, library, file.path, inExecutable);
    } finally {
      opened.elf.close();
    }
    if (byFile.size >= MAX_FILES) byFile.delete(byFile.keys().next().value!);
    byFile.set(key, facts);
  }
  return facts;
}

async function exeHas(file: MappedFile, library: SqlLibrary): Promise<boolean> {
  const opened = await openElf(file);
  if (!opened.ok) return false;
  try {
    return functionOffset(opened.elf, LIBRARY_MARKER[library]) !== undefined;
  } finally {
    opened.elf.close();
  }
}

/**
 * Finds libpq, the MySQL client library and SQLite in a process: mapped shared libraries
 * first, then the executable itself for any not found that way.
 *
 * @example
 * ```ts ignore
 * const found = await locateSqlLibraries(process);
 * for (const lib of found.libraries) console.log(lib.library, lib.file.path, lib.sites.length);
 * ```
 */
export async function locateSqlLibraries(proc: ProcessInfo): Promise<SqlLibLocation> {
  const libraries: SqlLibFound[] = [];
  const problems: string[] = [];
  const have = new Set<SqlLibrary>();
  const use = async (file: MappedFile, library: SqlLibrary, inExecutable = false) => {
    const facts = await factsOf(file, library, inExecutable);
    if (typeof facts === "string") {
      problems.push(facts);
      return;
    }
    have.add(library);
    libraries.push({
      library,
      file,
      sites: facts.sites.map((s) => ({ ...s, file })),
      offsets: facts.offsets,
    });
  };
  for (const file of proc.files) {
    const library = libraryOfPath(file.path);
    if (library && !have.has(library)) await use(file, library);
  }
  const exe = proc.files.find((f) => f.path === proc.exe);
  if (exe) {
    for (const library of ["libpq", "mysql", "sqlite"] as const) {
      if (!have.has(library) && await exeHas(exe, library)) await use(exe, library, true);
    }
  }
  const offsets: Record<string, number> = {};
  for (const lib of libraries) Object.assign(offsets, lib.offsets);
  const sites = libraries.flatMap((l) => l.sites);
  const libpq = libraries.find((l) => l.library === "libpq");
  if (!libpq) return { libraries, sites, offsets, problems };
  const callers = await libpqCallers(proc, libpq.file);
  const libpqSync = callers.length > 0;
  // The synchronous mode's own sites are of no use to a process that never turns so.
  const kept = libpqSync ? sites : sites.filter((s) => s.mode !== "sync");
  return { libraries, sites: [...kept, ...callers], offsets, problems, libpqSync };
}
