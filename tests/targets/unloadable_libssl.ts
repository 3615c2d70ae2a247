/**
 * A `libssl.so.3` that can be unloaded. Debian's own is linked with `-z nodelete`, so
 * `dlclose` never unmaps it; this one is Debian's OpenSSL code all the same — `libssl.a` and
 * `libcrypto.a` from libssl-dev — linked into one shared object without that flag.
 *
 * @module
 */

const ARCHIVES = "/usr/lib/x86_64-linux-gnu";

/** Builds the library into `dir` and returns its path. */
export async function buildUnloadableLibssl(dir: string): Promise<string> {
  const out = `${dir}/libssl.so.3`;
  const r = await new Deno.Command("gcc", {
    args: [
      "-shared",
      "-o",
      out,
      "-Wl,-soname,libssl.so.3",
      "-Wl,--whole-archive",
      `${ARCHIVES}/libssl.a`,
      "-Wl,--no-whole-archive",
      `${ARCHIVES}/libcrypto.a`,
    ],
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(`Cannot link ${out}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return out;
}
