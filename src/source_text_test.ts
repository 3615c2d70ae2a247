/**
 * The agent's own modules are Latin-1 text. V8 keeps every module's source for the life of
 * the process (functions compile lazily from it), with the inline source map Deno appends,
 * and it stores the whole of it at two bytes a character once one character is beyond
 * Latin-1: an em dash in a comment doubled its module's share of the heap. Glyphs the agent
 * prints are written as `\u` escapes instead (BENCHMARKS.md, "Sources kept as one-byte
 * text").
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("every module the agent loads is Latin-1 text", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("mod.ts", ROOT).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const ours = graph.modules.map((m) => m.specifier).filter((s) => s.startsWith(ROOT.href));
  const beyond: string[] = [];
  for (const specifier of ours) {
    const lines = (await Deno.readTextFile(new URL(specifier))).split("\n");
    lines.forEach((line, i) => {
      const c = [...line].find((ch) => ch.codePointAt(0)! > 0xff);
      if (c !== undefined) {
        beyond.push(`${specifier.slice(ROOT.href.length)}:${i + 1}: ${c} in "${line.trim()}"`);
      }
    });
  }
  // The graph is the agent's: a graph of one module would mean `deno info` failed.
  assert.ok(ours.length > 50, `only ${ours.length} modules in mod.ts's graph`);
  assert.deepEqual(beyond, []);
});
