/**
 * A lazy ELF64 little-endian reader: headers, sections, symbols with GNU versions, the
 * build id, and the virtual-address -> file-offset mapping a uprobe needs.
 *
 * Opening reads only the ELF header, the program headers, the section headers and the
 * section-name table. Symbol tables and notes are read on first use, one positioned read
 * per table, and cached until {@linkcode ElfFile.close}. Layouts follow `Elf64_Ehdr`,
 * `Elf64_Phdr` and `Elf64_Shdr` in glibc's `elf.h`.
 *
 * Bytes are untrusted: nothing here throws on corrupt or hostile input. Opening returns
 * `{ ok: false, error }` with one sentence; methods of an opened file return `undefined`
 * or an empty list and record a sentence in {@linkcode ElfFile.warnings}.
 *
 * @example Where to place a uprobe on SSL_write
 * ```ts
 * import { openElf } from "./elf.ts";
 *
 * const opened = await openElf("/lib/x86_64-linux-gnu/libssl.so.3");
 * if (!opened.ok) throw new Error(opened.error);
 * using elf = opened.elf;
 * const sym = elf.findSymbol("SSL_write"); // SSL_write@@OPENSSL_3.0.0
 * const offset = sym && elf.vaddrToOffset(sym.value);
 * ```
 *
 * @module
 */

import { type MappedFile, openMappedFile } from "../discovery/mod.ts";
import { cString, dataView, u64 } from "./_elf_bytes.ts";
import { FileReader, inRange, MemoryReader } from "./elf_reader.ts";
import type { ElfReader } from "./elf_reader.ts";
import { buildIdFromNotes, parseNotes } from "./elf_note.ts";
import type { ElfNote } from "./elf_note.ts";
import {
  parseSymbolQuery,
  readVersionDefinitions,
  readVersionNeeds,
  SYMBOL_SIZE,
  symbolRank,
  SymbolTable,
} from "./elf_symbol.ts";
import type { ElfSymbol, ElfSymbolTableKind, SymbolVersions } from "./elf_symbol.ts";

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const PN_XNUM = 0xffff;
const SHN_XINDEX = 0xffff;

/** `p_type` of a loadable segment. */
export const PT_LOAD = 1;
/** `p_type` of a note segment. */
export const PT_NOTE = 4;
/** `sh_type` of a full symbol table (`.symtab`). */
export const SHT_SYMTAB = 2;
/** `sh_type` of a string table. */
export const SHT_STRTAB = 3;
/** `sh_type` of a note section. */
export const SHT_NOTE = 7;
/** `sh_type` of a section that occupies no file space (`.bss`). */
export const SHT_NOBITS = 8;
/** `sh_type` of the dynamic symbol table (`.dynsym`). */
export const SHT_DYNSYM = 11;
/** `sh_type` of `.gnu.version_d`. */
export const SHT_GNU_VERDEF = 0x6ffffffd;
/** `sh_type` of `.gnu.version_r`. */
export const SHT_GNU_VERNEED = 0x6ffffffe;
/** `sh_type` of `.gnu.version`. */
export const SHT_GNU_VERSYM = 0x6fffffff;

/** Most section headers accepted, whatever the header claims. */
export const MAX_SECTIONS = 1 << 20;
/** Most program headers accepted, whatever the header claims. */
export const MAX_PROGRAM_HEADERS = 1 << 16;
/** Largest single read (a symbol or string table, a section): 256 MiB. */
export const MAX_READ_BYTES = 256 * 1024 * 1024;
/** Largest note section or segment read while looking for a build id: 1 MiB. */
const MAX_NOTE_BYTES = 1024 * 1024;

/**
 * The ELF file header. Fields are named after the `Elf64_Ehdr` members without `e_`;
 * `phnum`, `shnum` and `shstrndx` already resolve extended numbering (`PN_XNUM`,
 * `SHN_XINDEX`) through section header 0.
 */
export interface ElfHeader {
  /** `e_type`: 1 relocatable, 2 executable, 3 shared object or PIE, 4 core. */
  type: number;
  /** `e_machine`: 62 for x86-64, 183 for AArch64. */
  machine: number;
  /** `EI_OSABI`. */
  osAbi: number;
  /** `e_entry`: the entry point's virtual address. */
  entry: number;
  /** `e_flags`. */
  flags: number;
  /** `e_phoff`: file offset of the program header table. */
  phoff: number;
  /** `e_phentsize`. */
  phentsize: number;
  /** Number of program headers. */
  phnum: number;
  /** `e_shoff`: file offset of the section header table (0 when there is none). */
  shoff: number;
  /** `e_shentsize`. */
  shentsize: number;
  /** Number of section headers. */
  shnum: number;
  /** Index of the section-name string table (0 when there is none). */
  shstrndx: number;
}

/** A program header (segment). Fields are the `Elf64_Phdr` members without `p_`. */
export interface ElfProgramHeader {
  /** `p_type`: {@linkcode PT_LOAD}, {@linkcode PT_NOTE}, ... */
  type: number;
  /** `p_flags`: 1 execute, 2 write, 4 read. */
  flags: number;
  /** `p_offset`. */
  offset: number;
  /** `p_vaddr`. */
  vaddr: number;
  /** `p_paddr`. */
  paddr: number;
  /** `p_filesz`. */
  filesz: number;
  /** `p_memsz`. */
  memsz: number;
  /** `p_align`. */
  align: number;
}

/** A section header. Fields are the `Elf64_Shdr` members without `sh_`, plus its name. */
export interface ElfSection {
  /** Position in the section header table. */
  index: number;
  /** The name from the section-name table (`.text`), "" if it has none. */
  name: string;
  /** `sh_type`: {@linkcode SHT_SYMTAB}, {@linkcode SHT_DYNSYM}, ... */
  type: number;
  /** `sh_flags`. */
  flags: number;
  /** `sh_addr`: virtual address when loaded, 0 if not loaded. */
  addr: number;
  /** `sh_offset`. */
  offset: number;
  /** `sh_size`. */
  size: number;
  /** `sh_link`. */
  link: number;
  /** `sh_info`. */
  info: number;
  /** `sh_addralign`. */
  addralign: number;
  /** `sh_entsize`. */
  entsize: number;
}

/** What {@linkcode openElf} and {@linkcode parseElf} return: the file, or why not. */
export type ElfOpenResult = { ok: true; elf: ElfFile } | { ok: false; error: string };

/** Options for {@linkcode parseElf}. */
export interface ParseElfOptions {
  /** What to call the bytes in messages. Default: "the input". */
  name?: string;
}

/**
 * Opens the ELF64 file at `path`, reading only its headers. Never throws: a missing or
 * unreadable file, or one that is not a 64-bit little-endian ELF file, gives
 * `{ ok: false, error }` with one sentence that names the file. A file a process maps
 * (from discovery) is opened as that process maps it, whatever its path holds now: see
 * {@linkcode openMappedFile}.
 *
 * Methods of the returned {@linkcode ElfFile} read synchronously (seek + read) on demand.
 * Close it with `close()`, or declare it with `using`.
 *
 * @example
 * ```ts
 * import { openElf } from "./elf.ts";
 *
 * const opened = await openElf("/usr/bin/node");
 * if (opened.ok) {
 *   console.log(opened.elf.buildId());
 *   opened.elf.close();
 * } else {
 *   console.error(opened.error); // e.g. "/usr/bin/node does not exist"
 * }
 * ```
 */
export async function openElf(source: string | MappedFile): Promise<ElfOpenResult> {
  const path = typeof source === "string" ? source : source.hostPath;
  let file: Deno.FsFile;
  try {
    if (typeof source === "string") {
      file = await Deno.open(path, { read: true });
    } else {
      const r = openMappedFile(source);
      if (!r.ok) return { ok: false, error: r.error };
      // A second descriptor on the same (regular, checked) file, for Deno's reads.
      using mapped = r.file;
      file = await Deno.open(mapped.path, { read: true });
    }
  } catch (err) {
    return { ok: false, error: openErrorSentence(path, err) };
  }
  let info: Deno.FileInfo;
  try {
    info = await file.stat();
  } catch (err) {
    file.close();
    return { ok: false, error: openErrorSentence(path, err) };
  }
  if (!info.isFile) {
    file.close();
    const what = info.isDirectory ? "a directory" : "not a regular file";
    return { ok: false, error: `${path} is ${what}, not an ELF file` };
  }
  return readElf(new FileReader(file, info.size), path);
}

/**
 * Parses ELF64 bytes already in memory, with exactly the code {@linkcode openElf} uses.
 * Never throws. The bytes are not copied: do not change them while the result is in use.
 *
 * @example
 * ```ts
 * import { parseElf } from "./elf.ts";
 *
 * const result = parseElf(new Uint8Array([1, 2, 3]));
 * result.ok; // false
 * if (!result.ok) result.error; // "the input is not an ELF file"
 * ```
 */
export function parseElf(bytes: Uint8Array, options: ParseElfOptions = {}): ElfOpenResult {
  return readElf(new MemoryReader(bytes), options.name ?? "the input");
}

/**
 * Parses an ELF64 file from any {@linkcode ElfReader}; `name` is used in messages. Takes
 * ownership of `reader`: it is closed here on failure, and by {@linkcode ElfFile.close}
 * on success. Never throws.
 *
 * @example
 * ```ts
 * import { readElf } from "./elf.ts";
 * import { MemoryReader } from "./elf_reader.ts";
 *
 * const result = readElf(new MemoryReader(Deno.readFileSync("/bin/true")), "/bin/true");
 * ```
 */
export function readElf(reader: ElfReader, name: string): ElfOpenResult {
  let result: ElfOpenResult;
  try {
    result = readHeaders(reader, name);
  } catch (err) {
    // Not expected: every read is bounds-checked, and the fuzz test looks for this text.
    result = { ok: false, error: `${name} could not be parsed (internal error: ${String(err)})` };
  }
  if (!result.ok) reader.close();
  return result;
}

function readHeaders(reader: ElfReader, name: string): ElfOpenResult {
  const fail = (error: string): ElfOpenResult => ({ ok: false, error });
  const size = reader.size;
  if (size === 0) return fail(`${name} is empty, not an ELF file`);
  const ident = reader.readAt(0, Math.min(16, size));
  if (ident === undefined) return fail(readFailure(name, reader, "its ELF identification"));
  if (
    ident.length < 4 || ident[0] !== 0x7f || ident[1] !== 0x45 || ident[2] !== 0x4c ||
    ident[3] !== 0x46
  ) {
    return fail(`${name} is not an ELF file`);
  }
  if (ident.length < 16) {
    return fail(`${name} is truncated: it ends inside the ELF identification, at ${size} bytes`);
  }
  const elfClass = ident[4];
  if (elfClass === ELFCLASS32) {
    return fail(`${name} is a 32-bit ELF file; only 64-bit is supported`);
  }
  if (elfClass !== ELFCLASS64) {
    return fail(`${name} has an invalid ELF class (${elfClass}); only 64-bit is supported`);
  }
  const data = ident[5];
  if (data === ELFDATA2MSB) {
    return fail(`${name} is a big-endian ELF file; only little-endian is supported`);
  }
  if (data !== ELFDATA2LSB) {
    return fail(
      `${name} has an invalid ELF data encoding (${data}); only little-endian is supported`,
    );
  }
  if (size < EHDR_SIZE) {
    return fail(
      `${name} is truncated: its ELF header needs ${EHDR_SIZE} bytes but the file has ${size}`,
    );
  }
  const ehdrBytes = reader.readAt(0, EHDR_SIZE);
  if (ehdrBytes === undefined) return fail(readFailure(name, reader, "its ELF header"));
  const eh = dataView(ehdrBytes);
  const header: ElfHeader = {
    type: eh.getUint16(16, true),
    machine: eh.getUint16(18, true),
    osAbi: eh.getUint8(7),
    entry: u64(eh, 24),
    flags: eh.getUint32(48, true),
    phoff: u64(eh, 32),
    phentsize: eh.getUint16(54, true),
    phnum: eh.getUint16(56, true),
    shoff: u64(eh, 40),
    shentsize: eh.getUint16(58, true),
    shnum: eh.getUint16(60, true),
    shstrndx: eh.getUint16(62, true),
  };

  // Section header 0 holds the real counts when they do not fit the ELF header.
  let section0: ElfSection | undefined;
  if (header.shoff !== 0) {
    if (header.shentsize < SHDR_SIZE) {
      return fail(
        `${name} has a corrupt ELF header: section header size is ${header.shentsize}, expected ${SHDR_SIZE}`,
      );
    }
    if (!inRange(header.shoff, SHDR_SIZE, size)) {
      return fail(
        `${name} is truncated or corrupt: its section header table at offset ${
          hex(header.shoff)
        } is past the end of the file (${size} bytes)`,
      );
    }
    const bytes = reader.readAt(header.shoff, SHDR_SIZE);
    if (bytes === undefined) return fail(readFailure(name, reader, "its section headers"));
    section0 = decodeSection(dataView(bytes), 0, 0);
    if (header.shnum === 0) header.shnum = section0.size;
    if (header.shstrndx === SHN_XINDEX) header.shstrndx = section0.link;
    if (header.phnum === PN_XNUM && section0.info !== 0) header.phnum = section0.info;
  } else {
    header.shnum = 0;
    header.shstrndx = 0;
  }

  const programHeaders: ElfProgramHeader[] = [];
  if (header.phnum > 0) {
    if (header.phentsize < PHDR_SIZE) {
      return fail(
        `${name} has a corrupt ELF header: program header size is ${header.phentsize}, expected ${PHDR_SIZE}`,
      );
    }
    const table = readTable(reader, name, {
      what: "program header",
      count: header.phnum,
      max: MAX_PROGRAM_HEADERS,
      entrySize: header.phentsize,
      offset: header.phoff,
    });
    if (typeof table === "string") return fail(table);
    const view = dataView(table);
    for (let i = 0; i < header.phnum; i++) {
      const o = i * header.phentsize;
      programHeaders.push({
        type: view.getUint32(o, true),
        flags: view.getUint32(o + 4, true),
        offset: u64(view, o + 8),
        vaddr: u64(view, o + 16),
        paddr: u64(view, o + 24),
        filesz: u64(view, o + 32),
        memsz: u64(view, o + 40),
        align: u64(view, o + 48),
      });
    }
  }

  const sections: ElfSection[] = [];
  if (header.shnum > 0) {
    const table = readTable(reader, name, {
      what: "section header",
      count: header.shnum,
      max: MAX_SECTIONS,
      entrySize: header.shentsize,
      offset: header.shoff,
    });
    if (typeof table === "string") return fail(table);
    const view = dataView(table);
    for (let i = 0; i < header.shnum; i++) {
      sections.push(decodeSection(view, i * header.shentsize, i));
    }
    if (header.shstrndx !== 0) {
      const names = sections[header.shstrndx];
      if (names === undefined) {
        return fail(
          `${name} has a corrupt ELF header: its section name table index ${header.shstrndx} is out of range (${header.shnum} sections)`,
        );
      }
      if (
        names.type === SHT_NOBITS || names.size > MAX_READ_BYTES ||
        !inRange(names.offset, names.size, size)
      ) {
        return fail(
          `${name} is truncated or corrupt: its section name table (section ${header.shstrndx}, ${
            hex(names.size)
          } bytes at offset ${hex(names.offset)}) lies outside the file (${size} bytes)`,
        );
      }
      const table = reader.readAt(names.offset, names.size);
      if (table === undefined) return fail(readFailure(name, reader, "its section name table"));
      for (const section of sections) {
        const nameAt = view.getUint32(section.index * header.shentsize, true);
        section.name = cString(table, nameAt);
      }
    }
  }
  return { ok: true, elf: new ElfFile(reader, name, header, programHeaders, sections) };
}

function decodeSection(view: DataView, o: number, index: number): ElfSection {
  return {
    index,
    name: "",
    type: view.getUint32(o + 4, true),
    flags: u64(view, o + 8),
    addr: u64(view, o + 16),
    offset: u64(view, o + 24),
    size: u64(view, o + 32),
    link: view.getUint32(o + 40, true),
    info: view.getUint32(o + 44, true),
    addralign: u64(view, o + 48),
    entsize: u64(view, o + 56),
  };
}

/**
 * An opened ELF64 file. Obtain one from {@linkcode openElf} or {@linkcode parseElf}.
 * Headers are decoded when opened; symbol tables and notes on first use, then cached.
 * No method throws on corrupt contents.
 *
 * @example
 * ```ts
 * import { openElf } from "./elf.ts";
 *
 * const opened = await openElf("/lib/x86_64-linux-gnu/libc.so.6");
 * if (opened.ok) {
 *   using elf = opened.elf;
 *   elf.findSymbol("malloc")?.versionedName; // "malloc@@GLIBC_2.2.5"
 * }
 * ```
 */
export class ElfFile {
  /** The path or name given when opening, as used in messages. */
  readonly path: string;
  /** The ELF header. */
  readonly header: ElfHeader;
  /** The program headers (segments), in file order. */
  readonly programHeaders: readonly ElfProgramHeader[];
  /** The section headers, in file order; empty for a file without a section table. */
  readonly sections: readonly ElfSection[];
  #reader: ElfReader;
  #warnings: string[] = [];
  #tables = new Map<ElfSymbolTableKind, SymbolTable | null>();
  #buildId: string | null | undefined;

  /** Use {@linkcode openElf}, {@linkcode parseElf} or {@linkcode readElf} instead. */
  constructor(
    reader: ElfReader,
    path: string,
    header: ElfHeader,
    programHeaders: readonly ElfProgramHeader[],
    sections: readonly ElfSection[],
  ) {
    this.#reader = reader;
    this.path = path;
    this.header = header;
    this.programHeaders = programHeaders;
    this.sections = sections;
  }

  /** Bytes read from the file so far: headers plus whatever was loaded on demand. */
  get bytesRead(): number {
    return this.#reader.bytesRead;
  }

  /** Sentences about corrupt parts skipped so far (a table outside the file, ...). */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /**
   * The first section called `name`, or `undefined`.
   *
   * @example
   * ```ts
   * import { parseElf } from "./elf.ts";
   *
   * const opened = parseElf(Deno.readFileSync("/bin/true"));
   * if (opened.ok) opened.elf.section(".text")?.addr;
   * ```
   */
  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /**
   * The bytes of `section` (a section or its name), or `undefined` when it has none
   * (`SHT_NOBITS`), does not exist, lies outside the file or is over
   * {@linkcode MAX_READ_BYTES}. Not cached: each call reads again.
   *
   * @example
   * ```ts
   * import { parseElf } from "./elf.ts";
   *
   * const opened = parseElf(Deno.readFileSync("/bin/true"));
   * if (opened.ok) opened.elf.readSection(".interp"); // "/lib64/ld-linux-x86-64.so.2\0"
   * ```
   */
  readSection(section: ElfSection | string): Uint8Array | undefined {
    const found = typeof section === "string" ? this.section(section) : section;
    if (found === undefined || found.type === SHT_NOBITS) return undefined;
    return this.#readPart(found.offset, found.size, sectionLabel(found));
  }

  /**
   * `length` bytes at file `offset`, or `undefined` when the range is outside the file or
   * over {@linkcode MAX_READ_BYTES}.
   *
   * @example
   * ```ts
   * import { parseElf } from "./elf.ts";
   *
   * const opened = parseElf(Deno.readFileSync("/bin/true"));
   * if (opened.ok) opened.elf.read(0, 4); // 7f 45 4c 46
   * ```
   */
  read(offset: number, length: number): Uint8Array | undefined {
    if (length > MAX_READ_BYTES) return undefined;
    return this.#reader.readAt(offset, length);
  }

  /**
   * Every symbol of `.dynsym` (the default) or `.symtab`, in table order, including the
   * null symbol at index 0. Empty when the file has no such table or it is corrupt.
   *
   * @example
   * ```ts
   * import { openElf } from "./elf.ts";
   *
   * const opened = await openElf("/lib/x86_64-linux-gnu/libssl.so.3");
   * if (opened.ok) {
   *   const functions = opened.elf.symbols("dynsym").filter((s) => s.type === "FUNC");
   *   opened.elf.close();
   * }
   * ```
   */
  symbols(table: ElfSymbolTableKind = "dynsym"): readonly ElfSymbol[] {
    return this.#table(table)?.all() ?? [];
  }

  /**
   * Finds a symbol by bare name (`SSL_read`), by version (`SSL_read@OPENSSL_3.0.0`, any
   * version kind) or by default version only (`SSL_read@@OPENSSL_3.0.0`). Searches
   * `.dynsym`, then `.symtab` unless `.dynsym` already has a defined function. Prefers
   * defined symbols over undefined ones (imports); then the default version over hidden
   * ones (as the linker binds a bare name); then FUNC over IFUNC (an IFUNC's value is its
   * resolver) over other types; then GLOBAL over WEAK over LOCAL; then `.dynsym` and the
   * lower index. Check `defined` and `type` before placing a probe on the result.
   *
   * @example
   * ```ts
   * import { openElf } from "./elf.ts";
   *
   * const opened = await openElf("/lib/x86_64-linux-gnu/libssl.so.3");
   * if (opened.ok) {
   *   const sym = opened.elf.findSymbol("SSL_read");
   *   sym?.versionedName; // "SSL_read@@OPENSSL_3.0.0"
   *   opened.elf.close();
   * }
   * ```
   */
  findSymbol(name: string): ElfSymbol | undefined {
    const query = parseSymbolQuery(name);
    const dynamic = this.#table("dynsym")?.find(query);
    if (dynamic?.defined && (dynamic.type === "FUNC" || dynamic.type === "IFUNC")) return dynamic;
    const full = this.#table("symtab")?.find(query);
    if (full === undefined) return dynamic;
    if (dynamic === undefined) return full;
    return symbolRank(full) > symbolRank(dynamic) ? full : dynamic;
  }

  /**
   * The file offset of virtual address `vaddr`, through the `PT_LOAD` segment whose file
   * bytes contain it (`vaddr - p_vaddr + p_offset`): the offset a uprobe is attached at.
   * `undefined` when no segment maps it from the file (for example `.bss`).
   *
   * @example
   * ```ts
   * import { openElf } from "./elf.ts";
   *
   * const opened = await openElf("/lib/x86_64-linux-gnu/libssl.so.3");
   * if (opened.ok) {
   *   const sym = opened.elf.findSymbol("SSL_write");
   *   const offset = sym && opened.elf.vaddrToOffset(sym.value);
   *   opened.elf.close();
   * }
   * ```
   */
  vaddrToOffset(vaddr: number): number | undefined {
    if (!Number.isSafeInteger(vaddr) || vaddr < 0) return undefined;
    for (const ph of this.programHeaders) {
      if (ph.type !== PT_LOAD) continue;
      if (!Number.isSafeInteger(ph.vaddr + ph.filesz) || !Number.isSafeInteger(ph.offset)) {
        continue;
      }
      if (vaddr >= ph.vaddr && vaddr < ph.vaddr + ph.filesz) {
        const offset = vaddr - ph.vaddr + ph.offset;
        return Number.isSafeInteger(offset) ? offset : undefined;
      }
    }
    return undefined;
  }

  /**
   * The GNU build id as lowercase hex, from `.note.gnu.build-id`, else from a `PT_NOTE`
   * segment or another note section; `undefined` when the file has none.
   *
   * @example
   * ```ts
   * import { openElf } from "./elf.ts";
   *
   * const opened = await openElf("/lib/x86_64-linux-gnu/libssl.so.3");
   * if (opened.ok) {
   *   opened.elf.buildId(); // e.g. "c0b9959017cf64b03131964573944fc72958bb2b"
   *   opened.elf.close();
   * }
   * ```
   */
  buildId(): string | undefined {
    if (this.#buildId === undefined) this.#buildId = this.#findBuildId() ?? null;
    return this.#buildId ?? undefined;
  }

  /** Closes the file. Data already loaded stays usable; new reads return nothing. */
  close(): void {
    this.#reader.close();
  }

  /** Closes the file at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #findBuildId(): string | undefined {
    const named = this.section(".note.gnu.build-id");
    const fromNamed = named && this.#notesOfSection(named);
    const first = fromNamed && buildIdFromNotes(fromNamed);
    if (first !== undefined) return first;
    for (const ph of this.programHeaders) {
      if (ph.type !== PT_NOTE || ph.filesz > MAX_NOTE_BYTES) continue;
      const bytes = this.#readPart(ph.offset, ph.filesz, `a PT_NOTE segment`);
      const id = bytes && buildIdFromNotes(parseNotes(bytes, ph.align));
      if (id !== undefined) return id;
    }
    for (const section of this.sections) {
      if (section.type !== SHT_NOTE || section === named) continue;
      const notes = this.#notesOfSection(section);
      const id = notes && buildIdFromNotes(notes);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  #notesOfSection(section: ElfSection): ElfNote[] | undefined {
    if (section.type !== SHT_NOTE || section.size > MAX_NOTE_BYTES) return undefined;
    const bytes = this.#readPart(section.offset, section.size, sectionLabel(section));
    return bytes && parseNotes(bytes, section.addralign);
  }

  #table(kind: ElfSymbolTableKind): SymbolTable | undefined {
    let table = this.#tables.get(kind);
    if (table === undefined) {
      table = this.#loadTable(kind) ?? null;
      this.#tables.set(kind, table);
    }
    return table ?? undefined;
  }

  #loadTable(kind: ElfSymbolTableKind): SymbolTable | undefined {
    const type = kind === "dynsym" ? SHT_DYNSYM : SHT_SYMTAB;
    const section = this.sections.find((s) => s.type === type);
    if (section === undefined) return undefined;
    const stride = section.entsize === 0 ? SYMBOL_SIZE : section.entsize;
    if (stride < SYMBOL_SIZE || !Number.isSafeInteger(stride)) {
      this.#warn(`${sectionLabel(section)} has entries of ${stride} bytes, expected 24`);
      return undefined;
    }
    const bytes = this.#sectionBytes(section);
    if (bytes === undefined) return undefined;
    const strtab = this.#linkedStrings(section);
    if (kind === "symtab") return new SymbolTable(kind, bytes, stride, strtab);

    const versymSection =
      this.sections.find((s) => s.type === SHT_GNU_VERSYM && s.link === section.index) ??
        this.sections.find((s) => s.type === SHT_GNU_VERSYM);
    const versym = versymSection && this.#sectionBytes(versymSection);
    if (versym === undefined) return new SymbolTable(kind, bytes, stride, strtab);
    const versions: SymbolVersions = { defined: new Map(), needed: new Map() };
    for (const s of this.sections) {
      if (s.type !== SHT_GNU_VERDEF && s.type !== SHT_GNU_VERNEED) continue;
      const data = this.#sectionBytes(s);
      if (data === undefined) continue;
      const names = s.link === section.link ? strtab : this.#linkedStrings(s);
      if (s.type === SHT_GNU_VERDEF) readVersionDefinitions(data, s.info, names, versions.defined);
      else readVersionNeeds(data, s.info, names, versions.needed);
    }
    return new SymbolTable(kind, bytes, stride, strtab, versym, versions);
  }

  /** The string table named by `section.link`, or empty bytes (with a warning). */
  #linkedStrings(section: ElfSection): Uint8Array {
    const strings = section.link !== 0 ? this.sections[section.link] : undefined;
    if (strings === undefined || strings.type !== SHT_STRTAB) {
      this.#warn(`${sectionLabel(section)} links to section ${section.link}, not a string table`);
      return new Uint8Array(0);
    }
    return this.#sectionBytes(strings) ?? new Uint8Array(0);
  }

  #sectionBytes(section: ElfSection): Uint8Array | undefined {
    if (section.type === SHT_NOBITS) {
      this.#warn(`${sectionLabel(section)} has no file contents (SHT_NOBITS)`);
      return undefined;
    }
    return this.#readPart(section.offset, section.size, sectionLabel(section));
  }

  #readPart(offset: number, length: number, what: string): Uint8Array | undefined {
    if (length > MAX_READ_BYTES) {
      this.#warn(`${what} is ${length} bytes, over the ${MAX_READ_BYTES}-byte limit`);
      return undefined;
    }
    if (!inRange(offset, length, this.#reader.size)) {
      this.#warn(
        `${what} (${hex(length)} bytes at offset ${
          hex(offset)
        }) lies outside the file (${this.#reader.size} bytes)`,
      );
      return undefined;
    }
    const bytes = this.#reader.readAt(offset, length);
    if (bytes === undefined) {
      this.#warn(`${what} could not be read: ${this.#reader.lastError ?? "the file is closed"}`);
    }
    return bytes;
  }

  #warn(what: string): void {
    const sentence = `${this.path}: ${what}`;
    if (this.#warnings.length < 100 && !this.#warnings.includes(sentence)) {
      this.#warnings.push(sentence);
    }
  }
}

function sectionLabel(section: ElfSection): string {
  return section.name !== ""
    ? `section ${section.index} (${section.name})`
    : `section ${section.index}`;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * Reads a header table (program or section headers) after checking its claimed size
 * against a cap and the file; returns its bytes or the sentence saying what is wrong.
 */
function readTable(
  reader: ElfReader,
  name: string,
  t: { what: string; count: number; max: number; entrySize: number; offset: number },
): Uint8Array | string {
  if (t.count > t.max) {
    const noun = t.what === "section header" ? "sections" : `${t.what}s`;
    return `${name} has a corrupt ELF header: it claims ${t.count} ${noun}, more than the ${t.max} accepted`;
  }
  const length = t.count * t.entrySize;
  if (!inRange(t.offset, length, reader.size)) {
    return `${name} is truncated or corrupt: its ${t.what} table (${t.count} entries at offset ${
      hex(t.offset)
    }) runs past the end of the file (${reader.size} bytes)`;
  }
  return reader.readAt(t.offset, length) ?? readFailure(name, reader, `its ${t.what}s`);
}

function readFailure(name: string, reader: ElfReader, what: string): string {
  return `${name} could not be read (${what}): ${reader.lastError ?? "the read failed"}`;
}

function openErrorSentence(path: string, err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return `${path} does not exist`;
  if (err instanceof Deno.errors.PermissionDenied) {
    return `${path} cannot be read: permission denied`;
  }
  if (err instanceof Deno.errors.NotCapable) {
    return `${path} cannot be read: Deno lacks read permission (run with --allow-read)`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `${path} cannot be opened: ${message}`;
}
