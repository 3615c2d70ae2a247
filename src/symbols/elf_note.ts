/**
 * ELF notes (`Elf64_Nhdr` records in `SHT_NOTE` sections and `PT_NOTE` segments), and the
 * GNU build id among them. Never throws: a corrupt record ends the list.
 *
 * @module
 */

import { dataView } from "./_elf_bytes.ts";

/** `NT_GNU_BUILD_ID`: the note type of a build id whose owner is "GNU". */
export const NT_GNU_BUILD_ID = 3;

/** Most notes decoded from one section or segment. */
const MAX_NOTES = 4096;
/** Longest owner name decoded (real ones are a few characters: "GNU", "Go", "stapsdt"). */
const MAX_OWNER_CHARS = 256;

/**
 * One note record.
 *
 * @example
 * ```ts
 * import type { ElfNote } from "./elf_note.ts";
 *
 * const note: ElfNote = { owner: "GNU", type: 3, desc: new Uint8Array(20) };
 * ```
 */
export interface ElfNote {
  /** The owner name without its NUL (`GNU`). */
  owner: string;
  /** `n_type`, whose meaning depends on the owner. */
  type: number;
  /** The descriptor bytes (a view into the bytes that were parsed). */
  desc: Uint8Array;
}

/**
 * Decodes the note records in `bytes`. `align` is the section's or segment's alignment:
 * 8 for 8-byte aligned notes (`.note.gnu.property`), otherwise 4, as in binutils.
 *
 * @example
 * ```ts
 * import { parseNotes } from "./elf_note.ts";
 *
 * // namesz 4, descsz 2, type 3, "GNU\0", desc ab cd + padding
 * const bytes = new Uint8Array([4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 71, 78, 85, 0, 0xab, 0xcd, 0, 0]);
 * parseNotes(bytes, 4); // [{ owner: "GNU", type: 3, desc: Uint8Array [0xab, 0xcd] }]
 * ```
 */
export function parseNotes(bytes: Uint8Array, align: number): ElfNote[] {
  const pad = align === 8 ? 8 : 4;
  const up = (n: number) => Math.ceil(n / pad) * pad;
  const view = dataView(bytes);
  const notes: ElfNote[] = [];
  let offset = 0;
  while (offset + 12 <= bytes.length && notes.length < MAX_NOTES) {
    const nameSize = view.getUint32(offset, true);
    const descSize = view.getUint32(offset + 4, true);
    const type = view.getUint32(offset + 8, true);
    const nameAt = offset + 12;
    const descAt = nameAt + up(nameSize);
    if (descAt > bytes.length || descAt + descSize > bytes.length) break;
    const nameEnd = nameSize > 0 && bytes[nameAt + nameSize - 1] === 0 ? nameSize - 1 : nameSize;
    let owner = "";
    for (let i = 0; i < Math.min(nameEnd, MAX_OWNER_CHARS); i++) {
      owner += String.fromCharCode(bytes[nameAt + i] as number);
    }
    notes.push({ owner, type, desc: bytes.subarray(descAt, descAt + descSize) });
    offset = descAt + up(descSize);
  }
  return notes;
}

/**
 * The GNU build id found in `notes` as lowercase hex, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { buildIdFromNotes } from "./elf_note.ts";
 *
 * buildIdFromNotes([{ owner: "GNU", type: 3, desc: new Uint8Array([0xc0, 0xb9]) }]); // "c0b9"
 * ```
 */
export function buildIdFromNotes(notes: readonly ElfNote[]): string | undefined {
  for (const note of notes) {
    if (note.owner !== "GNU" || note.type !== NT_GNU_BUILD_ID || note.desc.length === 0) continue;
    let hex = "";
    for (const byte of note.desc) hex += byte.toString(16).padStart(2, "0");
    return hex;
  }
  return undefined;
}
