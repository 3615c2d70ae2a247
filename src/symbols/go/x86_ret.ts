/**
 * An x86-64 instruction-length decoder, table-driven, and what it is for: the offset of
 * every `RET` in a function, where upspan places plain uprobes instead of uretprobes
 * (a uretprobe rewrites the return address, which crashes Go when it moves a stack).
 *
 * The decoder walks instruction boundaries from the function's entry: legacy prefixes,
 * REX, the one-byte map, `0F`, `0F 38`, `0F 3A`, VEX (`C4`/`C5`) and EVEX (`62`)
 * encodings, ModRM/SIB/displacement and immediates. A `C3` byte inside an immediate or a
 * displacement is never reported. It covers everything Go's compiler and the Go
 * toolchain's own assembly (runtime, crypto) emit; the test suite checks every
 * instruction boundary of every function of real Go binaries against `objdump -d`.
 * An opcode it does not know (invalid in 64-bit mode) stops the walk with an error
 * result rather than a guess, since a probe in the middle of an instruction corrupts the
 * target.
 *
 * @module
 */

/** What {@linkcode decodeLength} returns: the length, or 0 when the bytes are not valid. */
export type InstructionLength = number;

/** Where {@linkcode findRets} stopped, when it could not walk the whole function. */
export type RetScanResult =
  | { ok: true; offsets: number[]; instructions: number }
  | { ok: false; error: string; offsets: number[]; at: number };

// Bit sets over the 256 opcodes of a map.
function bits(...ranges: (number | [number, number])[]): Uint8Array {
  const set = new Uint8Array(256);
  for (const r of ranges) {
    if (typeof r === "number") set[r] = 1;
    else for (let i = r[0]; i <= r[1]; i++) set[i] = 1;
  }
  return set;
}

/** One-byte map: opcodes with a ModRM byte. */
const ONE_MODRM = bits(
  [0x00, 0x03],
  [0x08, 0x0b],
  [0x10, 0x13],
  [0x18, 0x1b],
  [0x20, 0x23],
  [0x28, 0x2b],
  [0x30, 0x33],
  [0x38, 0x3b],
  0x63,
  0x69,
  0x6b,
  [0x80, 0x8f],
  [0xc0, 0xc1],
  [0xc6, 0xc7],
  [0xd0, 0xd3],
  [0xd8, 0xdf],
  [0xf6, 0xf7],
  [0xfe, 0xff],
);
/** One-byte map: opcodes with an 8-bit immediate (or rel8). */
const ONE_IMM8 = bits(
  0x04,
  0x0c,
  0x14,
  0x1c,
  0x24,
  0x2c,
  0x34,
  0x3c,
  0x6a,
  0x6b,
  [0x70, 0x7f],
  0x80,
  0x83,
  0xa8,
  [0xb0, 0xb7],
  [0xc0, 0xc1],
  0xc6,
  0xcd,
  [0xe0, 0xe7],
  0xeb,
);
/** One-byte map: opcodes with a 16/32-bit immediate (operand size). */
const ONE_IMMZ = bits(
  0x05,
  0x0d,
  0x15,
  0x1d,
  0x25,
  0x2d,
  0x35,
  0x3d,
  0x68,
  0x69,
  0x81,
  0xa9,
  0xc7,
);
/** One-byte map: opcodes that do not exist in 64-bit mode. */
const ONE_INVALID = bits(
  0x06,
  0x07,
  0x0e,
  0x16,
  0x17,
  0x1e,
  0x1f,
  0x27,
  0x2f,
  0x37,
  0x3f,
  0x60,
  0x61,
  0x82,
  0x9a,
  0xce,
  0xd4,
  0xd5,
  0xd6,
  0xea,
);
/** `0F` map: opcodes without a ModRM byte. */
const TWO_NO_MODRM = bits(
  [0x05, 0x09],
  0x0b,
  0x0e,
  [0x30, 0x37],
  0x77,
  [0x80, 0x8f],
  [0xa0, 0xa2],
  [0xa8, 0xaa],
  [0xc8, 0xcf],
);
/** `0F` map: opcodes with an 8-bit immediate. */
const TWO_IMM8 = bits([0x70, 0x73], 0xa4, 0xac, 0xba, 0xc2, [0xc4, 0xc6]);
/** `0F` map: opcodes that do not exist (or are not decoded here). */
const TWO_INVALID = bits(0x04, 0x0a, 0x0c, 0x0f, 0x24, 0x25, 0x26, 0x27, 0x36, 0x39, [0x3b, 0x3f]);

/**
 * The length of the instruction at `at` in `code`, or 0 when the bytes there are not a
 * valid instruction or run past the end of `code`.
 *
 * @example
 * ```ts
 * import { decodeLength } from "./x86_ret.ts";
 *
 * decodeLength(new Uint8Array([0x48, 0x89, 0xe5]), 0); // 3 (mov rbp, rsp)
 * ```
 */
export function decodeLength(code: Uint8Array, at: number): InstructionLength {
  const end = code.length;
  let i = at;
  let opsize16 = false;
  let addr32 = false;
  let rexW = false;
  // Legacy prefixes, at most 14 in a 15-byte instruction.
  for (;;) {
    if (i >= end || i - at > 14) return 0;
    const b = code[i]!;
    if (b === 0x66) opsize16 = true;
    else if (b === 0x67) addr32 = true;
    else if (
      b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x2e || b === 0x36 || b === 0x3e ||
      b === 0x26 || b === 0x64 || b === 0x65
    ) {
      // lock, rep/repne, segment overrides: no effect on length.
    } else break;
    i++;
  }
  let op = code[i]!;
  if ((op & 0xf0) === 0x40) {
    rexW = (op & 0x08) !== 0;
    i++;
    if (i >= end) return 0;
    op = code[i]!;
    if ((op & 0xf0) === 0x40) return 0; // two REX prefixes: invalid
  }
  i++;
  const immZ = opsize16 ? 2 : 4;
  let modrm = false;
  let imm = 0;
  if (op === 0xc4 || op === 0xc5 || op === 0x62) {
    // VEX (3- or 2-byte) and EVEX: the payload bytes, then opcode, ModRM, imm8 by map.
    let map: number;
    if (op === 0xc5) {
      if (i >= end) return 0;
      map = 1;
      i += 1;
    } else if (op === 0xc4) {
      if (i + 1 >= end) return 0;
      map = code[i]! & 0x1f;
      i += 2;
    } else {
      if (i + 2 >= end) return 0;
      map = code[i]! & 0x07;
      i += 3;
    }
    if (i >= end) return 0;
    const vop = code[i++]!;
    if (map === 1) {
      if (vop === 0x77) return i - at; // vzeroupper / vzeroall
      imm = TWO_IMM8[vop] ? 1 : 0;
    } else if (map === 2) imm = 0;
    else if (map === 3) imm = 1;
    else if (map === 5 || map === 6) imm = 0;
    else return 0;
    modrm = true;
  } else if (op === 0x0f) {
    if (i >= end) return 0;
    const op2 = code[i++]!;
    if (op2 === 0x38) {
      if (i >= end) return 0;
      i++;
      modrm = true;
    } else if (op2 === 0x3a) {
      if (i >= end) return 0;
      i++;
      modrm = true;
      imm = 1;
    } else {
      if (TWO_INVALID[op2]) return 0;
      modrm = !TWO_NO_MODRM[op2];
      if (TWO_IMM8[op2]) imm = 1;
      if (op2 >= 0x80 && op2 <= 0x8f) imm = 4; // jcc rel32
    }
  } else {
    if (ONE_INVALID[op]) return 0;
    modrm = ONE_MODRM[op] === 1;
    if (ONE_IMM8[op]) imm = 1;
    if (ONE_IMMZ[op]) imm = immZ;
    if (op >= 0xb8 && op <= 0xbf) imm = rexW ? 8 : immZ;
    else if (op >= 0xa0 && op <= 0xa3) imm = addr32 ? 4 : 8; // moffs
    else if (op === 0xe8 || op === 0xe9) imm = 4;
    else if (op === 0xc2 || op === 0xca) imm = 2;
    else if (op === 0xc8) imm = 3;
    else if (op === 0xf6 || op === 0xf7) {
      if (i >= end) return 0;
      const reg = (code[i]! >> 3) & 7;
      if (reg === 0 || reg === 1) imm = op === 0xf6 ? 1 : immZ;
    } else if (op === 0xc7 && i < end && code[i] === 0xf8) imm = 4; // xbegin rel32
  }
  if (modrm) {
    if (i >= end) return 0;
    const m = code[i++]!;
    const mod = m >> 6;
    const rm = m & 7;
    if (mod !== 3) {
      if (rm === 4) {
        if (i >= end) return 0;
        const sib = code[i++]!;
        if (mod === 0 && (sib & 7) === 5) i += 4;
      }
      if (mod === 0 && rm === 5) i += 4;
      else if (mod === 1) i += 1;
      else if (mod === 2) i += 4;
    }
  }
  i += imm;
  if (i > end || i - at > 15) return 0;
  return i - at;
}

/**
 * Offsets (from the start of `code`) of every near `RET` (`C3`, `C2 iw`, with any
 * prefixes such as `F3 C3`) in a function's machine code, found by walking instruction
 * boundaries from offset 0 to the end. Trailing `INT3` padding is walked like any code.
 * Never throws: bytes that do not decode give `ok: false` with the offset where the walk
 * stopped and the RETs found before it.
 *
 * @example
 * ```ts
 * import { findRets } from "./x86_ret.ts";
 *
 * // mov eax, 0xc3; ret
 * findRets(new Uint8Array([0xb8, 0xc3, 0, 0, 0, 0xc3])); // { ok: true, offsets: [5], ... }
 * ```
 */
export function findRets(code: Uint8Array): RetScanResult {
  const offsets: number[] = [];
  let at = 0;
  let count = 0;
  while (at < code.length) {
    const len = decodeLength(code, at);
    if (len === 0) {
      return {
        ok: false,
        error: `cannot decode the instruction at offset ${at} (byte 0x${
          code[at]!.toString(16).padStart(2, "0")
        })`,
        offsets,
        at,
      };
    }
    if (isRet(code, at, len)) offsets.push(at);
    at += len;
    count++;
  }
  return { ok: true, offsets, instructions: count };
}

/** Calls `visit(offset, length)` for each instruction; returns where it stopped. */
export function walkInstructions(
  code: Uint8Array,
  visit: (offset: number, length: number) => void,
): number {
  let at = 0;
  while (at < code.length) {
    const len = decodeLength(code, at);
    if (len === 0) return at;
    visit(at, len);
    at += len;
  }
  return at;
}

function isRet(code: Uint8Array, at: number, len: number): boolean {
  // The opcode is the last byte (C3) or third-last (C2 iw) after prefixes only.
  const last = code[at + len - 1];
  if (last === 0xc3) {
    for (let k = at; k < at + len - 1; k++) if (!isPrefix(code[k]!)) return false;
    return true;
  }
  if (len >= 3 && code[at + len - 3] === 0xc2) {
    for (let k = at; k < at + len - 3; k++) if (!isPrefix(code[k]!)) return false;
    return true;
  }
  return false;
}

function isPrefix(b: number): boolean {
  return b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x2e ||
    b === 0x36 || b === 0x3e || b === 0x26 || b === 0x64 || b === 0x65 || (b & 0xf0) === 0x40;
}
