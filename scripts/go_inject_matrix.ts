/**
 * traceparent injection across every supported toolchain, each with DWARF and stripped:
 * the Go fixture server calls a Python server upspan does not trace, N times untraced and
 * N times under `--inject-traceparent`, and each build is checked — the server received the
 * client span's ids, a request's own traceparent arrived alone and was continued, the
 * responses were byte-identical, the Go server still answers. Where this kernel refuses
 * bpf_probe_write_user, each build is checked for the refusal instead (one line, nothing
 * written, spans still). Each build also runs a dry run first, on any kernel: every step but
 * the write, the line and where it would go checked. Needs root. Exits 1 when any build fails.
 *
 *   deno run -A scripts/go_inject_matrix.ts [--requests N] [--toolchains go1.22.12,go1.26.8]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { GO_MATRIX_TOOLCHAINS } from "../tests/targets/go/build.ts";
import {
  checkDryRun,
  checkInjected,
  checkRefused,
  runInjectScenario,
} from "../tests/targets/go/inject_scenario.ts";
import { injectionRefusal } from "../src/golang/injection.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "1000" },
    toolchains: { type: "string", default: GO_MATRIX_TOOLCHAINS.join(",") },
  },
});
const requests = Number(values.requests);
const refused = await injectionRefusal();
console.log(refused ? `this kernel refuses injection: ${refused}` : "this kernel allows injection");
let failures = 0;
for (const toolchain of values.toolchains.split(",")) {
  for (const stripped of [false, true]) {
    let line = `${toolchain.padEnd(11)} ${(stripped ? "stripped" : "dwarf").padEnd(9)}`;
    try {
      checkDryRun(
        await runInjectScenario(toolchain, { stripped, requests, dryRun: true }),
        requests,
      );
      line += " dry run ok;";
      const o = await runInjectScenario(toolchain, { stripped, requests });
      if (refused === undefined) checkInjected(o, requests);
      else checkRefused(o, requests, refused);
      line += refused === undefined
        ? ` ok: received ${o.received}`
        : " ok: refused, nothing written";
    } catch (e) {
      failures++;
      line += ` FAILED: ${e instanceof Error ? e.message.split("\n").slice(0, 4).join(" ") : e}`;
    }
    console.log(line);
  }
}
if (failures > 0) {
  console.error(`${failures} build(s) failed`);
  Deno.exit(1);
}
