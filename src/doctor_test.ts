import assert from "node:assert/strict";
import { capabilities, kernelVersion, pickSyscallAttach, runChecks, runDoctor } from "./doctor.ts";
import { injectionRefusal } from "./golang/injection.ts";

Deno.test("kernelVersion and capabilities parse what the kernel reports", () => {
  assert.deepEqual(kernelVersion("6.1.0-18-amd64"), [6, 1]);
  assert.deepEqual(kernelVersion("5.15.0-1051-aws"), [5, 15]);
  assert.deepEqual(kernelVersion("junk"), [0, 0]);
  assert.deepEqual([...capabilities("000001fffeffffff")].length, 40);
  assert.deepEqual([...capabilities("000000c000000000")], [38, 39]); // PERFMON, BPF
  assert.deepEqual([...capabilities("0000000000200000")], [21]); // SYS_ADMIN
  assert.deepEqual([...capabilities("zz")], []);
});

Deno.test({
  name: "as root on this machine every required check passes; exit 0",
  ignore: Deno.uid() !== 0,
}, async () => {
  const checks = await runChecks();
  const failed = checks.filter((c) => c.required && !c.ok);
  assert.deepEqual(failed, [], JSON.stringify(failed, null, 1));
  assert.deepEqual(checks.map((c) => c.check), [
    "kernel",
    "btf",
    "uprobes",
    "tracefs",
    "tracepoints",
    "syscall attach",
    "privileges",
    "process access",
    "lockdown",
    "injection",
    "libbpf",
    "bpf object",
  ]);
  // --inject-traceparent is optional: allowed or not, the doctor says which, as start-up would.
  const injection = checks.find((c) => c.check === "injection")!;
  const refused = await injectionRefusal();
  assert.equal(injection.required, false);
  assert.equal(injection.ok, refused === undefined);
  if (refused !== undefined) {
    assert.equal(injection.detail, `--inject-traceparent would be refused: ${refused}`);
  }
  const lines: string[] = [];
  assert.equal(await runDoctor({ print: (l) => lines.push(l) }), 0);
  assert.equal(lines.at(-1), "upspan can trace on this machine.");
  // This kernel has the socket layer's BTF raw tracepoints: the method auto picks.
  assert.ok(
    lines.some((l) => /^ok +syscall attach +socket: only socket sends and receives/.test(l)),
    lines.join("\n"),
  );
});

Deno.test("the syscall attach method named is the first of the order the kernel has", () => {
  const all = "\0btf_trace_sys_enter\0btf_trace_sys_exit\0btf_trace_sock_send_length\0" +
    "btf_trace_sock_recv_length\0btf_trace_inet_sock_set_state\0btf_trace_tcp_destroy_sock\0";
  const order = ["socket", "tp_btf", "tracepoint"] as const;
  assert.equal(pickSyscallAttach(order, all, true), "socket");
  // A kernel before sock_send_length (6.3): the raw syscall tracepoints.
  const older = all.replace("\0btf_trace_sock_send_length", "");
  assert.equal(pickSyscallAttach(order, older, true), "tp_btf");
  assert.equal(pickSyscallAttach(order, "", true), "tracepoint");
  assert.equal(pickSyscallAttach(order, "", false), undefined);
  // A name is a whole string of the BTF: a prefix is not the tracepoint.
  assert.equal(
    pickSyscallAttach(["tp_btf"], "\0btf_trace_sys_enter_x\0btf_trace_sys_exit\0", true),
    undefined,
  );
  assert.equal(pickSyscallAttach(["tracepoint"], all, true), "tracepoint");
});

Deno.test("a missing BPF object fails and says how to build it; exit 1", async () => {
  const lines: string[] = [];
  const code = await runDoctor({
    objectPath: "/nonexistent/capture.bpf.o",
    print: (l) => lines.push(l),
  });
  assert.equal(code, 1);
  const i = lines.findIndex((l) =>
    /^FAIL {2}bpf object +\/nonexistent\/capture\.bpf\.o is not built$/.test(l)
  );
  assert.ok(i >= 0, lines.join("\n"));
  assert.match(lines[i + 1]!, /→ Run `deno task build`/);
});

Deno.test({
  name: "as nobody: privileges missing, exit 1, and the line says what to do",
  ignore: Deno.uid() !== 0, // runuser needs root
}, async () => {
  const denoDir = await Deno.makeTempDir();
  await Deno.chown(denoDir, 65534, 65534);
  try {
    const out = await new Deno.Command("runuser", {
      args: [
        "-u",
        "nobody",
        "--",
        Deno.execPath(),
        "run",
        "-A",
        new URL("./doctor.ts", import.meta.url).pathname,
      ],
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 1, text + new TextDecoder().decode(out.stderr));
    const lines = text.split("\n");
    const i = lines.findIndex((l) =>
      /^FAIL {2}privileges +may not load BPF programs \(uid 65534;/.test(l)
    );
    assert.ok(i >= 0, text);
    assert.match(lines[i + 1]!, /→ Run upspan as root \(sudo\), or grant CAP_BPF and CAP_PERFMON/);
    assert.match(text, /^warn {2}process access +only processes of this user/m);
    assert.match(text, /^upspan cannot trace yet: .*privileges/m);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
