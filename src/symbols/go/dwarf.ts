/**
 * A small DWARF reader (versions 2-5) for what probes need from a Go binary built without
 * `-w`: the byte offset of a struct member (`net/http.Request` / `Method`) and the
 * address range of a function. Reads `.debug_info`, `.debug_abbrev`, `.debug_str`,
 * `.debug_line_str`, `.debug_str_offsets` and `.debug_addr`, compressed either as
 * `SHF_COMPRESSED` sections (what Go writes: an `Elf64_Chdr` then zlib) or as the older
 * `.zdebug_*` (`"ZLIB"`, a big-endian size, then zlib).
 *
 * One pass over `.debug_info`, on first use, indexes struct types and functions by name;
 * members are decoded when asked for. Untrusted bytes never make anything here throw:
 * damage gives an error result, or a missing answer.
 *
 * Forms and tags follow the DWARF 5 standard, section 7.5.
 *
 * @module
 */

import { inflateSync } from "node:zlib";
import type { ElfFile, ElfSection } from "../elf.ts";

/** A function's address range from DWARF. */
export interface DwarfFunction {
  /** `DW_AT_low_pc`. */
  lowPc: number;
  /** `DW_AT_high_pc` as an address (exclusive). */
  highPc: number;
}

/** What {@linkcode readDwarf} returns. */
export type DwarfResult = { ok: true; dwarf: Dwarf } | { ok: false; error: string };

/** The raw (decompressed) DWARF sections the reader uses; `info` and `abbrev` required. */
export interface DwarfSections {
  info: Uint8Array;
  abbrev: Uint8Array;
  str?: Uint8Array;
  lineStr?: Uint8Array;
  strOffsets?: Uint8Array;
  addr?: Uint8Array;
}

const SHF_COMPRESSED = 0x800;
const ELFCOMPRESS_ZLIB = 1;
/** Largest decompressed section accepted. */
const MAX_SECTION = 512 * 1024 * 1024;
const TAG_STRUCT = 0x13;
const TAG_SUBPROGRAM = 0x2e;
const TAG_MEMBER = 0x0d;
const AT_NAME = 0x03;
const AT_LOW_PC = 0x11;
const AT_HIGH_PC = 0x12;
const AT_MEMBER_LOCATION = 0x38;
const AT_ABSTRACT_ORIGIN = 0x31;
const AT_DECLARATION = 0x3c;
const AT_STR_OFFSETS_BASE = 0x72;
const AT_ADDR_BASE = 0x73;
const UTF8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Reads the DWARF sections of `elf`, decompressing them, and indexes them. Never throws.
 *
 * @example
 * ```ts
 * import { openElf } from "../elf.ts";
 * import { readDwarf } from "./dwarf.ts";
 *
 * const opened = await openElf("./server");
 * if (opened.ok) {
 *   const d = readDwarf(opened.elf);
 *   if (d.ok) d.dwarf.memberOffset("net/http.Request", "Method"); // 0
 * }
 * ```
 */
export function readDwarf(elf: ElfFile): DwarfResult {
  const get = (name: string): Uint8Array | undefined | string => {
    const plain = elf.section(`.debug_${name}`);
    if (plain !== undefined) return sectionData(elf, plain, false);
    const z = elf.section(`.zdebug_${name}`);
    return z === undefined ? undefined : sectionData(elf, z, true);
  };
  const info = get("info");
  const abbrev = get("abbrev");
  if (info === undefined || abbrev === undefined) {
    return { ok: false, error: `${elf.path} has no DWARF debugging information (built with -w?)` };
  }
  if (typeof info === "string") return { ok: false, error: `${elf.path}: ${info}` };
  if (typeof abbrev === "string") return { ok: false, error: `${elf.path}: ${abbrev}` };
  const opt = (name: string) => {
    const s = get(name);
    return typeof s === "string" ? undefined : s;
  };
  return parseDwarf({
    info,
    abbrev,
    str: opt("str"),
    lineStr: opt("line_str"),
    strOffsets: opt("str_offsets"),
    addr: opt("addr"),
  });
}

/** Decompresses one section's bytes (SHF_COMPRESSED or `.zdebug`), or says why not. */
function sectionData(elf: ElfFile, s: ElfSection, zdebug: boolean): Uint8Array | string {
  const raw = elf.readSection(s);
  if (raw === undefined) return `${s.name} cannot be read`;
  return decompressSection(raw, (s.flags & SHF_COMPRESSED) !== 0, zdebug, s.name);
}

/** The contents of a possibly compressed DWARF section, or a sentence saying why not. */
export function decompressSection(
  raw: Uint8Array,
  shfCompressed: boolean,
  zdebug: boolean,
  name = "a DWARF section",
): Uint8Array | string {
  let size: number;
  let stream: Uint8Array;
  if (shfCompressed) {
    if (raw.length < 24) return `${name} is compressed but too short for its header`;
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (v.getUint32(0, true) !== ELFCOMPRESS_ZLIB) {
      return `${name} uses compression type ${v.getUint32(0, true)}; only zlib is supported`;
    }
    size = v.getUint32(8, true) + v.getUint32(12, true) * 0x1_0000_0000;
    stream = raw.subarray(24);
  } else if (zdebug && raw.length >= 12 && UTF8.decode(raw.subarray(0, 4)) === "ZLIB") {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    size = v.getUint32(4) * 0x1_0000_0000 + v.getUint32(8);
    stream = raw.subarray(12);
  } else {
    return raw;
  }
  if (size > MAX_SECTION) return `${name} claims ${size} bytes uncompressed, over the limit`;
  try {
    const out = inflateSync(stream, { maxOutputLength: Math.max(size, 1) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    return `${name} cannot be decompressed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * Indexes already-decompressed DWARF sections. Never throws.
 *
 * @example
 * ```ts
 * import { parseDwarf } from "./dwarf.ts";
 *
 * const d = parseDwarf({ info, abbrev, str });
 * if (d.ok) d.dwarf.structMembers("runtime.g")?.get("goid");
 * ```
 */
export function parseDwarf(sections: DwarfSections): DwarfResult {
  const dwarf = new Dwarf(sections);
  try {
    const error = dwarf._index();
    if (error !== undefined) return { ok: false, error };
  } catch (err) {
    // Not expected: every read is checked. The fuzz test looks for this text.
    return { ok: false, error: `DWARF could not be parsed (internal error: ${String(err)})` };
  }
  return { ok: true, dwarf };
}

interface Abbrev {
  tag: number;
  children: boolean;
  /** attribute, form, implicit const triples */
  specs: number[];
}

interface Unit {
  start: number;
  version: number;
  addrSize: number;
  offsetSize: number;
  abbrevs: Map<number, Abbrev>;
  end: number;
  strOffsetsBase: number;
  addrBase: number;
}

/** A cursor over bytes; reads past the end set `bad` and return 0. */
class Cursor {
  pos: number;
  bad = false;
  constructor(readonly b: Uint8Array, readonly v: DataView, pos: number) {
    this.pos = pos;
  }
  u8(): number {
    if (this.pos + 1 > this.b.length) return this.fail();
    return this.b[this.pos++]!;
  }
  u16(): number {
    if (this.pos + 2 > this.b.length) return this.fail();
    const x = this.v.getUint16(this.pos, true);
    this.pos += 2;
    return x;
  }
  u24(): number {
    return this.u16() + this.u8() * 0x10000;
  }
  u32(): number {
    if (this.pos + 4 > this.b.length) return this.fail();
    const x = this.v.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }
  u64(): number {
    return this.u32() + this.u32() * 0x1_0000_0000;
  }
  uN(n: number): number {
    return n === 8 ? this.u64() : n === 4 ? this.u32() : n === 2 ? this.u16() : this.u8();
  }
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.b.length) return this.fail();
      const byte = this.b[this.pos++]!;
      if (mul < 2 ** 56) result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) return result;
    }
  }
  sleb(): number {
    let result = 0;
    let mul = 1;
    let byte = 0;
    do {
      if (this.pos >= this.b.length) return this.fail();
      byte = this.b[this.pos++]!;
      if (mul < 2 ** 56) result += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80);
    if (byte & 0x40 && mul < 2 ** 63) result -= mul;
    return result;
  }
  skip(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.b.length) {
      this.fail();
      return;
    }
    this.pos += n;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0) {
      this.fail();
      return "";
    }
    const s = UTF8.decode(this.b.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  /** Marks the cursor as past the end. */
  fail(): number {
    this.bad = true;
    this.pos = this.b.length;
    return 0;
  }
}

/** A form's value: a number, a string, or a block's bytes (exprloc). */
type FormValue = number | string | Uint8Array;

/**
 * An indexed DWARF tree. Struct members are decoded on demand from the DIE offsets the
 * index recorded.
 */
export class Dwarf {
  #s: DwarfSections;
  #view: DataView;
  #structs = new Map<string, { die: number; unit: Unit }>();
  #functions = new Map<string, DwarfFunction>();
  #abbrevCache = new Map<number, Map<number, Abbrev>>();
  #warnings: string[] = [];

  /** Use {@linkcode parseDwarf} or {@linkcode readDwarf}. */
  constructor(sections: DwarfSections) {
    this.#s = sections;
    this.#view = view(sections.info);
  }

  /** Sentences about damaged units skipped while indexing. */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /** Number of named struct types indexed. */
  get structCount(): number {
    return this.#structs.size;
  }

  /** Names of every struct type indexed, in the order met. */
  structNames(): IterableIterator<string> {
    return this.#structs.keys();
  }

  /**
   * The members of the struct type `name` (`net/http.Request`) with their byte offsets,
   * in declaration order; undefined when there is no such struct.
   */
  structMembers(name: string): Map<string, number> | undefined {
    const found = this.#structs.get(name);
    if (found === undefined) return undefined;
    const { unit } = found;
    const c = new Cursor(this.#s.info, this.#view, found.die);
    const code = c.uleb();
    const abbrev = unit.abbrevs.get(code);
    if (abbrev === undefined || !abbrev.children) return new Map();
    this.#readAttrs(c, unit, abbrev);
    const members = new Map<string, number>();
    let depth = 1;
    while (depth > 0 && !c.bad && c.pos < unit.end) {
      const code = c.uleb();
      if (code === 0) {
        depth--;
        continue;
      }
      const a = unit.abbrevs.get(code);
      if (a === undefined) break;
      const attrs = this.#readAttrs(c, unit, a);
      if (depth === 1 && a.tag === TAG_MEMBER) {
        const memberName = attrs.get(AT_NAME);
        const loc = memberLocation(attrs.get(AT_MEMBER_LOCATION));
        if (typeof memberName === "string" && loc !== undefined) members.set(memberName, loc);
      }
      if (a.children) depth++;
    }
    return members;
  }

  /** The byte offset of `member` in struct `struct`, or undefined. */
  memberOffset(struct: string, member: string): number | undefined {
    return this.structMembers(struct)?.get(member);
  }

  /** The address range of the function `name` (`main.main`), or undefined. */
  functionRange(name: string): DwarfFunction | undefined {
    return this.#functions.get(name);
  }

  /** @internal One pass over every unit; returns an error sentence if nothing usable. */
  _index(): string | undefined {
    const info = this.#s.info;
    let pos = 0;
    let units = 0;
    const abstractNames = new Map<number, string>();
    const concrete: { origin: number; range: DwarfFunction }[] = [];
    while (pos + 11 <= info.length) {
      const c = new Cursor(info, this.#view, pos);
      let length = c.u32();
      let offsetSize = 4;
      if (length === 0xffffffff) {
        length = c.u64();
        offsetSize = 8;
      }
      const end = c.pos + length;
      if (length < 7 || end > info.length || !Number.isSafeInteger(end)) {
        this.#warn(`a unit at offset ${pos} runs past the end of .debug_info`);
        break;
      }
      const version = c.u16();
      let addrSize: number;
      let abbrevOffset: number;
      if (version >= 5) {
        c.u8(); // unit_type
        addrSize = c.u8();
        abbrevOffset = c.uN(offsetSize);
      } else {
        abbrevOffset = c.uN(offsetSize);
        addrSize = c.u8();
      }
      if (version < 2 || version > 5 || (addrSize !== 4 && addrSize !== 8)) {
        this.#warn(`the unit at offset ${pos} has version ${version}, address size ${addrSize}`);
        pos = end;
        continue;
      }
      const abbrevs = this.#abbrevs(abbrevOffset);
      if (abbrevs === undefined) {
        this.#warn(`the unit at offset ${pos} has a bad abbreviation table`);
        pos = end;
        continue;
      }
      const unit: Unit = {
        start: pos,
        version,
        addrSize,
        offsetSize,
        abbrevs,
        end,
        strOffsetsBase: 8,
        addrBase: 8,
      };
      units++;
      const walk = new Cursor(info.subarray(0, end), this.#view, c.pos);
      let depth = 0;
      while (walk.pos < end && !walk.bad) {
        const die = walk.pos;
        const code = walk.uleb();
        if (code === 0) {
          depth--;
          if (depth <= 0) break;
          continue;
        }
        const a = abbrevs.get(code);
        if (a === undefined) {
          this.#warn(`unknown abbreviation ${code} at offset ${die}`);
          break;
        }
        const attrs = this.#readAttrs(walk, unit, a);
        if (depth === 0) {
          const sob = attrs.get(AT_STR_OFFSETS_BASE);
          if (typeof sob === "number") unit.strOffsetsBase = sob;
          const ab = attrs.get(AT_ADDR_BASE);
          if (typeof ab === "number") unit.addrBase = ab;
        } else if (a.tag === TAG_STRUCT) {
          const name = attrs.get(AT_NAME);
          if (typeof name === "string" && !attrs.has(AT_DECLARATION) && !this.#structs.has(name)) {
            this.#structs.set(name, { die, unit });
          }
        } else if (a.tag === TAG_SUBPROGRAM) {
          const name = attrs.get(AT_NAME);
          const range = pcRange(attrs);
          if (typeof name === "string") {
            abstractNames.set(die, name);
            if (range !== undefined && !this.#functions.has(name)) this.#functions.set(name, range);
          } else if (range !== undefined) {
            const origin = attrs.get(AT_ABSTRACT_ORIGIN);
            if (typeof origin === "number") concrete.push({ origin, range });
          }
        }
        if (a.children) depth++;
      }
      pos = end;
    }
    for (const { origin, range } of concrete) {
      const name = abstractNames.get(origin);
      if (name !== undefined && !this.#functions.has(name)) this.#functions.set(name, range);
    }
    if (units === 0) return "the DWARF information has no readable compilation unit";
    return undefined;
  }

  #warn(what: string): void {
    if (this.#warnings.length < 100) this.#warnings.push(what);
  }

  #abbrevs(offset: number): Map<number, Abbrev> | undefined {
    const cached = this.#abbrevCache.get(offset);
    if (cached !== undefined) return cached;
    const b = this.#s.abbrev;
    if (offset >= b.length) return undefined;
    const c = new Cursor(b, view(b), offset);
    const table = new Map<number, Abbrev>();
    for (;;) {
      const code = c.uleb();
      if (c.bad) return undefined;
      if (code === 0) break;
      const tag = c.uleb();
      const children = c.u8() === 1;
      const specs: number[] = [];
      for (;;) {
        const at = c.uleb();
        const form = c.uleb();
        if (c.bad) return undefined;
        if (at === 0 && form === 0) break;
        specs.push(at, form, form === 0x21 ? c.sleb() : 0);
      }
      table.set(code, { tag, children, specs });
    }
    this.#abbrevCache.set(offset, table);
    return table;
  }

  /** Reads a DIE's attributes; keeps only the values of the attributes upspan uses. */
  #readAttrs(c: Cursor, unit: Unit, a: Abbrev): Map<number, FormValue> {
    const out = new Map<number, FormValue>();
    const s = a.specs;
    for (let k = 0; k < s.length; k += 3) {
      const at = s[k]!;
      const value = this.#form(c, unit, s[k + 1]!, s[k + 2]!, 0);
      if (c.bad) break;
      if (
        at === AT_NAME || at === AT_MEMBER_LOCATION || at === AT_LOW_PC ||
        at === AT_HIGH_PC || at === AT_ABSTRACT_ORIGIN || at === AT_DECLARATION ||
        at === AT_STR_OFFSETS_BASE || at === AT_ADDR_BASE
      ) {
        if (value !== undefined) out.set(at, value);
        if (at === AT_HIGH_PC && isConstantForm(s[k + 1]!)) out.set(-AT_HIGH_PC, 1);
      }
    }
    return out;
  }

  #form(
    c: Cursor,
    unit: Unit,
    form: number,
    implicit: number,
    depth: number,
  ): FormValue | undefined {
    switch (form) {
      case 0x01: // addr
        return c.uN(unit.addrSize);
      case 0x03: // block2
        return block(c, c.u16());
      case 0x04: // block4
        return block(c, c.u32());
      case 0x05: // data2
        return c.u16();
      case 0x06: // data4
        return c.u32();
      case 0x07: // data8
        return c.u64();
      case 0x08: // string
        return c.cstr();
      case 0x09: // block
      case 0x18: // exprloc
        return block(c, c.uleb());
      case 0x0a: // block1
        return block(c, c.u8());
      case 0x0b: // data1
      case 0x0c: // flag
        return c.u8();
      case 0x0d: // sdata
        return c.sleb();
      case 0x0e: // strp
        return strAt(this.#s.str, c.uN(unit.offsetSize));
      case 0x1f: // line_strp
        return strAt(this.#s.lineStr, c.uN(unit.offsetSize));
      case 0x0f: // udata
        return c.uleb();
      case 0x10: // ref_addr
        return c.uN(unit.version <= 2 ? unit.addrSize : unit.offsetSize);
      case 0x11: // ref1
      case 0x12: // ref2
      case 0x13: // ref4
      case 0x14: // ref8
      case 0x15: { // ref_udata: relative to the unit start
        const rel = form === 0x11
          ? c.u8()
          : form === 0x12
          ? c.u16()
          : form === 0x13
          ? c.u32()
          : form === 0x14
          ? c.u64()
          : c.uleb();
        return unit.start + rel;
      }
      case 0x16: { // indirect
        if (depth > 2) {
          c.fail();
          return undefined;
        }
        return this.#form(c, unit, c.uleb(), implicit, depth + 1);
      }
      case 0x17: // sec_offset
      case 0x1c: // ref_sup4
        return form === 0x1c ? c.u32() : c.uN(unit.offsetSize);
      case 0x1d: // strp_sup
        return c.uN(unit.offsetSize);
      case 0x19: // flag_present
        return 1;
      case 0x1a: // strx
        return this.#strx(unit, c.uleb());
      case 0x25:
        return this.#strx(unit, c.u8());
      case 0x26:
        return this.#strx(unit, c.u16());
      case 0x27:
        return this.#strx(unit, c.u24());
      case 0x28:
        return this.#strx(unit, c.u32());
      case 0x1b: // addrx
        return this.#addrx(unit, c.uleb());
      case 0x29:
        return this.#addrx(unit, c.u8());
      case 0x2a:
        return this.#addrx(unit, c.u16());
      case 0x2b:
        return this.#addrx(unit, c.u24());
      case 0x2c:
        return this.#addrx(unit, c.u32());
      case 0x1e: // data16
        c.skip(16);
        return undefined;
      case 0x20: // ref_sig8
      case 0x24: // ref_sup8
        return c.u64();
      case 0x21: // implicit_const
        return implicit;
      case 0x22: // loclistx
      case 0x23: // rnglistx
        return c.uleb();
      default:
        c.fail(); // unknown form: the rest of the unit cannot be walked
        return undefined;
    }
  }

  #strx(unit: Unit, index: number): string | undefined {
    const table = this.#s.strOffsets;
    if (table === undefined) return undefined;
    const at = unit.strOffsetsBase + index * unit.offsetSize;
    if (at + unit.offsetSize > table.length) return undefined;
    const v = view(table);
    const off = unit.offsetSize === 8
      ? v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000
      : v.getUint32(at, true);
    return strAt(this.#s.str, off);
  }

  #addrx(unit: Unit, index: number): number | undefined {
    const table = this.#s.addr;
    if (table === undefined) return undefined;
    const at = unit.addrBase + index * unit.addrSize;
    if (at + unit.addrSize > table.length) return undefined;
    const v = view(table);
    return unit.addrSize === 8
      ? v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000
      : v.getUint32(at, true);
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function block(c: Cursor, n: number): Uint8Array {
  const start = c.pos;
  c.skip(n);
  return c.b.subarray(start, c.bad ? start : start + n);
}

function strAt(table: Uint8Array | undefined, offset: number): string | undefined {
  if (table === undefined || offset >= table.length) return undefined;
  let end = table.indexOf(0, offset);
  if (end < 0) end = table.length;
  return UTF8.decode(table.subarray(offset, end));
}

function isConstantForm(form: number): boolean {
  return form === 0x05 || form === 0x06 || form === 0x07 || form === 0x0b || form === 0x0d ||
    form === 0x0f || form === 0x21;
}

function pcRange(attrs: Map<number, FormValue>): DwarfFunction | undefined {
  const low = attrs.get(AT_LOW_PC);
  const high = attrs.get(AT_HIGH_PC);
  if (typeof low !== "number" || typeof high !== "number") return undefined;
  const highPc = attrs.has(-AT_HIGH_PC) ? low + high : high;
  return highPc >= low ? { lowPc: low, highPc } : undefined;
}

/** A member location: a constant, or (DWARF 2/3) `DW_OP_plus_uconst n`. */
function memberLocation(value: FormValue | undefined): number | undefined {
  if (typeof value === "number") return value;
  if (value instanceof Uint8Array && value[0] === 0x23) {
    const c = new Cursor(value, view(value), 1);
    const n = c.uleb();
    return c.bad ? undefined : n;
  }
  return undefined;
}
