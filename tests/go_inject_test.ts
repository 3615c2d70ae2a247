// traceparent injection into Go's net/http client requests (--inject-traceparent), against
// a Python server upspan does not trace. Where the kernel allows bpf_probe_write_user: the
// server receives the Go client span's ids, a request's own traceparent is continued and
// never doubled, 1,000 responses are byte for byte those of an untraced run. Where it
// refuses (lockdown; simulated below on any kernel): one sentence, spans still, nothing
// written. A dry run (everything but the write) runs on any kernel. The full toolchain
// matrix is `deno task go:inject-matrix`.
import {
  checkDryRun,
  checkInjected,
  checkRefused,
  runInjectScenario,
} from "./targets/go/inject_scenario.ts";
import { injectionRefusal } from "../src/golang/injection.ts";

const REQUESTS = 1000;
// This kernel's answer: the tests check injection where it is allowed, the refusal where not.
const refused = await injectionRefusal();

// Classic maps with DWARF offsets; swiss maps with the table's (a stripped build).
for (const [toolchain, stripped] of [["go1.21.13", false], ["go1.26.8", true]] as const) {
  Deno.test(`go ${toolchain}${stripped ? " stripped" : ""}: --inject-traceparent ${refused ? "refused by this kernel" : "reaches an untraced server"}`, async () => {
    const o = await runInjectScenario(toolchain, { stripped, requests: REQUESTS });
    if (refused === undefined) checkInjected(o, REQUESTS);
    else checkRefused(o, REQUESTS, refused);
  });
}

// Every step but the write, on any kernel (the write is dead code to the verifier): the line
// is the client span's and would start where net/http's header map lines do.
for (const [toolchain, stripped] of [["go1.21.13", false], ["go1.26.8", true]] as const) {
  Deno.test(`go ${toolchain}${stripped ? " stripped" : ""}: the injection's dry run finds the place, writes nothing`, async () => {
    const o = await runInjectScenario(toolchain, { stripped, requests: 10, dryRun: true });
    checkDryRun(o, 10);
  });
}

Deno.test("go: UPSPAN_INJECT_TRACEPARENT=1 asks for it too", async () => {
  const o = await runInjectScenario("go1.26.8", {
    stripped: false,
    requests: 10,
    byEnvironment: true,
  });
  if (refused === undefined) checkInjected(o, 10);
  else checkRefused(o, 10, refused);
});

Deno.test("go: injection refused (kernel lockdown): one sentence, spans still, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lockdown = `${dir}/lockdown`;
    await Deno.writeTextFile(lockdown, "none [integrity] confidentiality\n");
    const o = await runInjectScenario("go1.26.8", {
      stripped: false,
      requests: 10,
      env: { UPSPAN_LOCKDOWN_FILE: lockdown },
    });
    checkRefused(
      o,
      10,
      "the kernel is in lockdown (integrity), which forbids bpf_probe_write_user",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
