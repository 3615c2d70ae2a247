/**
 * Where inside a binary to probe: ELF sections and symbols (with GNU versions), build ids,
 * and the file offsets uprobes attach at. Files are read lazily; untrusted bytes never
 * make these readers throw.
 *
 * @example
 * ```ts
 * import { openElf } from "./mod.ts";
 *
 * const opened = await openElf("/lib/x86_64-linux-gnu/libssl.so.3");
 * if (!opened.ok) throw new Error(opened.error);
 * using elf = opened.elf;
 * const sym = elf.findSymbol("SSL_write");
 * const offset = sym && elf.vaddrToOffset(sym.value);
 * ```
 *
 * @module
 */

export { entryShift, entryShiftAt, isEmulated } from "./entry_site.ts";
export {
  ElfFile,
  MAX_READ_BYTES,
  openElf,
  parseElf,
  PT_LOAD,
  PT_NOTE,
  readElf,
  SHT_DYNSYM,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_STRTAB,
  SHT_SYMTAB,
} from "./elf.ts";
export type {
  ElfHeader,
  ElfOpenResult,
  ElfProgramHeader,
  ElfSection,
  ParseElfOptions,
} from "./elf.ts";
export { FileReader, MemoryReader } from "./elf_reader.ts";
export { importCalls } from "./elf_plt.ts";
export type { ImportCalls } from "./elf_plt.ts";
export type { ElfReader } from "./elf_reader.ts";
export type {
  ElfSymbol,
  ElfSymbolBinding,
  ElfSymbolTableKind,
  ElfSymbolType,
  ElfSymbolVisibility,
} from "./elf_symbol.ts";
