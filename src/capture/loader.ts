/**
 * The dynamic loader as a probe table: `_dl_debug_state`, which glibc's and musl's loaders
 * call for debuggers around every change to a process's list of libraries. Probed, it tells
 * the capture of each `dlopen` in a traced process (Python importing `psycopg2` or `ssl`,
 * a Node.js addon), so a library loaded after upspan attached is probed at once, not at the
 * next scan. Its program is `dl_debug_state` in `bpf/uprobes/capture/process.h`.
 *
 * @module
 */
import type { ProcessInfo } from "../discovery/mod.ts";
import { librarySites, type ProbeSite, type TlsLibrary } from "../tls/mod.ts";

const LOADER_FILE = /(^|\/)ld-(linux[^/]*|musl-[^/]*)\.so(\.[0-9.]+)?$/;

/** The loader's one probe, read like a library's table. */
export const LOADER: TlsLibrary = {
  name: "the dynamic loader",
  symbols: "elf",
  probes: [{ symbol: "_dl_debug_state", program: "dl_debug_state" }],
  files: (proc: ProcessInfo) => proc.files.filter((f) => LOADER_FILE.test(f.path)),
};

/**
 * Where to probe a process's loader; none for a static executable (Go's) or a loader that
 * does not export `_dl_debug_state`.
 *
 * @example
 * ```ts ignore
 * const sites = await loaderSites(process);
 * if (sites.length) probes.attach(sites);
 * ```
 */
export async function loaderSites(proc: ProcessInfo): Promise<ProbeSite[]> {
  for (const file of LOADER.files(proc)) {
    const sites = await librarySites(LOADER, file);
    if (typeof sites !== "string") return sites;
  }
  return [];
}
