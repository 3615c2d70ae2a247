/**
 * Resolves one symbol in an ELF file and prints its address, file offset, the time it
 * took and how many bytes were read: `deno run -A scripts/lookup_symbol.ts FILE SYMBOL`.
 *
 * @module
 */
import { openElf } from "../src/symbols/mod.ts";

const [path = "/usr/bin/node", name = "SSL_write"] = Deno.args;
const t0 = performance.now();
const r = await openElf(path);
if (!r.ok) {
  console.error(r.error);
  Deno.exit(1);
}
const sym = r.elf.findSymbol(name);
const ms = performance.now() - t0;
const offset = sym ? r.elf.vaddrToOffset(sym.value) : undefined;
console.log(
  JSON.stringify({
    symbol: sym?.versionedName ?? null,
    value: sym?.value,
    offset,
    ms: Number(ms.toFixed(2)),
    bytesRead: r.elf.bytesRead,
    fileSize: (await Deno.stat(path)).size,
  }),
);
r.elf.close();
