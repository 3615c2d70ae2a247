/**
 * Probe sites inside Go functions other than entries and `RET`s: a function's direct calls of
 * another, and the first instruction after such a call that the kernel emulates (see
 * `../entry_site.ts`), where a probe stands in for the callee's return at a fraction of the
 * cost of one on its `RET`.
 *
 * @module
 */
import { isEmulated } from "../entry_site.ts";
import { decodeLength, walkInstructions } from "./x86_ret.ts";

/**
 * Offsets in `code` (a function whose entry is at `entry`) of its direct calls
 * (`CALL rel32`) of the function at `target`; empty when the code cannot be walked.
 */
export function callSites(code: Uint8Array, entry: number, target: number): number[] {
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const out: number[] = [];
  const end = walkInstructions(code, (at, length) => {
    if (
      length === 5 && code[at] === 0xe8 && entry + at + 5 + view.getInt32(at + 1, true) === target
    ) {
      out.push(at);
    }
  });
  return end === code.length ? out : [];
}

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** Whether control may leave the straight line at `at` other than by a call that returns. */
function leavesLine(code: Uint8Array, at: number): boolean {
  let i = at;
  while (PREFIXES.has(code[i]!) || (code[i]! & 0xf0) === 0x40) i++;
  const op = code[i];
  if (op === 0xc2 || op === 0xc3 || op === 0xcc) return true; // ret, int3
  if (op === 0x0f && code[i + 1] === 0x0b) return true; // ud2
  const reg = ((code[i + 1] ?? 0) >> 3) & 7;
  return op === 0xff && (reg === 4 || reg === 5); // jmp r/m
}

/**
 * The first instruction at or after `from` that the kernel emulates, reached from `from`
 * in a straight line (calls in between return; nothing jumps or returns before it); a probe
 * there fires once each time `from` is reached. Undefined when there is none within a few
 * instructions.
 */
export function nextEmulated(code: Uint8Array, from: number): number | undefined {
  let at = from;
  for (let n = 0; n < 12 && at < code.length; n++) {
    if (isEmulated(code, at)) return at;
    const length = decodeLength(code, at);
    if (length === 0 || leavesLine(code, at)) return undefined;
    at += length;
  }
  return undefined;
}
