/**
 * The OpenSSL instrumentation as a table: which exported function gets which program of
 * `bpf/uprobes/capture.bpf.c`, at entry or at return, and where OpenSSL lives in a process —
 * a mapped `libssl.so.*`, or an executable that links it statically and exports
 * `SSL_read` (Node.js does).
 *
 * @module
 */
import type { MappedFile, ProcessInfo } from "../discovery/mod.ts";
import { type ElfFile, openElf } from "../symbols/mod.ts";

/** One row of the probe table. */
export interface ProbeSpec {
  symbol: string;
  program: string;
  /** At the function's return; only for C code, never Go. */
  retprobe?: boolean;
  /** Absent in older OpenSSL (the `_ex` calls came in 1.1.1): skip instead of failing. */
  optional?: boolean;
}

/**
 * Writes are captured at entry, where the buffer already holds the plaintext and before the
 * peer can answer; their return says how much was written, and bytes given but not written
 * (a write made before the handshake completed, or on a full socket, is made again) are not
 * sent twice. Reads at entry (arguments kept per thread) and at return, when the buffer has
 * been filled. Two hits per call. SSL_free ends what was known of the SSL*: the next
 * connection may get the same address.
 */
export const OPENSSL_PROBES: readonly ProbeSpec[] = [
  { symbol: "SSL_write", program: "ssl_write" },
  { symbol: "SSL_write", program: "ssl_write_return", retprobe: true },
  { symbol: "SSL_write_ex", program: "ssl_write_ex", optional: true },
  { symbol: "SSL_write_ex", program: "ssl_write_return", retprobe: true, optional: true },
  { symbol: "SSL_read", program: "ssl_read" },
  { symbol: "SSL_read", program: "ssl_read_return", retprobe: true },
  { symbol: "SSL_read_ex", program: "ssl_read_ex", optional: true },
  { symbol: "SSL_read_ex", program: "ssl_read_return", retprobe: true, optional: true },
  { symbol: "SSL_free", program: "ssl_free" },
];

/** A probe to place: a program at a file offset. */
export interface ProbeSite {
  file: MappedFile;
  symbol: string;
  program: string;
  retprobe: boolean;
  /** File offset of the function's first instruction. */
  offset: number;
}

/** Where OpenSSL is in a process, or why it is not. */
export type OpenSSLLocation =
  | { ok: true; file: MappedFile; sites: ProbeSite[] }
  | { ok: false; message: string };

const LIBSSL = /(^|\/)libssl\.so(\.[0-9.]+)?$/;

/**
 * What each file held, by identity (device and inode): the hundredth process that maps a
 * library costs a lookup here, not another ELF read. Files are few; the cache is bounded.
 */
const byFile = new Map<string, Omit<ProbeSite, "file">[] | string>();
const MAX_FILES = 4096;

async function sitesIn(file: MappedFile): Promise<ProbeSite[] | string> {
  const key = `${file.device}:${file.inode}`;
  let found = byFile.get(key);
  if (found === undefined) {
    const opened = await openElf(file);
    // Not remembered: the path goes through /proc/PID/root, and a process that exited
    // while being read says nothing about the file, which the next process may map.
    if (!opened.ok) return opened.error;
    found = readSites(file, opened.elf);
    if (byFile.size >= MAX_FILES) byFile.delete(byFile.keys().next().value!);
    byFile.set(key, found);
  }
  return typeof found === "string" ? found : found.map((site) => ({ ...site, file }));
}

function readSites(file: MappedFile, elf: ElfFile): Omit<ProbeSite, "file">[] | string {
  try {
    const sites: Omit<ProbeSite, "file">[] = [];
    for (const spec of OPENSSL_PROBES) {
      // Only a function defined here: an undefined import or a PLT stub is not OpenSSL.
      const sym = elf.findSymbol(spec.symbol);
      const defined = sym?.defined && sym.type === "FUNC" && sym.value !== 0;
      const offset = defined ? elf.vaddrToOffset(sym.value) : undefined;
      if (offset === undefined) {
        if (spec.optional) continue;
        return `${file.path} does not define ${spec.symbol}`;
      }
      sites.push({
        symbol: spec.symbol,
        program: spec.program,
        retprobe: !!spec.retprobe,
        offset,
      });
    }
    return sites;
  } finally {
    elf.close();
  }
}

/**
 * Finds OpenSSL in a process: first a mapped libssl, then the executable itself.
 *
 * @example
 * ```ts
 * const where = await locateOpenSSL(process);
 * if (where.ok) console.log(where.file.path, where.sites.length);
 * ```
 */
export async function locateOpenSSL(proc: ProcessInfo): Promise<OpenSSLLocation> {
  const problems: string[] = [];
  const candidates = [
    ...proc.files.filter((f) => LIBSSL.test(f.path)),
    ...proc.files.filter((f) => f.path === proc.exe),
  ];
  for (const file of candidates) {
    const sites = await sitesIn(file);
    if (typeof sites !== "string") return { ok: true, file, sites };
    if (file.path !== proc.exe) problems.push(sites);
  }
  const detail = problems.length ? ` (${problems.join("; ")})` : "";
  return {
    ok: false,
    message:
      `does not use OpenSSL: no libssl is mapped and ${proc.exe} does not export SSL_read${detail}`,
  };
}
