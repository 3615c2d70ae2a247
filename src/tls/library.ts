/**
 * What a TLS library is to upspan, as a table: which files of a process may hold it, which of
 * its functions get which program of `capture.bpf.o` (whose wrappers hand the plaintext to the
 * capture's streams), and how its symbols are found. Adding a library is one such table,
 * its BPF wrappers, and a line in `registry.ts`.
 *
 * @module
 */
import type { MappedFile, ProcessInfo } from "../discovery/mod.ts";

/** One row of a library's probe table. */
export interface TlsProbe {
  symbol: string;
  program: string;
  /**
   * Where the probe sits: the function's entry (default), its return (a uretprobe; C code
   * only) or each of its `RET` instructions (Go code, where a uretprobe would crash it).
   */
  at?: "entry" | "return" | "rets";
  /** Absent in some versions: skipped instead of failing. */
  optional?: boolean;
}

/** A TLS library's table. */
export interface TlsLibrary {
  /** For log lines: "OpenSSL", "Go's crypto/tls". */
  readonly name: string;
  /**
   * Where its function names are: an ELF symbol table (exported C functions) or Go's
   * function table (pclntab), which a stripped Go binary keeps.
   */
  readonly symbols: "elf" | "go";
  readonly probes: readonly TlsProbe[];
  /** The files of a process that may hold it, most likely first. */
  files(proc: ProcessInfo): MappedFile[];
  /**
   * Pairs whose probes move to the internal function both reach, where the code proves that
   * equivalent and cheaper (see `inner_call.ts`): the `ex` rows are placed there, the `plain`
   * rows dropped. ELF libraries only.
   */
  readonly inner?: readonly { plain: string; ex: string }[];
  /** Whether it may be loaded after a process starts (a shared library): looked for again. */
  readonly loadedLate?: boolean;
  /**
   * Why a process has none of it, given what was wrong with its candidate libraries (not
   * the executable); undefined where that is not worth a line (most processes are not Go).
   */
  absent?(proc: ProcessInfo, problems: readonly string[]): string;
}

/** A probe to place: a program at a file offset. */
export interface ProbeSite {
  file: MappedFile;
  symbol: string;
  program: string;
  retprobe: boolean;
  /** File offset of the instruction probed. */
  offset: number;
  /**
   * How far past the function's entry that instruction is (see `entryShift`), given to the
   * program as its cookie. Default 0.
   */
  shift?: number;
}
