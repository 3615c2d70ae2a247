/**
 * Where a file calls an imported function: its PLT stub (x86-64). A call through the
 * stub passes the stub's `jmp *slot(%rip)`, so a probe there sees this file's calls of the
 * function and no other file's (the library's calls of its own exported functions go
 * through its own PLT).
 *
 * The stubs are found by what they do, not by their order: each `jmp *disp32(%rip)` in
 * `.plt`, `.plt.sec` or `.plt.got` whose slot is the function's `R_X86_64_JUMP_SLOT` or
 * `R_X86_64_GLOB_DAT` relocation. A function the file also reaches by other ways (a
 * `GLOB_DAT` slot: `call *slot(%rip)` under `-fno-plt`, or its address taken) is said so.
 *
 * @module
 */
import { dataView } from "./_elf_bytes.ts";
import type { ElfFile } from "./elf.ts";

/** `sh_type` of a relocation table with addends. */
const SHT_RELA = 4;
const R_X86_64_GLOB_DAT = 6;
const R_X86_64_JUMP_SLOT = 7;
const RELA_SIZE = 24;
/** x86-64, `e_machine`. */
const EM_X86_64 = 62;

/** How a file calls one imported function. */
export interface ImportCalls {
  /** Virtual addresses of the `jmp *slot(%rip)` instructions of its stubs. */
  stubs: number[];
  /** The file may also call it without a stub (a `GLOB_DAT` slot): stubs do not see all. */
  direct: boolean;
}

/**
 * The imported functions among `names` this file calls, each with its PLT stubs; functions
 * it does not import are absent. Empty for a file that is not x86-64.
 *
 * @example
 * ```ts ignore
 * const calls = importCalls(elf, ["PQsendQuery"]);
 * calls.get("PQsendQuery")?.stubs; // [0x6240]
 * ```
 */
export function importCalls(elf: ElfFile, names: readonly string[]): Map<string, ImportCalls> {
  const out = new Map<string, ImportCalls>();
  if (elf.header.machine !== EM_X86_64) return out;
  /** `.dynsym` index -> name, of the wanted functions this file imports (found by hash). */
  const wanted = new Map<number, string>();
  for (const name of names) {
    const sym = elf.findSymbol(name);
    if (sym && !sym.defined && sym.table === "dynsym") wanted.set(sym.index, sym.name);
  }
  if (wanted.size === 0) return out;
  /** GOT slot address -> the function it holds. */
  const slots = new Map<number, string>();
  for (const section of elf.sections) {
    if (section.type !== SHT_RELA) continue;
    const bytes = elf.readSection(section);
    if (!bytes) continue;
    const view = dataView(bytes);
    for (let at = 0; at + RELA_SIZE <= bytes.length; at += RELA_SIZE) {
      const type = view.getUint32(at + 8, true);
      if (type !== R_X86_64_JUMP_SLOT && type !== R_X86_64_GLOB_DAT) continue;
      const name = wanted.get(view.getUint32(at + 12, true));
      if (name === undefined) continue;
      const calls = out.get(name) ?? { stubs: [], direct: false };
      if (type === R_X86_64_GLOB_DAT) calls.direct = true;
      out.set(name, calls);
      slots.set(Number(view.getBigUint64(at, true)), name);
    }
  }
  if (slots.size === 0) return out;
  for (const name of [".plt", ".plt.sec", ".plt.got"]) {
    const section = elf.section(name);
    const bytes = section && elf.readSection(section);
    if (!section || !bytes) continue;
    const view = dataView(bytes);
    // Stub instructions start 4-aligned (after an `endbr64` at most), a `bnd` prefix
    // (0xf2) included: only there, so that no probe lands inside another instruction.
    for (let start = 0; start + 7 <= bytes.length; start += 4) {
      const at = bytes[start] === 0xf2 ? start + 1 : start;
      if (bytes[at] !== 0xff || bytes[at + 1] !== 0x25) continue;
      const slot = section.addr + at + 6 + view.getInt32(at + 2, true);
      const fn = slots.get(slot);
      if (fn !== undefined) out.get(fn)!.stubs.push(section.addr + start);
    }
  }
  return out;
}
