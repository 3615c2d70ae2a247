/**
 * The Go instrumentation across every supported toolchain: builds the fixture server
 * (`tests/targets/go/server/`) with the latest patch release of Go 1.21 to 1.26 (and
 * go1.26.8, whose net/http.response layout differs from go1.26.11), each with DWARF and
 * stripped, serves 10,000 requests under probes and checks spans, parents and
 * byte-identical responses. Needs root. Exits 1 when any build fails a check.
 *
 *   deno run -A scripts/go_matrix.ts [--requests N] [--toolchains go1.22.12,go1.26.8]
 *
 * @module
 */
import { parseArgs } from "node:util";
import assert from "node:assert/strict";
import { GO_MATRIX_TOOLCHAINS } from "../tests/targets/go/build.ts";
import { checkGoScenario, hitsPerRequest, runGoScenario } from "../tests/targets/go/scenario.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "10000" },
    toolchains: { type: "string", default: GO_MATRIX_TOOLCHAINS.join(",") },
    concurrency: { type: "string", default: "4" },
  },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
let failures = 0;
console.log("toolchain   build     probes  hits/req  spans   result");
for (const toolchain of values.toolchains.split(",")) {
  let shapes: string[] | undefined;
  for (const stripped of [false, true]) {
    const build = stripped ? "stripped" : "dwarf";
    let line = `${toolchain.padEnd(11)} ${build.padEnd(9)}`;
    try {
      const o = await runGoScenario(toolchain, { stripped, requests, concurrency });
      line +=
        ` ${String(o.result.probes).padStart(6)}  ${hitsPerRequest(o).toFixed(1).padStart(8)}` +
        `  ${String(o.checked.length + o.bulk.length).padStart(6)}`;
      const mine = checkGoScenario(o);
      if (shapes !== undefined) {
        assert.deepEqual(mine, shapes, "stripped spans differ from DWARF's");
      }
      shapes = mine;
      line += "   ok";
    } catch (e) {
      failures++;
      line += `   FAILED: ${
        e instanceof Error ? e.message.split("\n").slice(0, 6).join(" ") : String(e)
      }`;
    }
    console.log(line);
  }
}
if (failures > 0) {
  console.error(`${failures} build(s) failed`);
  Deno.exit(1);
}
