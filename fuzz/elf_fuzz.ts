/**
 * A deterministic mutation fuzzer for the ELF reader. It mutates real ELF files in memory
 * (mostly the parts the reader decodes: headers, section and program header tables,
 * symbol, string, version and note sections), parses each mutant with
 * {@linkcode parseElf} — the same code that reads files — and exercises every method of
 * the result. Any exception is a failure.
 *
 * Run it longer from the command line:
 * `deno run -A fuzz/elf_fuzz.ts [iterations] [seed]`.
 *
 * @module
 */

import { parseElf } from "../src/symbols/elf.ts";
import type { ElfFile } from "../src/symbols/elf.ts";
import { importCalls } from "../src/symbols/elf_plt.ts";
import { mulberry32 } from "../src/prng.ts";

/** Options for {@linkcode fuzzElf}. */
export interface FuzzElfOptions {
  /**
   * ELF files to mutate. Default: those of `/bin/true` and
   * `/lib/x86_64-linux-gnu/libssl.so.3` that exist (read with `Deno.readFileSync`).
   */
  inputs?: Uint8Array[];
  /** Most failures kept in the report (each with a copy of its input). Default: 10. */
  maxFailures?: number;
  /** Called after every `progressEvery` iterations with the report so far. */
  onProgress?: (report: FuzzElfReport) => void;
  /** How often `onProgress` is called. Default: 10,000. */
  progressEvery?: number;
}

/** One input that made the reader throw (or report an internal error). */
export interface FuzzElfFailure {
  /** The iteration that produced it; rerun with the same seed and inputs to reproduce. */
  iteration: number;
  /** The exception or error text. */
  message: string;
  /** The mutated bytes. */
  bytes: Uint8Array;
}

/** What a {@linkcode fuzzElf} run did. */
export interface FuzzElfReport {
  /** Iterations run. */
  iterations: number;
  /** The seed used. */
  seed: number;
  /** Mutants that opened (`ok: true`). */
  opened: number;
  /** Mutants rejected with an error sentence (`ok: false`). */
  rejected: number;
  /** Symbols decoded across all mutants (a sign that the fuzzer reaches the tables). */
  symbols: number;
  /** Inputs that threw; empty when the reader held its contract. */
  failures: FuzzElfFailure[];
  /** The slowest iteration, its time and its input (a hint of pathological input). */
  slowest: { iteration: number; ms: number; bytes: Uint8Array };
}

/** The files mutated when no inputs are given. */
export const DEFAULT_FUZZ_INPUTS = ["/bin/true", "/lib/x86_64-linux-gnu/libssl.so.3"];

/**
 * Mutates ELF inputs `iterations` times with a PRNG seeded by `seed`, and checks that
 * parsing and using each mutant never throws. Deterministic for the same seed and inputs.
 *
 * @example
 * ```ts
 * import { fuzzElf } from "./elf_fuzz.ts";
 *
 * const report = fuzzElf(2000, 1);
 * if (report.failures.length > 0) throw new Error(report.failures[0]?.message);
 * ```
 */
export function fuzzElf(
  iterations: number,
  seed: number,
  options: FuzzElfOptions = {},
): FuzzElfReport {
  const inputs = options.inputs ?? readDefaultInputs();
  if (inputs.length === 0) {
    throw new Error(
      `Cannot fuzz the ELF reader: none of ${DEFAULT_FUZZ_INPUTS.join(", ")} exists; pass inputs`,
    );
  }
  const maxFailures = options.maxFailures ?? 10;
  const targets = inputs.map(prepareTarget);
  const random = mulberry32(seed);
  const report: FuzzElfReport = {
    iterations,
    seed,
    opened: 0,
    rejected: 0,
    symbols: 0,
    failures: [],
    slowest: { iteration: -1, ms: 0, bytes: new Uint8Array(0) },
  };
  const progressEvery = options.progressEvery ?? 10_000;
  for (let iteration = 0; iteration < iterations; iteration++) {
    const started = performance.now();
    const target = targets[Math.floor(random() * targets.length)] as Target;
    const undo = mutate(target, random);
    const length = random() < 0.1
      ? Math.floor(random() * target.bytes.length)
      : target.bytes.length;
    const bytes = target.bytes.subarray(0, length);
    try {
      const result = parseElf(bytes, { name: "mutant" });
      if (result.ok) {
        report.opened++;
        report.symbols += exercise(result.elf, target.names);
      } else {
        report.rejected++;
        if (result.error.includes("internal error")) throw new Error(result.error);
      }
    } catch (err) {
      if (report.failures.length < maxFailures) {
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        report.failures.push({ iteration, message, bytes: bytes.slice() });
      }
    }
    const ms = performance.now() - started;
    if (ms > report.slowest.ms) report.slowest = { iteration, ms, bytes: bytes.slice() };
    for (let i = undo.length - 1; i >= 0; i--) {
      const [at, value] = undo[i] as [number, number];
      target.bytes[at] = value;
    }
    if (options.onProgress && (iteration + 1) % progressEvery === 0) options.onProgress(report);
  }
  return report;
}

interface Target {
  /** A private copy, mutated in place and restored after each iteration. */
  bytes: Uint8Array;
  /** Byte ranges the reader decodes, as [start, end). */
  regions: Array<[number, number]>;
  /** Real symbol names to look up (bare and versioned). */
  names: string[];
}

function readDefaultInputs(): Uint8Array[] {
  const inputs: Uint8Array[] = [];
  for (const path of DEFAULT_FUZZ_INPUTS) {
    try {
      inputs.push(Deno.readFileSync(path));
    } catch {
      // Missing on this system: fuzz with the others.
    }
  }
  return inputs;
}

function prepareTarget(input: Uint8Array): Target {
  const bytes = input.slice();
  const regions: Array<[number, number]> = [[0, Math.min(64, bytes.length)]];
  const names = ["SSL_write", "malloc", "main", "SSL_read@@OPENSSL_3.0.0", "free@GLIBC_2.2.5"];
  const parsed = parseElf(bytes);
  if (parsed.ok) {
    const elf = parsed.elf;
    const { header } = elf;
    regions.push([header.phoff, header.phoff + header.phnum * header.phentsize]);
    regions.push([header.shoff, header.shoff + header.shnum * header.shentsize]);
    for (const s of elf.sections) {
      if (s.type !== 8 && s.size > 0 && s.offset + s.size <= bytes.length && isDecoded(s.type)) {
        regions.push([s.offset, s.offset + s.size]);
      }
    }
    for (const sym of elf.symbols("dynsym").slice(0, 40)) {
      if (sym.name !== "") names.push(sym.name, sym.versionedName);
    }
    elf.close();
  }
  return { bytes, regions: regions.filter(([a, b]) => b > a && b <= bytes.length), names };
}

/** Section types the reader decodes: string, symbol, note and GNU version tables. */
function isDecoded(type: number): boolean {
  return type === 2 || type === 3 || type === 7 || type === 11 || type >= 0x6ffffffd;
}

const INTERESTING = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xff,
  0xffff,
  0x7fffffff,
  0xffffffff,
  0x40,
  0x38,
  0x18,
];

/** Applies 1–8 mutations; returns [offset, old byte] pairs to restore. */
function mutate(target: Target, random: () => number): Array<[number, number]> {
  const { bytes, regions } = target;
  const undo: Array<[number, number]> = [];
  const set = (at: number, value: number) => {
    if (at < 0 || at >= bytes.length) return;
    undo.push([at, bytes[at] as number]);
    bytes[at] = value & 0xff;
  };
  const count = 1 + Math.floor(random() * random() * 8);
  for (let m = 0; m < count; m++) {
    const region = random() < 0.9 ? regions[Math.floor(random() * regions.length)] : undefined;
    const [start, end] = region ?? [0, bytes.length];
    const at = start + Math.floor(random() * (end - start));
    const op = random();
    if (op < 0.3) {
      set(at, Math.floor(random() * 256));
    } else if (op < 0.5) {
      set(at, (bytes[at] ?? 0) ^ (1 << Math.floor(random() * 8)));
    } else if (op < 0.85) {
      const width = [1, 2, 4, 8][Math.floor(random() * 4)] as number;
      const aligned = at - (at % width);
      let value = random() < 0.7
        ? INTERESTING[Math.floor(random() * INTERESTING.length)] as number
        : Math.floor(random() * bytes.length * 2);
      for (let i = 0; i < width; i++) {
        set(aligned + i, i < 4 ? value : 0);
        value = Math.floor(value / 256);
      }
    } else {
      const from = Math.floor(random() * bytes.length);
      for (let i = 0; i < 8; i++) set(at + i, bytes[from + i] ?? 0);
    }
  }
  return undo;
}

/** Calls everything an instrumentation would; returns the number of symbols decoded. */
function exercise(elf: ElfFile, names: readonly string[]): number {
  let decoded = 0;
  for (const table of ["dynsym", "symtab"] as const) {
    for (const sym of elf.symbols(table)) {
      decoded++;
      if (sym.versionedName.length < 0) throw new Error("impossible");
    }
  }
  for (const name of names) {
    const sym = elf.findSymbol(name);
    if (sym !== undefined) elf.vaddrToOffset(sym.value);
  }
  for (const calls of importCalls(elf, names).values()) {
    for (const stub of calls.stubs) elf.vaddrToOffset(stub);
  }
  elf.vaddrToOffset(elf.header.entry);
  elf.buildId();
  for (const section of elf.sections.slice(0, 64)) elf.readSection(section);
  elf.read(elf.header.shoff, 64);
  void elf.warnings.length;
  elf.close();
  return decoded;
}

if (import.meta.main) {
  const iterations = Number(Deno.args[0] ?? 100_000);
  const seed = Number(Deno.args[1] ?? Date.now() % 0x1_0000_0000);
  const started = performance.now();
  const report = fuzzElf(iterations, seed, {
    onProgress: (r) =>
      console.error(
        `… ${r.opened + r.rejected} iterations, ${r.failures.length} failures, slowest ` +
          `#${r.slowest.iteration} ${r.slowest.ms.toFixed(1)} ms, rss ${
            (Deno.memoryUsage().rss / 2 ** 20).toFixed(0)
          } MiB`,
      ),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `fuzzElf: ${report.iterations} iterations, seed ${report.seed}, ${report.opened} opened, ` +
      `${report.rejected} rejected, ${report.symbols} symbols decoded, ` +
      `${report.failures.length} failures, slowest #${report.slowest.iteration} ` +
      `${report.slowest.ms.toFixed(1)} ms, ${seconds} s`,
  );
  for (const failure of report.failures) {
    console.log(`iteration ${failure.iteration}: ${failure.message}`);
  }
  if (report.failures.length > 0) Deno.exit(1);
}
