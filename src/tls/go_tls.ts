/**
 * Go's own TLS (`crypto/tls`), where a Go program has it: the plaintext of
 * `(*Conn).Write` at entry and of `(*Conn).Read` at entry and at each of its `RET`s (never a
 * uretprobe on Go), fed to the same streams as OpenSSL's. Sites are read once per file.
 *
 * @module
 */
import type { MappedFile, ProcessInfo } from "../discovery/mod.ts";
import { type GoBinary, openGoBinary } from "../symbols/go/mod.ts";
import type { ProbeSite } from "./openssl.ts";

const WRITE = "crypto/tls.(*Conn).Write";
const READ = "crypto/tls.(*Conn).Read";

/** What each executable held, by identity: its sites without the file, or why none. */
const byFile = new Map<string, Omit<ProbeSite, "file">[] | string>();
const MAX_FILES = 1024;

/**
 * The probe sites of Go's crypto/tls in a process's executable, or why there are none (not
 * Go, no crypto/tls linked, a RET that could not be found).
 *
 * @example
 * ```ts ignore
 * const sites = await locateGoTls(process);
 * if (typeof sites !== "string") probes.attach(sites, process.pid);
 * ```
 */
export async function locateGoTls(proc: ProcessInfo): Promise<ProbeSite[] | string> {
  const exe: MappedFile | undefined = proc.files[0];
  if (exe === undefined) return "no executable";
  const key = `${exe.device}:${exe.inode}`;
  let found = byFile.get(key);
  if (found === undefined) {
    const opened = await openGoBinary(exe);
    if (!opened.ok) return opened.error; // not Go, or gone: not remembered
    using bin = opened.binary;
    found = goTlsSites(bin);
    if (byFile.size >= MAX_FILES) byFile.delete(byFile.keys().next().value!);
    byFile.set(key, found);
  }
  return typeof found === "string" ? found : found.map((site) => ({ ...site, file: exe }));
}

function goTlsSites(bin: GoBinary): Omit<ProbeSite, "file">[] | string {
  const fns = bin.findFunctions([WRITE, READ]);
  const write = fns.get(WRITE), read = fns.get(READ);
  if (write === undefined || read === undefined) return "no crypto/tls in it";
  const rets = bin.retOffsets(read);
  if (!rets.ok || rets.fileOffsets.length === 0) {
    return rets.ok ? `no RET found in ${READ}` : rets.error;
  }
  const site = (symbol: string, program: string, offset: number) => ({
    symbol,
    program,
    retprobe: false,
    offset,
  });
  return [
    site(WRITE, "go_tls_write", write.fileOffset),
    site(READ, "go_tls_read", read.fileOffset),
    ...rets.fileOffsets.map((off) => site(READ, "go_tls_read_ret", off)),
  ];
}
