import assert from "node:assert/strict";
import { attachedTracepoints, mayLoadBpf, missingTracepoints, tracefsRoot } from "./preflight.ts";
import { CAP } from "./preflight.ts";

Deno.test("the tracepoints checked are the ones the chosen syscall method attaches", () => {
  const names = (m: Parameters<typeof attachedTracepoints>[0]) =>
    attachedTracepoints(m).map((tp) => `${tp.category}/${tp.name}`);
  assert.deepEqual(names("socket"), ["sched/sched_process_exec", "sched/sched_process_exit"]);
  assert.deepEqual(names("tp_btf"), names("socket"));
  const perSyscall = names("tracepoint");
  assert.ok(perSyscall.includes("syscalls/sys_enter_read"));
  assert.ok(perSyscall.includes("syscalls/sys_enter_close"));
  assert.ok(!perSyscall.some((n) => n.includes("connect")), "connect is never attached");
});

Deno.test("mayLoadBpf: CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON", () => {
  assert.ok(mayLoadBpf(new Set([CAP.SYS_ADMIN])));
  assert.ok(mayLoadBpf(new Set([CAP.BPF, CAP.PERFMON])));
  assert.ok(!mayLoadBpf(new Set([CAP.BPF])));
  assert.ok(!mayLoadBpf(new Set()));
});

Deno.test({
  name: "missingTracepoints: this machine's tracefs has every one the agent attaches",
  ignore: Deno.uid() !== 0,
}, async () => {
  const { root } = await tracefsRoot();
  assert.ok(root);
  assert.deepEqual(await missingTracepoints(root, attachedTracepoints("tracepoint")), []);
  const made = { program: "x", category: "sched", name: "no_such_tracepoint" };
  assert.deepEqual(await missingTracepoints(root, [made]), [made]);
});
