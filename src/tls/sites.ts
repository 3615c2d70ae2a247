/**
 * Reads a TLS library's probe table against a file: each row's function found by name (in
 * the ELF symbol table, or Go's function table) and turned into file offsets. What each file
 * held is kept once, by library and file identity (device and inode): the hundredth process
 * that maps a library costs a lookup here, not another read. The cache is bounded.
 *
 * @module
 */
import type { MappedFile } from "../discovery/mod.ts";
import { type ElfFile, entryShiftAt, openElf } from "../symbols/mod.ts";
import { type GoBinary, openGoBinary } from "../symbols/go/mod.ts";
import type { ProbeSite, TlsLibrary } from "./library.ts";
import { innerCall } from "./inner_call.ts";

type Sites = Omit<ProbeSite, "file">[];

const byFile = new Map<string, Sites | string>();
const MAX_FILES = 4096;

/**
 * The library's probe sites in `file`, or why it has none (it does not define a function the
 * table needs, or could not be read).
 *
 * @example
 * ```ts ignore
 * const sites = await librarySites(OPENSSL, process.files[0]!);
 * if (typeof sites !== "string") probes.attach(sites, process.pid);
 * ```
 */
export async function librarySites(
  library: TlsLibrary,
  file: MappedFile,
): Promise<ProbeSite[] | string> {
  const key = `${library.name}@${file.device}:${file.inode}`;
  let found = byFile.get(key);
  if (found === undefined) {
    const read = await (library.symbols === "go" ? goSites : elfSites)(library, file);
    // Not remembered when the file could not be opened: the path goes through
    // /proc/PID/root, and a process that exited while being read says nothing about the
    // file, which the next process may map.
    if (!read.opened) return read.error;
    found = read.sites;
    if (byFile.size >= MAX_FILES) byFile.delete(byFile.keys().next().value!);
    byFile.set(key, found);
  }
  return typeof found === "string" ? found : found.map((site) => ({ ...site, file }));
}

type Read = { opened: false; error: string } | { opened: true; sites: Sites | string };

async function elfSites(library: TlsLibrary, file: MappedFile): Promise<Read> {
  const opened = await openElf(file);
  if (!opened.ok) return { opened: false, error: opened.error };
  const elf = opened.elf;
  try {
    const moved = new Map<string, number>();
    for (const { plain, ex } of library.inner ?? []) {
      const at = innerCall(elf, plain, ex);
      if (at !== undefined) moved.set(ex, at).set(plain, -1);
    }
    const table = { ...library, probes: library.probes.filter((p) => moved.get(p.symbol) !== -1) };
    return {
      opened: true,
      sites: tableSites(table, file, elf, (symbol) => moved.get(symbol) ?? offsetIn(elf, symbol)),
    };
  } finally {
    elf.close();
  }
}

/** A function defined here: an undefined import or a PLT stub is not the library. */
function offsetIn(elf: ElfFile, symbol: string): number | undefined {
  const sym = elf.findSymbol(symbol);
  const defined = sym?.defined && sym.type === "FUNC" && sym.value !== 0;
  return defined ? elf.vaddrToOffset(sym.value) : undefined;
}

async function goSites(library: TlsLibrary, file: MappedFile): Promise<Read> {
  const opened = await openGoBinary(file);
  if (!opened.ok) return { opened: false, error: opened.error }; // not Go, or gone
  using bin = opened.binary;
  const fns = bin.findFunctions([...new Set(library.probes.map((p) => p.symbol))]);
  return {
    opened: true,
    sites: tableSites(
      library,
      file,
      bin.elf,
      (symbol) => fns.get(symbol)?.fileOffset,
      (symbol) => rets(bin, symbol),
    ),
  };
}

function rets(bin: GoBinary, symbol: string): number[] | string {
  const r = bin.retOffsets(symbol);
  if (!r.ok) return r.error;
  return r.fileOffsets.length ? r.fileOffsets : `no RET found in ${symbol}`;
}

/**
 * Walks the table: a site per row (per `RET` for `at: "rets"`), or what is missing. Entry and
 * return probes sit where {@linkcode entryShiftAt} says a hit costs least.
 */
function tableSites(
  library: TlsLibrary,
  file: MappedFile,
  elf: ElfFile,
  entry: (symbol: string) => number | undefined,
  returns?: (symbol: string) => number[] | string,
): Sites | string {
  const sites: Sites = [];
  for (const probe of library.probes) {
    const site = (offset: number, shift = 0) => ({
      symbol: probe.symbol,
      program: probe.program,
      retprobe: probe.at === "return",
      offset: offset + shift,
      shift,
    });
    const offset = entry(probe.symbol);
    if (offset === undefined) {
      if (probe.optional) continue;
      return `${file.path} does not define ${probe.symbol}`;
    }
    if (probe.at !== "rets") {
      sites.push(site(offset, entryShiftAt(elf, offset)));
      continue;
    }
    const found = returns ? returns(probe.symbol) : `no RET probes on ${library.name}`;
    if (typeof found === "string") return found;
    sites.push(...found.map((at) => site(at)));
  }
  return sites;
}
