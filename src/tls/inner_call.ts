/**
 * A cheaper place for a pair of C functions' probes: the internal function both reach. In
 * OpenSSL 3, `SSL_read_ex` is `sub rsp, 8; call ssl_read_internal` and `SSL_read` calls the
 * same function with a pointer to its own count; their entries (`sub rsp`) are single-stepped
 * by a uprobe, the internal function's (`push r13`) emulated, about seven times cheaper
 * (src/symbols/entry_site.ts). Probing it once with the `_ex` programs sees both calls.
 *
 * Only where the code proves it: the `_ex` function must hand its own arguments on
 * untouched (nothing but `endbr64` and the stack's alignment before the call or jump), so
 * the internal function takes the `_ex` arguments in the same registers; the plain function
 * must call it directly; and its first instruction must be one the kernel emulates.
 *
 * @module
 */
import { type ElfFile, isEmulated } from "../symbols/mod.ts";
import { callSites } from "../symbols/go/call_sites.ts";

const ENDBR64 = [0xf3, 0x0f, 0x1e, 0xfa];
const SUB_RSP_8 = [0x48, 0x83, 0xec, 0x08];
/** Longest plain function read for its calls. */
const MAX_FUNCTION_BYTES = 4096;

function startsWith(code: Uint8Array, at: number, bytes: readonly number[]): boolean {
  return bytes.every((b, i) => code[at + i] === b);
}

function definedFunction(elf: ElfFile, name: string) {
  const sym = elf.findSymbol(name);
  return sym?.defined && sym.type === "FUNC" && sym.value !== 0 ? sym : undefined;
}

/** The address `ex` forwards its arguments to, when that is all its first instructions do. */
function forwardTarget(elf: ElfFile, ex: number): number | undefined {
  const offset = elf.vaddrToOffset(ex);
  const code = offset === undefined ? undefined : elf.read(offset, 16);
  if (code === undefined) return undefined;
  let at = startsWith(code, 0, ENDBR64) ? 4 : 0;
  if (startsWith(code, at, SUB_RSP_8)) at += 4;
  if (code[at] !== 0xe8 && code[at] !== 0xe9) return undefined; // call, jmp rel32
  const rel = new DataView(code.buffer, code.byteOffset).getInt32(at + 1, true);
  return ex + at + 5 + rel;
}

/**
 * The file offset of the internal function both `plain` and `ex` reach in `elf`, when probing
 * it instead of them is proven equivalent and cheaper; else undefined.
 *
 * @example
 * ```ts ignore
 * const inner = innerCall(elf, "SSL_read", "SSL_read_ex"); // ssl_read_internal's offset
 * ```
 */
export function innerCall(elf: ElfFile, plain: string, ex: string): number | undefined {
  const p = definedFunction(elf, plain), x = definedFunction(elf, ex);
  if (p === undefined || x === undefined || p.size > MAX_FUNCTION_BYTES) return undefined;
  const target = forwardTarget(elf, x.value);
  const offset = target === undefined ? undefined : elf.vaddrToOffset(target);
  const head = offset === undefined ? undefined : elf.read(offset, 2);
  if (target === undefined || head === undefined || !isEmulated(head, 0)) return undefined;
  const pOffset = elf.vaddrToOffset(p.value);
  const code = pOffset === undefined ? undefined : elf.read(pOffset, p.size);
  if (code === undefined || callSites(code, p.value, target).length === 0) return undefined;
  return offset;
}
