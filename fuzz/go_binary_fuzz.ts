/**
 * A seeded mutation fuzzer for the Go-binary parsers: build information, the function
 * table and DWARF. Samples come from a real Go binary (the probe target built by the
 * local toolchain, cached) plus a synthetic Go 1.13–1.17 pointer-format build info;
 * each iteration mutates one sample in place (flipped bytes, overwritten fields, cut
 * length), parses it, exercises the result, and restores the bytes. Any exception, or a
 * result that breaks the parser's promises (a function ending before it starts), is a
 * failure.
 *
 * Run it longer: `deno run -A fuzz/go_binary_fuzz.ts [iterations] [seed]`.
 *
 * @module
 */

import { mulberry32 } from "../src/prng.ts";
import { openElf } from "../src/symbols/elf.ts";
import { parseBuildInfo } from "../src/symbols/go/buildinfo.ts";
import { parsePclntab } from "../src/symbols/go/pclntab.ts";
import { decompressSection, parseDwarf, readDwarf } from "../src/symbols/go/dwarf.ts";
import { buildGoFixture } from "../tests/go_fixtures.ts";
import { deflateSync } from "node:zlib";

/** The real sections mutated, from one Go binary. */
export interface GoFuzzSamples {
  buildInfo: Uint8Array;
  pclntab: Uint8Array;
  textStart: number;
  /** The first units of `.debug_info` (whole units), with the full abbreviation table. */
  dwarfInfo: Uint8Array;
  dwarfAbbrev: Uint8Array;
  dwarfStr?: Uint8Array;
  dwarfStrOffsets?: Uint8Array;
  dwarfAddr?: Uint8Array;
}

/** What a run saw. */
export interface GoFuzzReport {
  iterations: number;
  /** Parses that succeeded / returned an error result, per parser. */
  buildInfo: { ok: number; rejected: number };
  pclntab: { ok: number; rejected: number; functions: number };
  dwarf: { ok: number; rejected: number; members: number };
  /** Exceptions and broken promises, with the iteration that caused them. */
  failures: string[];
}

/** Reads fuzz samples from a Go binary with DWARF (default: the local probe target). */
export async function goFuzzSamples(path?: string): Promise<GoFuzzSamples> {
  if (path === undefined) {
    const built = buildGoFixture("local");
    if (!built.ok) throw new Error(built.error);
    path = built.path;
  }
  const opened = await openElf(path);
  if (!opened.ok) throw new Error(opened.error);
  using elf = opened.elf;
  const buildInfo = elf.readSection(".go.buildinfo");
  const pclntab = elf.readSection(".gopclntab");
  const text = elf.findSymbol("runtime.text")?.value;
  const d = readDwarf(elf);
  if (!buildInfo || !pclntab || text === undefined || !d.ok) {
    throw new Error(`${path} lacks build info, a function table or DWARF`);
  }
  const raw = (name: string) => {
    const s = elf.section(name);
    const bytes = s && elf.readSection(s);
    const out = bytes && decompressSection(bytes, (s.flags & 0x800) !== 0, false);
    return typeof out === "string" ? undefined : out;
  };
  const info = raw(".debug_info")!;
  const abbrev = raw(".debug_abbrev")!;
  // Whole code units up to ~8 KB, then the first 16 KB of the unit that holds the types
  // (its length patched to end there): structure of both kinds, cheap to index often.
  const view = new DataView(info.buffer, info.byteOffset, info.byteLength);
  let end = 0;
  while (end < info.length && end < 8 * 1024) end += 4 + view.getUint32(end, true);
  let types = end;
  while (types < info.length) {
    const length = 4 + view.getUint32(types, true);
    const unit = parseDwarf({ info: info.subarray(types, types + length), abbrev });
    if (unit.ok && unit.dwarf.structCount > 0) break;
    types += length;
  }
  const typesPart = info.slice(types, Math.min(info.length, types + 16 * 1024));
  new DataView(typesPart.buffer).setUint32(0, typesPart.length - 4, true);
  const dwarfInfo = new Uint8Array(end + typesPart.length);
  dwarfInfo.set(info.subarray(0, end));
  dwarfInfo.set(typesPart, end);
  return {
    buildInfo: buildInfo.slice(),
    pclntab: pclntab.slice(),
    textStart: text,
    dwarfInfo,
    dwarfAbbrev: abbrev,
    dwarfStr: raw(".debug_str"),
    dwarfStrOffsets: raw(".debug_str_offsets"),
    dwarfAddr: raw(".debug_addr"),
  };
}

/** A Go 1.13–1.17 style build info: pointers into a small fake address space. */
function pointerBuildInfo(): { section: Uint8Array; memory: Uint8Array; base: number } {
  const base = 0x500000;
  const version = new TextEncoder().encode("go1.16.15");
  const modinfo = new TextEncoder().encode(
    "0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6path\tx\nmod\tx\t(devel)\t\n" +
      "dep\ty\tv1.0.0\th1:abc=\n=>\tz\tv1.1.0\t\n\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2",
  );
  const memory = new Uint8Array(256);
  const mv = new DataView(memory.buffer);
  mv.setBigUint64(0, BigInt(base + 64), true);
  mv.setBigUint64(8, BigInt(version.length), true);
  mv.setBigUint64(16, BigInt(base + 96), true);
  mv.setBigUint64(24, BigInt(modinfo.length), true);
  memory.set(version, 64);
  memory.set(modinfo.subarray(0, 160), 96);
  const section = new Uint8Array(32);
  section.set([0xff, ...new TextEncoder().encode(" Go buildinf:")]);
  section[14] = 8;
  const sv = new DataView(section.buffer);
  sv.setBigUint64(16, BigInt(base), true);
  sv.setBigUint64(24, BigInt(base + 16), true);
  return { section, memory, base };
}

/** Mutates `bytes` in place near `hot` offsets; returns a function that undoes it. */
function mutate(bytes: Uint8Array, random: () => number, hot: number[]): () => void {
  const saved: [number, number][] = [];
  const set = (at: number, value: number) => {
    if (at < 0 || at >= bytes.length) return;
    saved.push([at, bytes[at]!]);
    bytes[at] = value;
  };
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const near = random() < 0.7 && hot.length > 0
      ? hot[Math.floor(random() * hot.length)]! + Math.floor(random() * 64)
      : Math.floor(random() * bytes.length);
    switch (Math.floor(random() * 4)) {
      case 0:
        set(near, Math.floor(random() * 256));
        break;
      case 1: // an extreme 32-bit value
        for (let k = 0; k < 4; k++) set(near + k, random() < 0.5 ? 0xff : 0);
        break;
      case 2:
        set(near, bytes[near]! ^ (1 << Math.floor(random() * 8)));
        break;
      default: // small integer
        set(near, Math.floor(random() * 8));
        break;
    }
  }
  return () => {
    for (let k = saved.length - 1; k >= 0; k--) bytes[saved[k]![0]] = saved[k]![1];
  };
}

const PROBE_NAMES = ["net/http.serverHandler.ServeHTTP", "main.main", "runtime.main", "x"];

/**
 * Runs `iterations` mutated inputs through the three parsers. Deterministic for a seed.
 *
 * @example
 * ```ts
 * import { fuzzGoBinary, goFuzzSamples } from "./go_binary_fuzz.ts";
 *
 * const report = fuzzGoBinary(5000, 1, await goFuzzSamples());
 * report.failures; // []
 * ```
 */
export function fuzzGoBinary(
  iterations: number,
  seed: number,
  samples: GoFuzzSamples,
): GoFuzzReport {
  const random = mulberry32(seed);
  const report: GoFuzzReport = {
    iterations,
    buildInfo: { ok: 0, rejected: 0 },
    pclntab: { ok: 0, rejected: 0, functions: 0 },
    dwarf: { ok: 0, rejected: 0, members: 0 },
    failures: [],
  };
  const pointer = pointerBuildInfo();
  const pcln = samples.pclntab;
  const pview = new DataView(pcln.buffer, pcln.byteOffset, pcln.byteLength);
  const functab = Number(pview.getBigUint64(64, true));
  const pclnHot = [0, 8, 32, 64, functab, functab + 8, functab + 800];
  const fail = (i: number, what: string) => {
    if (report.failures.length < 20) report.failures.push(`#${i}: ${what}`);
  };
  for (let i = 0; i < iterations; i++) {
    const kind = random();
    try {
      if (kind < 0.25) {
        const usePointer = random() < 0.3;
        const target = usePointer ? pointer.section : samples.buildInfo;
        const undo = mutate(target, random, [0, 14, 16, 32]);
        const undoMem = usePointer ? mutate(pointer.memory, random, [0, 8, 64]) : () => {};
        const cut = random() < 0.1 ? Math.floor(random() * target.length) : target.length;
        const read = (addr: number, len: number) => {
          const at = addr - pointer.base;
          return at >= 0 && at + len <= pointer.memory.length
            ? pointer.memory.subarray(at, at + len)
            : undefined;
        };
        const r = parseBuildInfo(target.subarray(0, cut), read);
        if (r.ok) report.buildInfo.ok++;
        else report.buildInfo.rejected++;
        undo();
        undoMem();
      } else if (kind < 0.65) {
        const undo = mutate(pcln, random, pclnHot);
        const cut = random() < 0.1 ? Math.floor(random() * pcln.length) : pcln.length;
        const r = parsePclntab(pcln.subarray(0, cut), { textStart: samples.textStart });
        if (r.ok) {
          report.pclntab.ok++;
          let n = 0;
          for (const fn of r.table.functions()) {
            if (fn.end < fn.entry) fail(i, `${fn.name} ends before it starts`);
            if (++n >= 200) break;
          }
          report.pclntab.functions += n;
          for (const fn of r.table.findAll(PROBE_NAMES).values()) {
            if (fn.end < fn.entry) fail(i, `${fn.name} ends before it starts`);
          }
          r.table.functionAt(samples.textStart + Math.floor(random() * 0x100000));
        } else report.pclntab.rejected++;
        undo();
      } else {
        const info = samples.dwarfInfo;
        const compressed = random() < 0.05;
        const undo = mutate(info, random, [0, 4, 11, 12, 20, 40, 100]);
        const undoAbbrev = mutate(samples.dwarfAbbrev, random, [0]);
        const cut = random() < 0.1 ? Math.floor(random() * info.length) : info.length;
        let bytes: Uint8Array | string = info.subarray(0, cut);
        if (compressed) {
          const z = deflateSync(bytes.subarray(0, 2048));
          const at = Math.floor(random() * z.length);
          z[at] = z[at]! ^ 0xff;
          const framed = new Uint8Array(24 + z.length);
          new DataView(framed.buffer).setUint32(0, 1, true);
          new DataView(framed.buffer).setUint32(8, 2048, true);
          framed.set(z, 24);
          bytes = decompressSection(framed, true, false);
        }
        if (typeof bytes !== "string") {
          const r = parseDwarf({
            info: bytes,
            abbrev: samples.dwarfAbbrev,
            str: samples.dwarfStr,
            strOffsets: samples.dwarfStrOffsets,
            addr: samples.dwarfAddr,
          });
          if (r.ok) {
            report.dwarf.ok++;
            let n = 0;
            for (const name of r.dwarf.structNames()) {
              report.dwarf.members += r.dwarf.structMembers(name)?.size ?? 0;
              if (++n >= 5) break;
            }
            r.dwarf.structMembers("x");
            r.dwarf.functionRange("main.main");
            if (/internal error/.test(r.dwarf.warnings.join(" "))) fail(i, "internal error");
          } else {
            report.dwarf.rejected++;
            if (/internal error/.test(r.error)) fail(i, r.error);
          }
        } else report.dwarf.rejected++;
        undoAbbrev();
        undo();
      }
    } catch (err) {
      fail(i, err instanceof Error ? err.stack ?? err.message : String(err));
    }
  }
  return report;
}

if (import.meta.main) {
  const iterations = Number(Deno.args[0] ?? 100_000);
  const seed = Number(Deno.args[1] ?? 1);
  const report = fuzzGoBinary(iterations, seed, await goFuzzSamples());
  console.log(JSON.stringify(report, null, 2));
  if (report.failures.length > 0) Deno.exit(1);
}
