// Bad input and odd environments, as a table: each answered with one sentence on stderr
// and the right exit code (2: usage, 1: run time), never a stack trace. Cases that need a
// live process (zombie, thread, deleted or 32-bit executable) make one first.
// Covered elsewhere: no privileges (tests/bad_input_test.ts, runuser nobody). No BTF and no
// tracefs are simulated in a private mount namespace (unshare -m), which the host never sees.
import assert from "node:assert/strict";
import { runAgent } from "./agent.ts";
import { freePort } from "./targets/agent_process.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One row: arguments (with `{X}` filled from the fixtures), exit code, what stderr says. */
interface Row {
  name: string;
  args: string[];
  code: 0 | 1 | 2;
  says: RegExp;
  /** Environment variables for the agent. */
  env?: Record<string, string>;
}

function assertOneSentence(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^upspan: [A-Za-z-].*[.]$/);
  assert.doesNotMatch(lines[0]!, /[.;,][.;]/, "no doubled punctuation");
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
}

/** Processes the table points at, and a port in use. */
async function fixtures() {
  const dir = await Deno.makeTempDir({ prefix: "upspan-bad-" });
  const kids: Deno.ChildProcess[] = [];
  const spawn = (cmd: string, args: string[]) => {
    const c = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).spawn();
    kids.push(c);
    return c;
  };
  const firstLine = async (c: Deno.ChildProcess) => {
    const r = c.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) text += (await r.read()).value ?? "";
    r.releaseLock();
    return text.trim();
  };
  // A zombie: a child that exited and that its parent never waits for.
  const zombieParent = spawn("python3", [
    "-c",
    "import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)",
  ]);
  const zombie = Number(await firstLine(zombieParent));
  // A thread of a process.
  const threaded = spawn("python3", [
    "-c",
    "import threading, time, sys\nt = threading.Thread(target=time.sleep, args=(60,))\nt.start()\nprint(t.native_id, flush=True)\nt.join()",
  ]);
  const thread = Number(await firstLine(threaded));
  // An executable deleted while it runs: /proc/PID/exe says "(deleted)".
  await Deno.copyFile("/usr/bin/sleep", `${dir}/doomed-sleep`);
  await Deno.chmod(`${dir}/doomed-sleep`, 0o755);
  const deleted = spawn(`${dir}/doomed-sleep`, ["60"]);
  await sleep(100);
  await Deno.remove(`${dir}/doomed-sleep`);
  // A port someone else listens on.
  const busyPort = freePort();
  const busy = Deno.listen({ hostname: "0.0.0.0", port: busyPort });
  for (let i = 0; i < 100; i++) {
    const st = await Deno.readTextFile(`/proc/${zombie}/stat`).catch(() => "");
    if (/\) Z /.test(st)) break;
    await sleep(20);
  }
  return {
    vars: {
      zombie: String(zombie),
      thread: String(thread),
      threadOwner: String(threaded.pid),
      deleted: String(deleted.pid),
      busyPort: String(busyPort),
    } as Record<string, string>,
    async close() {
      busy.close();
      for (const k of kids) {
        try {
          k.kill("SIGKILL");
        } catch { /* gone */ }
        await k.status;
        await k.stdout.cancel().catch(() => {});
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const ROWS: Row[] = [
  { name: "unknown flag", args: ["--bogus"], code: 2, says: /Unknown option '--bogus'/ },
  { name: "nothing to trace", args: [], code: 2, says: /--pid N/ },
  { name: "pid not a number", args: ["--pid", "abc"], code: 2, says: /--pid needs a whole/ },
  { name: "pid 0", args: ["--pid", "0"], code: 2, says: /--pid needs a whole number/ },
  { name: "pid too large", args: ["--pid", "99999999"], code: 2, says: /--pid needs/ },
  { name: "missing pid", args: ["--pid", "4000000"], code: 1, says: /No process with pid/ },
  { name: "kernel thread", args: ["--pid", "2"], code: 1, says: /kernel thread/ },
  {
    name: "zombie",
    args: ["--pid", "{zombie}"],
    code: 1,
    says: /has no executable \(a zombie or kernel thread\)/,
  },
  {
    name: "thread id",
    args: ["--pid", "{thread}"],
    code: 1,
    says: /is a thread of process {threadOwner}.*use --pid {threadOwner}/,
  },
  { name: "--pid without a value", args: ["--pid"], code: 2, says: /--pid/ },
  {
    name: "unknown format",
    args: ["--pid", "1", "--format", "xml"],
    code: 2,
    says: /--format must be "pretty" or "json", not "xml"/,
  },
  {
    name: "duration not a number",
    args: ["--pid", "1", "--duration", "soon"],
    code: 2,
    says: /--duration needs a positive number/,
  },
  {
    name: "negative duration",
    args: ["--pid", "1", "--duration=-5"],
    code: 2,
    says: /--duration needs a positive number/,
  },
  {
    name: "endpoint not http",
    args: ["--pid", "1", "--otlp-endpoint", "ftp://collector:4318"],
    code: 2,
    says: /--otlp-endpoint needs an http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "endpoint not a URL",
    args: ["--pid", "1", "--otlp-endpoint", "collector"],
    code: 2,
    says: /--otlp-endpoint needs an http/,
  },
  {
    name: "metrics port out of range",
    args: ["--pid", "1", "--metrics-port", "70000"],
    code: 2,
    says: /--metrics-port needs a whole number from 1 to 65535/,
  },
  {
    name: "metrics port not a number",
    args: ["--pid", "1", "--metrics-port", "http"],
    code: 2,
    says: /--metrics-port needs a whole number/,
  },
  {
    name: "metrics port in use",
    args: ["--pid", "1", "--metrics-port", "{busyPort}"],
    code: 1,
    says: /Cannot serve metrics on port {busyPort}.*choose another --metrics-port/,
  },
  {
    name: "sample ratio above 1",
    args: ["--pid", "1", "--sample-ratio", "2"],
    code: 2,
    says: /--sample-ratio needs a number from 0 to 1, not "2"/,
  },
  {
    name: "sample ratio not a number",
    args: ["--pid", "1", "--sample-ratio", "half"],
    code: 2,
    says: /--sample-ratio needs a number from 0 to 1/,
  },
  {
    name: "capture bytes 0",
    args: ["--pid", "1", "--capture-bytes", "0"],
    code: 2,
    says: /--capture-bytes needs a whole number from 1 to 65536, not "0"/,
  },
  {
    name: "capture bytes too large",
    args: ["--pid", "1", "--capture-bytes", "100000"],
    code: 2,
    says: /--capture-bytes needs a whole number from 1 to 65536/,
  },
  {
    name: "container not hex",
    args: ["--container", "web-1"],
    code: 2,
    says: /--container needs a container id \(hex digits/,
  },
  {
    name: "port selector out of range",
    args: ["--port", "0"],
    code: 2,
    says: /--port needs a whole number from 1 to 65535/,
  },
  {
    name: "a positional argument",
    args: ["1234"],
    code: 2,
    says: /Unexpected argument '1234'|see --help/,
  },
  { name: "doctor with extra args", args: ["doctor", "--all"], code: 2, says: /doctor takes no/ },
  { name: "empty --exe glob", args: ["--exe", ""], code: 2, says: /--exe needs a glob/ },
  { name: "blank --exe glob", args: ["--exe", "  "], code: 2, says: /--exe needs a glob/ },
  {
    name: "--exe glob with a class out of order",
    args: ["--exe", "[z-a]"],
    code: 2,
    says: /--exe "\[z-a\]" is not a glob upspan can read/,
  },
  { name: "empty --pid", args: ["--pid", ""], code: 2, says: /--pid needs a whole number/ },
  { name: "--pid in exponent form", args: ["--pid", "1e3"], code: 2, says: /--pid needs/ },
  { name: "empty --port", args: ["--port", ""], code: 2, says: /--port needs a whole number/ },
  { name: "--port 65536", args: ["--port", "65536"], code: 2, says: /from 1 to 65535/ },
  { name: "empty --container", args: ["--container", ""], code: 2, says: /--container needs/ },
  { name: "empty --format", args: ["--pid", "1", "--format", ""], code: 2, says: /--format must/ },
  {
    name: "negative --capture-bytes",
    args: ["--pid", "1", "--capture-bytes=-1"],
    code: 2,
    says: /--capture-bytes needs a whole number from 1 to 65536, not "-1"/,
  },
  {
    name: "duration in hex",
    args: ["--pid", "1", "--duration", "0x10"],
    code: 2,
    says: /--duration needs a positive number of seconds, not "0x10"/,
  },
  {
    name: "duration Infinity",
    args: ["--pid", "1", "--duration", "Infinity"],
    code: 2,
    says: /--duration needs a positive number/,
  },
  {
    name: "duration beyond any number",
    args: ["--pid", "1", "--duration", "1e400"],
    code: 2,
    says: /--duration needs a positive number/,
  },
  {
    name: "empty duration",
    args: ["--pid", "1", "--duration="],
    code: 2,
    says: /--duration needs a positive number/,
  },
  {
    name: "sample ratio in hex",
    args: ["--pid", "1", "--sample-ratio", "0x1"],
    code: 2,
    says: /--sample-ratio needs a number from 0 to 1, not "0x1"/,
  },
  {
    name: "empty sample ratio",
    args: ["--pid", "1", "--sample-ratio="],
    code: 2,
    says: /--sample-ratio needs a number from 0 to 1/,
  },
  {
    name: "endpoint with a port out of range",
    args: ["--pid", "1", "--otlp-endpoint", "http://collector:99999"],
    code: 2,
    says: /--otlp-endpoint needs an http/,
  },
  {
    name: "empty endpoint",
    args: ["--pid", "1", "--otlp-endpoint="],
    code: 2,
    says: /--otlp-endpoint needs an http/,
  },
  {
    name: "endpoint with a space",
    args: ["--pid", "1", "--otlp-endpoint", "http://collector :4318"],
    code: 2,
    says: /--otlp-endpoint needs an http/,
  },
  {
    name: "OTLP CA file missing",
    args: ["--pid", "1", "--otlp-endpoint", "https://collector:4318"],
    env: { OTEL_EXPORTER_OTLP_CERTIFICATE: "/nonexistent/ca.pem" },
    code: 2,
    says:
      /Cannot read the OTLP CA certificate "\/nonexistent\/ca.pem".*fix the OTEL_EXPORTER_OTLP_\* setting/,
  },
  {
    name: "endpoint from the environment not a URL",
    args: ["--pid", "1"],
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "collector.local:4318" },
    code: 2,
    says: /OTEL_EXPORTER_OTLP_ENDPOINT needs an http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "traces endpoint from the environment not http, its password not quoted",
    args: ["--pid", "1"],
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://user:hunter2@collector/v1/traces" },
    code: 2,
    says: /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT .* not "ftp:\/\/…@collector\/v1\/traces"/,
  },
  {
    name: "empty metrics host",
    args: ["--pid", "1", "--metrics-port", "{busyPort}", "--metrics-host="],
    code: 2,
    says: /--metrics-host needs an address or host name/,
  },
  {
    name: "metrics host not a host",
    args: ["--pid", "1", "--metrics-port", "{busyPort}", "--metrics-host", "not a host!"],
    code: 2,
    says: /--metrics-host needs an address or host name.*not "not a host!"/,
  },
  {
    name: "metrics host 256.1.1.1",
    args: ["--pid", "1", "--metrics-port", "{busyPort}", "--metrics-host", "256.1.1.1"],
    code: 2,
    says: /--metrics-host needs an address/,
  },
  {
    name: "metrics host without a port",
    args: ["--pid", "1", "--metrics-host", "0.0.0.0"],
    code: 2,
    says: /--metrics-host goes with --metrics-port N/,
  },
  {
    name: "metrics host not on this machine",
    args: ["--pid", "1", "--metrics-port", "{busyPort}", "--metrics-host", "203.0.113.9"],
    code: 1,
    says:
      /Cannot serve metrics on port {busyPort} of 203\.0\.113\.9 \(.*\); choose another --metrics-host\./,
  },
  {
    name: "--hex without --dump",
    args: ["--pid", "1", "--hex"],
    code: 2,
    says: /--hex shows --dump output as a hexdump; add --dump or drop --hex/,
  },
];

Deno.test("bad input table: one sentence, the right exit code, no stack trace", async (t) => {
  const fx = await fixtures();
  try {
    const fill = (s: string) => s.replace(/\{(\w+)\}/g, (_, k) => fx.vars[k] ?? `{${k}}`);
    for (const row of ROWS) {
      await t.step(row.name, async () => {
        const r = await runAgent(row.args.map(fill), row.env);
        assert.equal(r.code, row.code, `${row.args.join(" ")}: exit ${r.code}\n${r.stderr}`);
        assertOneSentence(r.stderr, new RegExp(fill(row.says.source)));
      });
    }
    assert.ok(ROWS.length >= 30);
  } finally {
    await fx.close();
  }
});

Deno.test("bad input: a process whose executable was deleted is still traced", async () => {
  const fx = await fixtures();
  try {
    const r = await runAgent(["--pid", fx.vars.deleted!, "--duration", "1", "--format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^ready: 1 probe on 1 process/m);
    assert.match(r.stderr, /doomed-sleep does not export SSL_read: tracing its plain sockets only/);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  } finally {
    await fx.close();
  }
});

/**
 * Runs the agent after `setup` (shell commands) in a private mount namespace of its own:
 * mounts made there hide files from the agent alone.
 */
async function runInMountNamespace(setup: string, args: string[]) {
  const agent = [Deno.execPath(), "run", "-A", new URL("../mod.ts", import.meta.url).pathname];
  const quoted = [...agent, ...args].map((a) => `'${a}'`).join(" ");
  const out = await new Deno.Command("unshare", {
    args: ["-m", "sh", "-c", `mount --make-rprivate / && ${setup} && exec ${quoted}`],
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("environment: no BTF (hidden by an empty tmpfs): exit 1, says what kernel is needed", async () => {
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const r = await runInMountNamespace("mount -t tmpfs none /sys/kernel/btf", [
      "--pid",
      String(sleeper.pid),
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertOneSentence(r.stderr, /has no BTF.*CONFIG_DEBUG_INFO_BTF=y/);
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("environment: tracefs not mounted: the agent mounts it and says so once", async () => {
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const r = await runInMountNamespace(
      "mount -t tmpfs none /sys/kernel/tracing && mount -t tmpfs none /sys/kernel/debug",
      ["--pid", String(sleeper.pid), "--duration", "1"],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/mounted tracefs at \/sys\/kernel\/tracing/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /^ready: /m);
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("environment: tracefs absent and impossible to mount: exit 1, says the command", async () => {
  // /sys/kernel becomes a read-only tmpfs holding only btf/ (bound back from the real one):
  // there is no tracing/ directory to mount tracefs on.
  const dir = await Deno.makeTempDir({ prefix: "upspan-notracefs-" });
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const r = await runInMountNamespace(
      [
        `mkdir ${dir}/btf`,
        `mount --bind /sys/kernel/btf ${dir}/btf`,
        "mount -t tmpfs none /sys/kernel",
        "mkdir /sys/kernel/btf",
        `mount --bind ${dir}/btf /sys/kernel/btf`,
        "mount -o remount,ro /sys/kernel",
      ].join(" && "),
      ["--pid", String(sleeper.pid)],
    );
    assert.equal(r.code, 1, r.stderr);
    assertOneSentence(r.stderr, /tracefs is not mounted.*mount -t tracefs nodev/);
  } finally {
    sleeper.kill();
    await sleeper.status;
    await Deno.remove(dir, { recursive: true });
  }
});

// Found here: a value that starts with "-" after a space is refused by parseArgs, whose
// first line came out as "Option '--duration' argument is ambiguous.; see --help.".
Deno.test({
  name: "bad input: a negative value after a space gets a sentence that says what to type",
  async fn() {
    const r = await runAgent(["--pid", "1", "--duration", "-5"]);
    assert.equal(r.code, 2);
    assertOneSentence(r.stderr, /--duration/);
  },
});

// A 32-bit x86 program: gcc -m32 compiles here but cannot link against a C library (no
// libc6-dev-i386), so the program is freestanding — _start calls pause() through int 0x80.
// Its system calls go through the 32-bit entry, which the syscall tracepoints do not report,
// and the ELF reader reads ELF64 only: upspan would see nothing of it, so it refuses it
// (src/discovery/process.ts checks the executable's ELF class).
Deno.test({
  name: "bad input: a 32-bit program is refused with a sentence",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "upspan-m32-" });
    try {
      await Deno.writeTextFile(
        `${dir}/sleep32.c`,
        'void _start(void) { for (;;) __asm__ volatile("int $0x80" :: "a"(29)); }\n',
      );
      const cc = await new Deno.Command("gcc", {
        args: [
          "-m32",
          "-nostdlib",
          "-static",
          "-ffreestanding",
          "-o",
          `${dir}/sleep32`,
          `${dir}/sleep32.c`,
        ],
      }).output();
      assert.ok(cc.success, "gcc -m32 -nostdlib");
      const p = new Deno.Command(`${dir}/sleep32`).spawn();
      try {
        const r = await runAgent(["--pid", String(p.pid), "--duration", "1"]);
        assert.equal(r.code, 1, r.stderr);
        assertOneSentence(r.stderr, /32-bit/);
      } finally {
        p.kill("SIGKILL");
        await p.status;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
