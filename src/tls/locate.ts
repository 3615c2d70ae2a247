/**
 * Finds the TLS library a process uses: the registry's libraries asked in order, each in
 * the files its table names, the first found winning.
 *
 * @module
 */
import type { MappedFile, ProcessInfo } from "../discovery/mod.ts";
import type { ProbeSite, TlsLibrary } from "./library.ts";
import { TLS_LIBRARIES } from "./registry.ts";
import { librarySites } from "./sites.ts";

/** Where a TLS library is in a process, or why none is. */
export type TlsLocation =
  | { ok: true; library: TlsLibrary; file: MappedFile; sites: ProbeSite[] }
  | { ok: false; message: string };

/**
 * Finds the first of `libraries` (default: the registry's) in a process.
 *
 * @example
 * ```ts ignore
 * const where = await locateTls(process);
 * if (where.ok) console.log(`${where.library.name} in ${where.file.path}`);
 * ```
 */
export async function locateTls(
  proc: ProcessInfo,
  libraries: readonly TlsLibrary[] = TLS_LIBRARIES,
): Promise<TlsLocation> {
  const absent: string[] = [];
  for (const library of libraries) {
    const problems: string[] = [];
    for (const file of library.files(proc)) {
      const sites = await librarySites(library, file);
      if (typeof sites !== "string") return { ok: true, library, file, sites };
      if (file.path !== proc.exe) problems.push(sites);
    }
    const why = library.absent?.(proc, problems);
    if (why !== undefined) absent.push(why);
  }
  return { ok: false, message: absent.join("; ") || "uses no TLS library upspan knows" };
}
