/**
 * Where at a function's entry a uprobe costs least. An x86-64 uprobe traps on the probed
 * instruction and then either emulates it in the kernel or copies it out of line and
 * single-steps it, a second trap. The kernel emulates only a few instructions (push of a
 * register, nop, jmp, call and conditional jumps); on a virtual machine the single step is
 * most of the cost (`deno task bench:micro --only hits`: ~0.6-1 µs a hit on an emulated
 * instruction, 5-8 µs on `sub`, `mov`, `lea`, `cmp`, `endbr64` or `ret`).
 *
 * So an entry probe sits on the first emulated instruction when every instruction before it
 * is one that leaves the stack pointer and every argument register as they were at the
 * call: `endbr64`, and Go's stack-bound check (`cmp rsp, [r14+16]`, or `lea r12, [rsp-n]`
 * then `cmp r12, [r14+16]`; R12 carries no argument in Go's ABI) before its conditional
 * jump. A uretprobe placed there still finds the return address at the stack pointer. Any
 * other prologue keeps the probe on the first instruction.
 *
 * The shift is handed to the BPF program as the probe's cookie, for the programs that
 * reckon other functions' addresses from their own entry.
 *
 * @module
 */
import type { ElfFile } from "./elf.ts";

/** Whether the kernel emulates the instruction at `at` rather than single-stepping it. */
export function isEmulated(code: Uint8Array, at: number): boolean {
  const b = code[at];
  if (b === undefined) return false;
  if (b >= 0x50 && b <= 0x57) return true; // push r64
  if (b === 0x41) return (code[at + 1] ?? 0) >= 0x50 && (code[at + 1] ?? 0) <= 0x57; // push r8-r15
  if (b === 0x90 || b === 0xe8 || b === 0xe9 || b === 0xeb) return true; // nop, call, jmp
  if (b >= 0x70 && b <= 0x7f) return true; // jcc rel8
  if (b === 0x66) return code[at + 1] === 0x90; // xchg ax, ax
  if (b === 0x0f) {
    const c = code[at + 1] ?? 0;
    return c === 0x1f || (c >= 0x80 && c <= 0x8f); // nopl, jcc rel32
  }
  return false;
}

const ENDBR64 = [0xf3, 0x0f, 0x1e, 0xfa];
const CMP_RSP_STACKGUARD = [0x49, 0x3b, 0x66, 0x10]; // cmp rsp, [r14+16]
const CMP_R12_STACKGUARD = [0x4d, 0x3b, 0x66, 0x10]; // cmp r12, [r14+16]
const LEA_R12_RSP_DISP8 = [0x4c, 0x8d, 0x64, 0x24]; // lea r12, [rsp+d8]
const LEA_R12_RSP_DISP32 = [0x4c, 0x8d, 0xa4, 0x24]; // lea r12, [rsp+d32]

function startsWith(code: Uint8Array, at: number, bytes: readonly number[]): boolean {
  return bytes.every((b, i) => code[at + i] === b);
}

/** Byte length of the prologue instructions that may be stepped over, or 0. */
function harmlessPrologue(code: Uint8Array): number {
  if (startsWith(code, 0, ENDBR64)) return 4;
  if (startsWith(code, 0, CMP_RSP_STACKGUARD)) return 4;
  const lea = startsWith(code, 0, LEA_R12_RSP_DISP8)
    ? 5
    : startsWith(code, 0, LEA_R12_RSP_DISP32)
    ? 8
    : 0;
  return lea && startsWith(code, lea, CMP_R12_STACKGUARD) ? lea + 4 : 0;
}

/**
 * Bytes past a function's entry (whose code starts `code`) where its entry probe should sit:
 * 0 unless a harmless prologue leads to an emulated instruction.
 */
export function entryShift(code: Uint8Array): number {
  if (isEmulated(code, 0)) return 0;
  const skip = harmlessPrologue(code);
  return skip > 0 && isEmulated(code, skip) ? skip : 0;
}

/** Longest prologue {@linkcode entryShift} looks at, plus the instruction after it. */
const ENTRY_BYTES = 16;

/** {@linkcode entryShift} of the function whose first instruction is at `fileOffset` of `elf`. */
export function entryShiftAt(elf: ElfFile, fileOffset: number): number {
  const code = elf.read(fileOffset, ENTRY_BYTES);
  return code === undefined ? 0 : entryShift(code);
}
