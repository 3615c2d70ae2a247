/**
 * Reads struct layouts and global variables from a BPF object's BTF, so that user space
 * decodes events by field name instead of a hand-copied list of offsets.
 *
 * @module
 */
import { cString, libbpf } from "./libbpf.ts";

const KIND_STRUCT = 4;
const KIND_ENUM = 6;
const KIND_VAR = 14;
const KIND_DATASEC = 15;

/** Where a field lies in a struct, in bytes. */
export interface Field {
  offset: number;
  size: number;
}

/** A struct's byte size and its fields by name. */
export interface StructLayout {
  name: string;
  size: number;
  fields: Record<string, Field>;
}

function typeHeader(btf: Deno.PointerObject, id: number) {
  const t = libbpf().btf__type_by_id(btf, id);
  if (!t) return undefined;
  const v = new Deno.UnsafePointerView(t);
  const info = v.getUint32(4);
  return {
    view: v,
    nameOff: v.getUint32(0),
    kind: (info >>> 24) & 0x1f,
    vlen: info & 0xffff,
    kindFlag: info >>> 31,
    sizeOrType: v.getUint32(8),
  };
}

function name(btf: Deno.PointerObject, off: number): string {
  const p = libbpf().btf__name_by_offset(btf, off);
  return p ? Deno.UnsafePointerView.getCString(p) : "";
}

/** The layout of `struct name`, or undefined when the BTF has no such struct. */
export function structLayout(
  btf: Deno.PointerObject,
  structName: string,
): StructLayout | undefined {
  const id = libbpf().btf__find_by_name_kind(btf, cString(structName), KIND_STRUCT);
  const t = id > 0 ? typeHeader(btf, id) : undefined;
  if (!t) return undefined;
  const fields: Record<string, Field> = {};
  for (let i = 0; i < t.vlen; i++) {
    const base = 12 + i * 12; // struct btf_member { name_off, type, offset }
    const memberType = t.view.getUint32(base + 4);
    const bits = t.view.getUint32(base + 8);
    const bitOffset = t.kindFlag ? bits & 0xffffff : bits;
    const size = Number(libbpf().btf__resolve_size(btf, memberType));
    fields[name(btf, t.view.getUint32(base))] = { offset: bitOffset / 8, size };
  }
  return { name: structName, size: t.sizeOrType, fields };
}

/** Offsets and sizes of the variables in a data section such as `.rodata`. */
export function sectionVariables(btf: Deno.PointerObject, section: string): Record<string, Field> {
  const id = libbpf().btf__find_by_name_kind(btf, cString(section), KIND_DATASEC);
  const t = id > 0 ? typeHeader(btf, id) : undefined;
  const vars: Record<string, Field> = {};
  if (!t) return vars;
  for (let i = 0; i < t.vlen; i++) {
    const base = 12 + i * 12; // struct btf_var_secinfo { type, offset, size }
    const v = typeHeader(btf, t.view.getUint32(base));
    if (!v || v.kind !== KIND_VAR) continue;
    vars[name(btf, v.nameOff)] = {
      offset: t.view.getUint32(base + 4),
      size: t.view.getUint32(base + 8),
    };
  }
  return vars;
}

/** The values of `enum name` by enumerator name, or undefined when there is no such enum. */
export function enumValues(
  btf: Deno.PointerObject,
  enumName: string,
): Record<string, number> | undefined {
  const id = libbpf().btf__find_by_name_kind(btf, cString(enumName), KIND_ENUM);
  const t = id > 0 ? typeHeader(btf, id) : undefined;
  if (!t) return undefined;
  const values: Record<string, number> = {};
  for (let i = 0; i < t.vlen; i++) {
    const base = 12 + i * 8; // struct btf_enum { name_off, val }
    values[name(btf, t.view.getUint32(base))] = t.view.getInt32(base + 4);
  }
  return values;
}
