/**
 * Reading and writing C structs by the layout a BPF object's BTF gives, and reading its
 * counters: the helpers every instrumentation's decoder and map writer share. A name the
 * object lacks is a build mismatch, thrown when the decoder or value is made, not per record.
 *
 * @module
 */
import type { Field, StructLayout } from "./btf.ts";

/** Where the C definitions are read: a BPF object's BTF (`BpfObject`). */
export interface BtfTypes {
  structLayout(name: string): StructLayout;
  enumValues(name: string): Record<string, number>;
}

/** The field `name` of a struct, or an Error that names both. */
export function fieldOf(layout: StructLayout, name: string): Field {
  const f: Field | undefined = layout.fields[name];
  if (!f) throw new Error(`struct ${layout.name} has no field "${name}"`);
  return f;
}

/** The value of enumerator `name`, or an Error that names it. */
export function enumValue(values: Record<string, number>, name: string): number {
  const v = values[name];
  if (v === undefined) throw new Error(`the BPF object's BTF has no ${name}`);
  return v;
}

/**
 * Encodes named 32-bit values as a struct of `__u32` fields, little-endian, laid out by
 * `layout`. A value whose field is missing or not 4 bytes wide throws; a field given no value
 * holds `missing` (default 0).
 *
 * @example
 * ```ts ignore
 * map.update(key, encodeU32Struct(obj.structLayout("go_offsets"), { req_method: 0 }));
 * ```
 */
export function encodeU32Struct(
  layout: StructLayout,
  values: Readonly<Record<string, number>>,
  missing = 0,
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(layout.size);
  const view = new DataView(bytes.buffer);
  if (missing !== 0) {
    for (const f of Object.values(layout.fields)) {
      if (f.size === 4) view.setUint32(f.offset, missing, true);
    }
  }
  for (const [name, value] of Object.entries(values)) {
    const f = layout.fields[name];
    if (f === undefined || f.size !== 4) {
      throw new Error(`struct ${layout.name} has no 4-byte field "${name}"`);
    }
    view.setUint32(f.offset, value, true);
  }
  return bytes;
}

/** A per-CPU array of counters indexed by an enum, summed over CPUs. */
export interface CounterSource extends BtfTypes {
  map(name: string): { sumPerCpu(index: number): number };
}

/**
 * Reads counters kept in the per-CPU array `mapName`, indexed by enum `enumName`: each of
 * `names` (ours -> the C enumerator) summed over CPUs; 0 for an enumerator the object lacks.
 *
 * @example
 * ```ts ignore
 * const s = readCounters(obj, "stats", "capture_stat", { drops: "STAT_DROPS" });
 * ```
 */
export function readCounters<K extends string>(
  obj: CounterSource,
  mapName: string,
  enumName: string,
  names: Readonly<Record<K, string>>,
): Record<K, number> {
  const map = obj.map(mapName);
  const index = obj.enumValues(enumName);
  const out = {} as Record<K, number>;
  for (const [ours, enumerator] of Object.entries(names) as [K, string][]) {
    out[ours] = map.sumPerCpu(index[enumerator] ?? -1);
  }
  return out;
}
