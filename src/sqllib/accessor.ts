/**
 * Struct member offsets read from the machine code of a library's own accessor functions.
 * `PQresultStatus(res)` is `return res->resultStatus`, `mysql_errno(m)` is
 * `return m->net.last_errno`, `sqlite3_sql(s)` is `return s->zSql`: each compiles to a
 * handful of x86-64 instructions ending in one load (or `lea`, or byte compare) relative
 * to the first argument, RDI. Decoding that instruction gives the offset the library
 * itself uses, whatever its version, with no debug information and no copied headers.
 *
 * Only the few instruction forms such accessors are made of are understood; anything else
 * stops the walk and gives `undefined`, never a guess.
 *
 * @module
 */

/** What an accessor does with its argument. */
export interface Accessor {
  /** `mov` (a field's value), `lea` (a field's address: an array) or `cmp` (a byte test). */
  kind: "load" | "lea" | "cmp";
  /** Offset of the member from the first argument (RDI), in bytes. */
  offset: number;
  /** Bytes loaded (`load`, `cmp`). */
  size?: number;
  /** The immediate compared against (`cmp`). */
  immediate?: number;
}

/** Most instructions walked before the accessor's memory operand. */
const MAX_INSTRUCTIONS = 8;

/**
 * The memory operand `disp(%rdi)` of a ModRM byte at `at`, with its length (ModRM plus
 * displacement), or undefined when it is not RDI-relative.
 */
function rdiOperand(code: Uint8Array, at: number): { disp: number; length: number } | undefined {
  const modrm = code[at];
  if (modrm === undefined || (modrm & 7) !== 7) return undefined; // rm must be RDI (no SIB)
  const mod = modrm >> 6;
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  if (mod === 0) return { disp: 0, length: 1 };
  if (mod === 1 && at + 1 < code.length) return { disp: view.getInt8(at + 1), length: 2 };
  if (mod === 2 && at + 4 < code.length) return { disp: view.getInt32(at + 1, true), length: 5 };
  return undefined;
}

/**
 * Decodes the accessor at the start of `code` (a function's first bytes).
 *
 * @example
 * ```ts
 * import { decodeAccessor } from "./accessor.ts";
 * // test %rdi,%rdi; je +6; mov 0x90(%rdi),%eax; ret   (MariaDB's mysql_errno)
 * const code = new Uint8Array([0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x06, 0x8b, 0x87, 0x90, 0, 0, 0, 0xc3]);
 * decodeAccessor(code); // { kind: "load", offset: 0x90, size: 4 }
 * ```
 */
export function decodeAccessor(code: Uint8Array): Accessor | undefined {
  let i = 0;
  for (let n = 0; n < MAX_INSTRUCTIONS && i < code.length; n++) {
    const b = code[i]!;
    // endbr64
    if (b === 0xf3 && code[i + 1] === 0x0f && code[i + 2] === 0x1e && code[i + 3] === 0xfa) {
      i += 4;
      continue;
    }
    let rex = 0;
    let j = i;
    if ((b & 0xf0) === 0x40) {
      rex = b;
      j++;
    }
    const op = code[j];
    if (op === undefined) return undefined;
    const modrm = code[j + 1];
    // xor r32,r32 / test r64,r64 between registers (zeroing, NULL checks)
    if ((op === 0x31 || op === 0x85) && modrm !== undefined && modrm >> 6 === 3) {
      i = j + 2;
      continue;
    }
    // je/jne rel8: the accessor's body is the fall-through path
    if ((op === 0x74 || op === 0x75) && rex === 0) {
      i = j + 2;
      continue;
    }
    if (op === 0x0f && (code[j + 1] === 0x84 || code[j + 1] === 0x85) && rex === 0) {
      i = j + 6;
      continue;
    }
    const wide = (rex & 0x08) !== 0;
    // mov r, disp(%rdi) / movzx / lea r, disp(%rdi); the destination must be RAX/EAX
    if ((op === 0x8b || op === 0x8d) && modrm !== undefined && ((modrm >> 3) & 7) === 0) {
      if ((rex & 0x05) !== 0) return undefined; // REX.R or REX.B: other registers
      const m = rdiOperand(code, j + 1);
      if (!m) return undefined;
      return op === 0x8d
        ? { kind: "lea", offset: m.disp }
        : { kind: "load", offset: m.disp, size: wide ? 8 : 4 };
    }
    if (op === 0x0f && (code[j + 1] === 0xb6 || code[j + 1] === 0xb7)) {
      const mr = code[j + 2];
      if (mr === undefined || ((mr >> 3) & 7) !== 0 || (rex & 0x05) !== 0) return undefined;
      const m = rdiOperand(code, j + 2);
      if (!m) return undefined;
      return { kind: "load", offset: m.disp, size: code[j + 1] === 0xb6 ? 1 : 2 };
    }
    // cmpb $imm8, disp(%rdi)
    if (op === 0x80 && modrm !== undefined && ((modrm >> 3) & 7) === 7 && rex === 0) {
      const m = rdiOperand(code, j + 1);
      const imm = m && code[j + 1 + m.length];
      if (!m || imm === undefined) return undefined;
      return { kind: "cmp", offset: m.disp, size: 1, immediate: imm };
    }
    return undefined;
  }
  return undefined;
}
