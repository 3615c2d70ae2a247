/**
 * A Go executable opened for probing: its build information, its function table, the
 * machine code of a function and the offsets of its `RET` instructions, and its DWARF
 * (when not stripped). Built on the lazy ELF reader: only the sections asked for are
 * read, each once.
 *
 * @module
 */

import type { MappedFile } from "../../discovery/mod.ts";
import { type ElfFile, openElf, parseElf, PT_LOAD } from "../elf.ts";
import { type GoBuildInfoResult, parseBuildInfo } from "./buildinfo.ts";
import {
  type GoFunction,
  parsePclntab,
  type Pclntab,
  PCLNTAB_MAGIC_118,
  PCLNTAB_MAGIC_120,
  pclntabMagic,
} from "./pclntab.ts";
import { findRets } from "./x86_ret.ts";
import { callSites, nextEmulated } from "./call_sites.ts";
import { type DwarfResult, readDwarf } from "./dwarf.ts";
import { goOffsets } from "./offsets.ts";

/** A function located in the file: addresses plus the file offset a uprobe attaches at. */
export interface GoFunctionLocation extends GoFunction {
  /** File offset of `entry`. */
  fileOffset: number;
}

/** RET offsets of a function, or why they are not known. */
export type GoRetResult =
  | { ok: true; function: GoFunctionLocation; offsets: number[]; fileOffsets: number[] }
  | { ok: false; error: string };

/** Member offsets of one struct, and where they came from. */
export type GoStructResult =
  | { ok: true; source: "dwarf" | "table"; members: Record<string, number> }
  | { ok: false; error: string };

/** What {@linkcode openGoBinary} returns. */
export type GoBinaryResult = { ok: true; binary: GoBinary } | { ok: false; error: string };

const AMD64 = 62;
/** Moduledata field offsets (Go 1.18+, 64-bit): funcnametab pointer, text. */
const MD_FUNCNAMETAB = 8;
const MD_TEXT = 176;

/**
 * Opens the Go executable at `path`. Never throws: a missing file, a non-ELF file or an
 * ELF file without Go build information gives `{ ok: false, error }`.
 *
 * @example
 * ```ts
 * import { openGoBinary } from "./go_binary.ts";
 *
 * const opened = await openGoBinary("/usr/local/bin/server");
 * if (!opened.ok) throw new Error(opened.error);
 * using bin = opened.binary;
 * const rets = bin.retOffsets("net/http.serverHandler.ServeHTTP");
 * ```
 */
export async function openGoBinary(path: string | MappedFile): Promise<GoBinaryResult> {
  const opened = await openElf(path);
  if (!opened.ok) return opened;
  return goBinaryFromElf(opened.elf);
}

/** Like {@linkcode openGoBinary}, over bytes in memory (for tests and fuzzing). */
export function parseGoBinary(bytes: Uint8Array, name = "the input"): GoBinaryResult {
  const opened = parseElf(bytes, { name });
  if (!opened.ok) return opened;
  return goBinaryFromElf(opened.elf);
}

function goBinaryFromElf(elf: ElfFile): GoBinaryResult {
  const path = elf.path;
  const binary = new GoBinary(elf);
  const marked = elf.section(".go.buildinfo") !== undefined ||
    elf.section(".gopclntab") !== undefined || elf.findSymbol("runtime.pclntab") !== undefined;
  // Without section headers, only a scan for the build info's magic can tell.
  if (marked || (elf.sections.length === 0 && binary.buildInfo().ok)) {
    return { ok: true, binary };
  }
  elf.close();
  return { ok: false, error: `${path} is not a Go executable (no .go.buildinfo or .gopclntab)` };
}

/**
 * An open Go executable. Results are computed on first use and cached; close it (or
 * declare it with `using`) to release the file.
 */
export class GoBinary {
  /** The underlying ELF file. */
  readonly elf: ElfFile;
  #buildInfo?: GoBuildInfoResult;
  #pcln?: { ok: true; table: Pclntab } | { ok: false; error: string };
  #dwarf?: DwarfResult;

  /** Use {@linkcode openGoBinary}. */
  constructor(elf: ElfFile) {
    this.elf = elf;
  }

  /** The file's path. */
  get path(): string {
    return this.elf.path;
  }

  /** Go version, main module and dependencies from `.go.buildinfo`. */
  buildInfo(): GoBuildInfoResult {
    if (this.#buildInfo === undefined) {
      const bytes = this.elf.readSection(".go.buildinfo") ?? this.#findBuildInfo();
      const parsed = bytes === undefined
        ? { ok: false as const, error: "it has no Go build information (.go.buildinfo)" }
        : parseBuildInfo(bytes, (addr, len) => this.#readVirtual(addr, len));
      this.#buildInfo = parsed.ok ? parsed : { ok: false, error: `${this.path}: ${parsed.error}` };
    }
    return this.#buildInfo;
  }

  /** The toolchain version (`go1.22.12`), or undefined when the build info is unreadable. */
  get version(): string | undefined {
    const info = this.buildInfo();
    return info.ok ? info.info.goVersion : undefined;
  }

  /** The function table, parsed on first use. */
  pclntab(): { ok: true; table: Pclntab } | { ok: false; error: string } {
    if (this.#pcln === undefined) this.#pcln = this.#loadPclntab();
    return this.#pcln;
  }

  /** The function called exactly `name`, with its file offset, or undefined. */
  findFunction(name: string): GoFunctionLocation | undefined {
    return this.findFunctions([name]).get(name);
  }

  /** The functions called each of `names`, found in one pass; absent names are omitted. */
  findFunctions(names: readonly string[]): Map<string, GoFunctionLocation> {
    const out = new Map<string, GoFunctionLocation>();
    const pcln = this.pclntab();
    if (!pcln.ok) return out;
    for (const [name, fn] of pcln.table.findAll(names)) {
      const fileOffset = this.elf.vaddrToOffset(fn.entry);
      if (fileOffset !== undefined) out.set(name, { ...fn, fileOffset });
    }
    return out;
  }

  /** The machine code of `fn` (from entry to end), or undefined when outside the file. */
  code(fn: GoFunction): Uint8Array | undefined {
    const offset = this.elf.vaddrToOffset(fn.entry);
    if (offset === undefined || fn.end <= fn.entry) return undefined;
    return this.elf.read(offset, fn.end - fn.entry);
  }

  /**
   * Offsets of every `RET` of the function `name`, from its entry (`offsets`) and in the
   * file (`fileOffsets`, where uprobes attach). Only for x86-64 binaries.
   */
  retOffsets(name: string | GoFunctionLocation): GoRetResult {
    if (this.elf.header.machine !== AMD64) {
      return { ok: false, error: `${this.path} is not an x86-64 binary` };
    }
    const fn = typeof name === "string" ? this.findFunction(name) : name;
    if (fn === undefined) {
      const pcln = this.pclntab();
      return {
        ok: false,
        error: pcln.ok ? `${this.path} has no function ${name}` : pcln.error,
      };
    }
    const code = this.code(fn);
    if (code === undefined) {
      return { ok: false, error: `${this.path}: the code of ${fn.name} lies outside the file` };
    }
    const scan = findRets(code);
    if (!scan.ok) return { ok: false, error: `${this.path}: ${fn.name}: ${scan.error}` };
    return {
      ok: true,
      function: fn,
      offsets: scan.offsets,
      fileOffsets: scan.offsets.map((o) => fn.fileOffset + o),
    };
  }

  /**
   * File offsets of the direct calls in `fn` of the function whose entry is `target`, or
   * with `after`, of the first instruction after each that the kernel emulates (calls with
   * none are left out). Empty when the code cannot be walked.
   */
  callOffsets(fn: GoFunctionLocation, target: number, after = false): number[] {
    const code = this.elf.header.machine === AMD64 ? this.code(fn) : undefined;
    if (code === undefined) return [];
    const calls = callSites(code, fn.entry, target);
    const sites = after ? calls.map((at) => nextEmulated(code, at + 5)) : calls;
    return sites.filter((at) => at !== undefined).map((at) => fn.fileOffset + at);
  }

  /** The DWARF debugging information, when the binary has it (not `-w`). */
  dwarf(): DwarfResult {
    this.#dwarf ??= readDwarf(this.elf);
    return this.#dwarf;
  }

  /**
   * Member offsets of struct `name` (`net/http.Request`): from the binary's DWARF when it
   * has some, else from the measured table for its exact Go version (see `offsets.ts`).
   * A member absent from the result does not exist in this version (or, from the table,
   * was not measured).
   */
  structOffsets(name: string): GoStructResult {
    const dwarf = this.dwarf();
    if (dwarf.ok) {
      const members = dwarf.dwarf.structMembers(name);
      if (members !== undefined) {
        return { ok: true, source: "dwarf", members: Object.fromEntries(members) };
      }
    }
    const version = this.buildInfo();
    if (!version.ok) return { ok: false, error: version.error };
    const table = goOffsets(version.info.goVersion);
    if (!table.ok) return { ok: false, error: table.error };
    const members = table.offsets[name];
    if (members === undefined) {
      return { ok: false, error: `no offsets are known for ${name} in ${table.version}` };
    }
    return { ok: true, source: "table", members };
  }

  /** Closes the file. */
  close(): void {
    this.elf.close();
  }

  /** Closes the file at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #readVirtual(vaddr: number, length: number): Uint8Array | undefined {
    const offset = this.elf.vaddrToOffset(vaddr);
    if (offset === undefined || length > 64 * 1024 * 1024) return undefined;
    return this.elf.read(offset, length);
  }

  /** Build info without a section header: the magic at a 16-byte boundary of a segment. */
  #findBuildInfo(): Uint8Array | undefined {
    const magic = Uint8Array.from([0xff, ...new TextEncoder().encode(" Go buildinf:")]);
    for (const ph of this.elf.programHeaders) {
      if (ph.type !== PT_LOAD || (ph.flags & 2) === 0 || ph.filesz > 64 * 1024 * 1024) continue;
      const bytes = this.elf.read(ph.offset, ph.filesz);
      if (bytes === undefined) continue;
      for (let i = 0; i + 32 <= bytes.length; i += 16) {
        if (bytes[i] === 0xff && startsWith(bytes, i, magic)) return bytes.subarray(i);
      }
    }
    return undefined;
  }

  #loadPclntab(): { ok: true; table: Pclntab } | { ok: false; error: string } {
    const located = this.#locatePclntab();
    if (located === undefined) {
      return { ok: false, error: `${this.path} has no Go function table (.gopclntab)` };
    }
    const { bytes, vaddr } = located;
    const result = parsePclntab(bytes, { textStart: this.#textStart(vaddr, bytes) });
    if (!result.ok) return { ok: false, error: `${this.path}: ${result.error}` };
    return result;
  }

  #locatePclntab(): { bytes: Uint8Array; vaddr: number } | undefined {
    const section = this.elf.section(".gopclntab");
    if (section !== undefined) {
      const bytes = this.elf.readSection(section);
      return bytes && { bytes, vaddr: section.addr };
    }
    // No section header (some packers drop them): the symbol, else scan for the magic.
    const sym = this.elf.findSymbol("runtime.pclntab") ?? this.elf.findSymbol("runtime.pcheader");
    if (sym !== undefined && sym.value !== 0) {
      const seg = this.#segmentOf(sym.value);
      const offset = this.elf.vaddrToOffset(sym.value);
      if (seg !== undefined && offset !== undefined) {
        const bytes = this.elf.read(offset, seg.offset + seg.filesz - offset);
        return bytes && { bytes, vaddr: sym.value };
      }
    }
    for (const ph of this.elf.programHeaders) {
      if (ph.type !== PT_LOAD || (ph.flags & 1) !== 0 || ph.filesz > 256 * 1024 * 1024) continue;
      const bytes = this.elf.read(ph.offset, ph.filesz);
      if (bytes === undefined) continue;
      for (let i = 0; i + 64 <= bytes.length; i += 8) {
        const magic = pclntabMagic(bytes.subarray(i, i + 4));
        if (
          (magic === PCLNTAB_MAGIC_120 || magic === PCLNTAB_MAGIC_118) && bytes[i + 4] === 0 &&
          bytes[i + 5] === 0 && bytes[i + 6] === 1 && bytes[i + 7] === 8
        ) {
          const candidate = bytes.subarray(i);
          const parsed = parsePclntab(candidate, { textStart: 1 });
          if (parsed.ok) return { bytes: candidate, vaddr: ph.vaddr + i };
        }
      }
    }
    return undefined;
  }

  /**
   * Where Go's code starts, for tables that do not record it (Go 1.26+): the
   * `runtime.text` symbol, else the moduledata's `text` field (found by its pointer to
   * the table), else the `.text` section.
   */
  #textStart(pclnVaddr: number, pcln: Uint8Array): number | undefined {
    const sym = this.elf.findSymbol("runtime.text");
    if (sym !== undefined && sym.value !== 0) return sym.value;
    const fromModule = this.#moduledataText(pclnVaddr, pcln);
    if (fromModule !== undefined) return fromModule;
    return this.elf.section(".text")?.addr;
  }

  #moduledataText(pclnVaddr: number, pcln: Uint8Array): number | undefined {
    if (pcln.length < 40) return undefined;
    const view = new DataView(pcln.buffer, pcln.byteOffset, pcln.byteLength);
    const funcnameOff = view.getUint32(32, true) + view.getUint32(36, true) * 0x1_0000_0000;
    // Where moduledata lives: its own section (Go 1.26+), else the data sections; with no
    // section headers at all, the writable segments.
    const regions: { offset: number; size: number }[] = [];
    for (const name of [".go.module", ".noptrdata", ".data"]) {
      const s = this.elf.section(name);
      if (s !== undefined) regions.push({ offset: s.offset, size: s.size });
    }
    if (this.elf.sections.length === 0) {
      for (const ph of this.elf.programHeaders) {
        if (ph.type === PT_LOAD && (ph.flags & 2) !== 0) {
          regions.push({ offset: ph.offset, size: ph.filesz });
        }
      }
    }
    for (const region of regions) {
      if (region.size > 64 * 1024 * 1024) continue;
      const bytes = this.elf.read(region.offset, region.size);
      if (bytes === undefined) continue;
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i + MD_TEXT + 8 <= bytes.length; i += 8) {
        if (u64(v, i) !== pclnVaddr) continue;
        if (u64(v, i + MD_FUNCNAMETAB) !== pclnVaddr + funcnameOff) continue;
        const text = u64(v, i + MD_TEXT);
        const seg = this.#segmentOf(text);
        if (seg !== undefined && (seg.flags & 1) !== 0) return text;
      }
    }
    return undefined;
  }

  #segmentOf(vaddr: number) {
    return this.elf.programHeaders.find((ph) =>
      ph.type === PT_LOAD && vaddr >= ph.vaddr && vaddr < ph.vaddr + ph.filesz
    );
  }
}

function u64(v: DataView, o: number): number {
  return v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000;
}

function startsWith(bytes: Uint8Array, at: number, prefix: Uint8Array): boolean {
  for (let k = 0; k < prefix.length; k++) if (bytes[at + k] !== prefix[k]) return false;
  return true;
}
