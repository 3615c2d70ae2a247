/**
 * ELF64 symbol tables (`.dynsym`, `.symtab`) and GNU symbol versions (`.gnu.version`,
 * `.gnu.version_d`, `.gnu.version_r`), decoded from bytes that the caller has already read.
 * Layouts follow `Elf64_Sym`, `Elf64_Verdef`, `Elf64_Verdaux`, `Elf64_Verneed` and
 * `Elf64_Vernaux` in glibc's `elf.h`; the version rules follow binutils `readelf`.
 *
 * Nothing here throws on corrupt bytes: out-of-range names become "", unknown versions
 * are left off, and loops over linked lists are bounded.
 *
 * @module
 */

import { cString, cStringMatches, dataView, u64 } from "./_elf_bytes.ts";

/** Size of one `Elf64_Sym`. */
export const SYMBOL_SIZE = 24;

/** Which symbol table a symbol came from. */
export type ElfSymbolTableKind = "dynsym" | "symtab";

/** Symbol type (`ELF64_ST_TYPE`); `IFUNC` is `STT_GNU_IFUNC`. */
export type ElfSymbolType =
  | "NOTYPE"
  | "OBJECT"
  | "FUNC"
  | "SECTION"
  | "FILE"
  | "COMMON"
  | "TLS"
  | "IFUNC"
  | "UNKNOWN";

/** Symbol binding (`ELF64_ST_BIND`); `UNIQUE` is `STB_GNU_UNIQUE`. */
export type ElfSymbolBinding = "LOCAL" | "GLOBAL" | "WEAK" | "UNIQUE" | "UNKNOWN";

/** Symbol visibility (`ELF64_ST_VISIBILITY`). */
export type ElfSymbolVisibility = "DEFAULT" | "INTERNAL" | "HIDDEN" | "PROTECTED";

/** `st_shndx` of a symbol that is not defined in this file. */
export const SHN_UNDEF = 0;

/**
 * One entry of a symbol table.
 *
 * @example
 * ```ts
 * import type { ElfSymbol } from "./elf_symbol.ts";
 *
 * const sym: ElfSymbol = {
 *   table: "dynsym",
 *   index: 672,
 *   name: "SSL_read",
 *   version: "OPENSSL_3.0.0",
 *   defaultVersion: true,
 *   versionedName: "SSL_read@@OPENSSL_3.0.0",
 *   value: 0x35430,
 *   size: 131,
 *   type: "FUNC",
 *   binding: "GLOBAL",
 *   visibility: "DEFAULT",
 *   sectionIndex: 13,
 *   defined: true,
 * };
 * ```
 */
export interface ElfSymbol {
  /** The table the symbol is in. */
  table: ElfSymbolTableKind;
  /** Position in that table (entry 0 is the null symbol). */
  index: number;
  /** The bare name, without any version (`SSL_read`). */
  name: string;
  /** The symbol version (`OPENSSL_3.0.0`), if it has one. */
  version: string | undefined;
  /** True when the version is the default one (`@@`); false for `@` or no version. */
  defaultVersion: boolean;
  /** The name as `readelf` shows it: `SSL_read@@OPENSSL_3.0.0`, `old@VER`, or the bare name. */
  versionedName: string;
  /** `st_value`: for defined functions and objects, the virtual address. */
  value: number;
  /** `st_size` in bytes. */
  size: number;
  /** `ELF64_ST_TYPE(st_info)`. */
  type: ElfSymbolType;
  /** `ELF64_ST_BIND(st_info)`. */
  binding: ElfSymbolBinding;
  /** `ELF64_ST_VISIBILITY(st_other)`. */
  visibility: ElfSymbolVisibility;
  /** `st_shndx`: the section the symbol is in, 0 when undefined, 0xfff1 for absolute. */
  sectionIndex: number;
  /** Whether the symbol is defined in this file (`st_shndx != SHN_UNDEF`). */
  defined: boolean;
}

const TYPES: readonly ElfSymbolType[] = [
  "NOTYPE",
  "OBJECT",
  "FUNC",
  "SECTION",
  "FILE",
  "COMMON",
  "TLS",
];
const BINDINGS: readonly ElfSymbolBinding[] = ["LOCAL", "GLOBAL", "WEAK"];
const VISIBILITIES: readonly ElfSymbolVisibility[] = ["DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"];
const STT_GNU_IFUNC = 10;
const STB_GNU_UNIQUE = 10;
const VERSYM_HIDDEN = 0x8000;
const VERSYM_VERSION = 0x7fff;
const AT_SIGN = 0x40;

/**
 * Version names by version index (the values found in `.gnu.version`), kept apart for
 * versions this file defines and versions it needs from others.
 */
export interface SymbolVersions {
  /** From `.gnu.version_d`: index -> name. The base entry (the file's own name) is left out. */
  defined: Map<number, string>;
  /** From `.gnu.version_r`: index -> name. */
  needed: Map<number, string>;
}

/** Most entries read from a version section, whatever its header claims. */
const MAX_VERSION_ENTRIES = 65536;
const VER_FLG_BASE = 1;

/**
 * Walks a chain of version entries (`Elf64_Verdef` or `Elf64_Verneed`): at most `count`, each
 * at least `size` bytes, the next one `vd_next`/`vn_next` bytes on (read at `nextAt`).
 */
function walkVersionEntries(
  bytes: Uint8Array,
  count: number,
  size: number,
  nextAt: number,
  visit: (view: DataView, offset: number) => void,
): void {
  const view = dataView(bytes);
  let offset = 0;
  for (let i = 0; i < Math.min(count, MAX_VERSION_ENTRIES); i++) {
    if (offset + size > bytes.length) return;
    visit(view, offset);
    const next = view.getUint32(offset + nextAt, true);
    if (next === 0) return;
    offset += next;
  }
}

/**
 * Reads `Elf64_Verdef` entries (`.gnu.version_d`, `count` from its `sh_info`) into `out`.
 * Names come from `strtab` (the section named by its `sh_link`, normally `.dynstr`).
 */
export function readVersionDefinitions(
  bytes: Uint8Array,
  count: number,
  strtab: Uint8Array,
  out: Map<number, string>,
): void {
  walkVersionEntries(bytes, count, 20, 16, (view, offset) => {
    const flags = view.getUint16(offset + 2, true);
    const ndx = view.getUint16(offset + 4, true);
    const auxCount = view.getUint16(offset + 6, true);
    const aux = view.getUint32(offset + 12, true);
    const auxAt = offset + aux;
    if (auxCount > 0 && aux >= 20 && auxAt + 8 <= bytes.length && (flags & VER_FLG_BASE) === 0) {
      const name = cString(strtab, view.getUint32(auxAt, true));
      if (name !== "" && !out.has(ndx)) out.set(ndx, name);
    }
  });
}

/**
 * Reads `Elf64_Verneed` entries and their `Elf64_Vernaux` lists (`.gnu.version_r`,
 * `count` from its `sh_info`) into `out`, keyed by each `vna_other`.
 */
export function readVersionNeeds(
  bytes: Uint8Array,
  count: number,
  strtab: Uint8Array,
  out: Map<number, string>,
): void {
  let budget = MAX_VERSION_ENTRIES;
  walkVersionEntries(bytes, count, 16, 12, (view, offset) => {
    const auxCount = view.getUint16(offset + 2, true);
    let auxAt = offset + view.getUint32(offset + 8, true);
    for (let j = 0; j < auxCount && budget-- > 0; j++) {
      if (auxAt + 16 > bytes.length) break;
      const other = view.getUint16(auxAt + 6, true);
      const name = cString(strtab, view.getUint32(auxAt + 8, true));
      if (name !== "" && !out.has(other)) out.set(other, name);
      const auxNext = view.getUint32(auxAt + 12, true);
      if (auxNext === 0) break;
      auxAt += auxNext;
    }
  });
}

/**
 * A lookup key parsed from `name`, `name@VERSION` or `name@@VERSION`.
 *
 * @example
 * ```ts
 * import { parseSymbolQuery } from "./elf_symbol.ts";
 *
 * parseSymbolQuery("SSL_read@@OPENSSL_3.0.0");
 * // { raw: "SSL_read@@OPENSSL_3.0.0", name: "SSL_read", version: "OPENSSL_3.0.0",
 * //   defaultOnly: true }
 * ```
 */
export interface SymbolQuery {
  /** The text as given. */
  raw: string;
  /** The bare name. */
  name: string;
  /** The version asked for, if any. */
  version: string | undefined;
  /** True for `@@`: only the default version matches. */
  defaultOnly: boolean;
}

/** Splits a symbol name into bare name and version (see {@linkcode SymbolQuery}). */
export function parseSymbolQuery(raw: string): SymbolQuery {
  const at = raw.indexOf("@");
  if (at <= 0) return { raw, name: raw, version: undefined, defaultOnly: false };
  const defaultOnly = raw[at + 1] === "@";
  const version = raw.slice(at + (defaultOnly ? 2 : 1));
  return { raw, name: raw.slice(0, at), version: version || undefined, defaultOnly };
}

/**
 * How well a symbol answers a lookup: higher is better. Defined symbols beat undefined
 * ones; then the default (or no) version beats a hidden one, as for the linker; then
 * FUNC beats IFUNC (whose value is a resolver, not the implementation) beats other types;
 * then GLOBAL beats WEAK beats LOCAL.
 */
export function symbolRank(sym: ElfSymbol): number {
  let rank = 0;
  if (sym.defined) rank += 64;
  if (sym.version === undefined || sym.defaultVersion) rank += 32;
  if (sym.type === "FUNC") rank += 8;
  else if (sym.type === "IFUNC") rank += 4;
  if (sym.binding === "GLOBAL" || sym.binding === "UNIQUE") rank += 2;
  else if (sym.binding === "WEAK") rank += 1;
  return rank;
}

interface NameIndex {
  /** Per bucket (hash & mask), the first symbol index in it; 0 ends a chain. */
  heads: Int32Array;
  /** Per symbol, the next symbol index in the same bucket; 0 ends the chain. */
  next: Int32Array;
  /** The bare-name hash of each symbol, to skip most mismatches without reading names. */
  hashes: Uint32Array;
  mask: number;
}

/** Bytes of a name that go into its hash; longer names share the hash of this prefix. */
const HASH_PREFIX = 64;

/** FNV-1a over the bare name at `offset` (up to NUL, `@` or {@linkcode HASH_PREFIX} bytes). */
function nameHash(bytes: Uint8Array, offset: number): number {
  let hash = 0x811c9dc5;
  const end = Math.min(bytes.length, offset + HASH_PREFIX);
  for (let i = offset; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte === 0 || byte === AT_SIGN) break;
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * One symbol table with its string table and, for `.dynsym`, its versions. Symbols are
 * decoded on demand; the first lookup builds a hash index of names (no strings decoded),
 * later lookups are a hash probe plus a byte comparison.
 *
 * @example
 * ```ts
 * import { SymbolTable } from "./elf_symbol.ts";
 *
 * const table = new SymbolTable("symtab", new Uint8Array(48), 24, new Uint8Array(1));
 * table.count; // 2
 * table.find("main"); // undefined
 * ```
 */
export class SymbolTable {
  /** Which table this is. */
  readonly kind: ElfSymbolTableKind;
  /** Number of entries, including the null symbol at index 0. */
  readonly count: number;
  #view: DataView;
  #stride: number;
  #strtab: Uint8Array;
  #versym: DataView | undefined;
  #versions: SymbolVersions | undefined;
  #all: ElfSymbol[] | undefined;
  #index: NameIndex | undefined;
  #encoder = new TextEncoder();

  /**
   * @param kind which table this is
   * @param bytes the table's bytes (`sh_size` of them)
   * @param stride `sh_entsize`, at least {@linkcode SYMBOL_SIZE}
   * @param strtab the linked string table's bytes
   * @param versym `.gnu.version` bytes (one u16 per symbol), for `.dynsym` only
   * @param versions version names for the indices in `versym`
   */
  constructor(
    kind: ElfSymbolTableKind,
    bytes: Uint8Array,
    stride: number,
    strtab: Uint8Array,
    versym?: Uint8Array,
    versions?: SymbolVersions,
  ) {
    this.kind = kind;
    this.#stride = Math.max(SYMBOL_SIZE, stride);
    this.count = Math.floor(bytes.length / this.#stride);
    this.#view = dataView(bytes);
    this.#strtab = strtab;
    this.#versym = versym ? dataView(versym) : undefined;
    this.#versions = versions;
  }

  /** The symbol at `index`, or `undefined` when out of range. */
  at(index: number): ElfSymbol | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    const view = this.#view;
    const o = index * this.#stride;
    const info = view.getUint8(o + 4);
    const sectionIndex = view.getUint16(o + 6, true);
    const rawName = cString(this.#strtab, view.getUint32(o, true));
    let name = rawName;
    let version: string | undefined;
    let defaultVersion = false;
    let versionedName = rawName;
    const versioned = this.#versionOf(index, sectionIndex !== SHN_UNDEF);
    // Like readelf, leave the version off the symbol that names a version (`GLIBC_2.2.5`).
    if (versioned !== undefined && !(versioned.defines && versioned.version === rawName)) {
      version = versioned.version;
      defaultVersion = versioned.defaultVersion;
      versionedName = `${rawName}${defaultVersion ? "@@" : "@"}${version}`;
    } else {
      // Since binutils 2.35, ld writes versions into .symtab names: `memcpy@GLIBC_2.14`.
      const q = parseSymbolQuery(rawName);
      if (q.version !== undefined) {
        name = q.name;
        version = q.version;
        defaultVersion = q.defaultOnly;
      }
    }
    const typeCode = info & 0xf;
    const bindCode = info >> 4;
    return {
      table: this.kind,
      index,
      name,
      version,
      defaultVersion,
      versionedName,
      value: u64(view, o + 8),
      size: u64(view, o + 16),
      type: typeCode === STT_GNU_IFUNC ? "IFUNC" : TYPES[typeCode] ?? "UNKNOWN",
      binding: bindCode === STB_GNU_UNIQUE ? "UNIQUE" : BINDINGS[bindCode] ?? "UNKNOWN",
      visibility: VISIBILITIES[view.getUint8(o + 5) & 0x3] ?? "DEFAULT",
      sectionIndex,
      defined: sectionIndex !== SHN_UNDEF,
    };
  }

  /** Every symbol, in table order (decoded once, then cached). */
  all(): readonly ElfSymbol[] {
    if (this.#all === undefined) {
      const out: ElfSymbol[] = new Array(this.count);
      for (let i = 0; i < this.count; i++) out[i] = this.at(i) as ElfSymbol;
      this.#all = out;
    }
    return this.#all;
  }

  /**
   * The best match for `query` in this table (see {@linkcode symbolRank}), or `undefined`.
   * A bare name matches every version; `name@V` matches version V; `name@@V` matches V only
   * when it is the default.
   */
  find(query: string | SymbolQuery): ElfSymbol | undefined {
    const q = typeof query === "string" ? parseSymbolQuery(query) : query;
    const bare = this.#encoder.encode(q.name);
    if (bare.length === 0) return undefined;
    const raw = q.version !== undefined ? this.#encoder.encode(q.raw) : undefined;
    const view = this.#view;
    const stride = this.#stride;
    const strtab = this.#strtab;
    const { heads, next, hashes, mask } = this.#nameIndex();
    const hash = nameHash(bare, 0);
    let best: ElfSymbol | undefined;
    let bestRank = -1;
    for (let i = heads[hash & mask] ?? 0; i !== 0; i = next[i] ?? 0) {
      if (hashes[i] !== hash) continue;
      const nameAt = view.getUint32(i * stride, true);
      const literal = raw !== undefined && cStringMatches(strtab, nameAt, raw);
      if (!literal && !cStringMatches(strtab, nameAt, bare, AT_SIGN)) continue;
      const sym = this.at(i);
      if (sym === undefined) continue;
      if (!literal) {
        if (sym.name !== q.name) continue;
        if (q.version !== undefined) {
          if (sym.version !== q.version || (q.defaultOnly && !sym.defaultVersion)) continue;
        }
      }
      const rank = symbolRank(sym);
      if (rank > bestRank || (rank === bestRank && best !== undefined && i < best.index)) {
        best = sym;
        bestRank = rank;
      }
    }
    return best;
  }

  /** A chained hash of bare names -> symbol indices, built on first lookup. */
  #nameIndex(): NameIndex {
    if (this.#index !== undefined) return this.#index;
    let size = 16;
    while (size < this.count) size *= 2;
    const heads = new Int32Array(size);
    const next = new Int32Array(this.count);
    const hashes = new Uint32Array(this.count);
    const mask = size - 1;
    const view = this.#view;
    const strtab = this.#strtab;
    // Insert in reverse so that each chain lists symbols in table order.
    for (let i = this.count - 1; i >= 1; i--) {
      const nameAt = view.getUint32(i * this.#stride, true);
      if (nameAt >= strtab.length || strtab[nameAt] === 0) continue; // no name: never found
      const hash = nameHash(strtab, nameAt);
      hashes[i] = hash;
      next[i] = heads[hash & mask] as number;
      heads[hash & mask] = i;
    }
    this.#index = { heads, next, hashes, mask };
    return this.#index;
  }

  #versionOf(
    index: number,
    defined: boolean,
  ): { version: string; defaultVersion: boolean; defines: boolean } | undefined {
    const versym = this.#versym;
    const versions = this.#versions;
    if (versym === undefined || versions === undefined || index * 2 + 2 > versym.byteLength) {
      return undefined;
    }
    const entry = versym.getUint16(index * 2, true);
    const ndx = entry & VERSYM_VERSION;
    if (ndx < 2) return undefined; // VER_NDX_LOCAL, VER_NDX_GLOBAL
    if (defined) {
      const version = versions.defined.get(ndx);
      if (version !== undefined) {
        return { version, defaultVersion: (entry & VERSYM_HIDDEN) === 0, defines: true };
      }
    }
    const version = versions.needed.get(ndx);
    return version !== undefined ? { version, defaultVersion: false, defines: false } : undefined;
  }
}
