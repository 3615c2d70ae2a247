// Bad input gets one plain sentence and a meaningful exit code, never a stack trace.
import assert from "node:assert/strict";
import { runAgent } from "./agent.ts";

function assertOneSentence(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^upspan: [A-Z-].*[.]$/);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
}

Deno.test("a pid that does not exist: exit 1, says so", async () => {
  const r = await runAgent(["--pid", "4000000"]);
  assert.equal(r.code, 1);
  assertOneSentence(r.stderr, /No process with pid 4000000 exists/);
});

Deno.test("a kernel thread: exit 1, says so", async () => {
  const r = await runAgent(["--pid", "2"]); // kthreadd
  assert.equal(r.code, 1);
  assertOneSentence(r.stderr, /kernel thread/);
});

Deno.test("--pid 1 as root: never told to run as root", async () => {
  // Where pid 1 is out of reach even for root (a sandbox's init), the sentence says why.
  const r = await runAgent(["--pid", "1", "--duration", "1"]);
  assert.doesNotMatch(r.stderr, /run upspan as root/);
  if (r.code === 1) assertOneSentence(r.stderr, /out of upspan's reach/);
  else assert.equal(r.code, 0, r.stderr);
});

Deno.test("a thread id instead of a process id: exit 1, names the process", async () => {
  const child = new Deno.Command("python3", {
    args: ["-c", "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start()"],
  }).spawn();
  try {
    let tid: number | undefined;
    for (let i = 0; i < 50 && tid === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const tasks = [...Deno.readDirSync(`/proc/${child.pid}/task`)].map((e) => Number(e.name));
      tid = tasks.find((t) => t !== child.pid);
    }
    const r = await runAgent(["--pid", String(tid)]);
    assert.equal(r.code, 1);
    assertOneSentence(
      r.stderr,
      new RegExp(`is a thread of process ${child.pid}.*use --pid ${child.pid}`),
    );
  } finally {
    child.kill();
    await child.status;
  }
});

Deno.test("without -A: exit 2, says how to run it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("../mod.ts", import.meta.url).pathname, "--pid", "1"],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assertOneSentence(stderr, /deno run -A mod\.ts/);
});

Deno.test("usage mistakes: exit 2 with a sentence", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /Unknown option '--bogus'/],
    [[], /--pid/],
    [["--pid", "abc"], /--pid needs a whole number/],
    [["--pid", "1", "--format", "xml"], /--format must be/],
    [["--pid", "1", "--duration", "soon"], /--duration needs a positive number/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" ") || "(no arguments)", async () => {
      const r = await runAgent(args);
      assert.equal(r.code, 2);
      assertOneSentence(r.stderr, pattern);
    });
  }
});

Deno.test("no privileges (run as nobody): exit 1, says to run as root", async () => {
  // A world-readable copy of the agent, and a Deno cache that nobody may write.
  const dir = await Deno.makeTempDir();
  const root = new URL("..", import.meta.url).pathname;
  for (const p of ["mod.ts", "deno.json", "src", "ffi", "bpf"]) {
    await new Deno.Command("cp", { args: ["-r", root + p, dir] }).output();
  }
  await Deno.mkdir(`${dir}/.deno`);
  await new Deno.Command("chmod", { args: ["-R", "a+rwX", dir] }).output();
  await Deno.chmod(dir, 0o777);
  try {
    const out = await new Deno.Command("runuser", {
      args: [
        "-u",
        "nobody",
        "--",
        Deno.execPath(),
        "run",
        "-A",
        `${dir}/mod.ts`,
        "--pid",
        String(Deno.pid),
      ],
      env: { DENO_DIR: `${dir}/.deno`, NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assertOneSentence(stderr, /needs root.*run upspan with sudo/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor: every check passes here, one line each, exit 0", async () => {
  const r = await runAgent(["doctor"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok\s+btf/m);
  assert.match(r.stdout, /^ok\s+privileges/m);
  assert.match(r.stdout, /upspan can trace on this machine\.$/m);
  const bad = await runAgent(["doctor", "--all"]);
  assert.equal(bad.code, 2);
});
