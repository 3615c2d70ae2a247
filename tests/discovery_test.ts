// Process selection against real processes: --exe, --port (IPv4 and IPv6), --all, --pid,
// and the plain sentences for selectors that match nothing or processes that vanish.
import assert from "node:assert/strict";
import { selectProcesses } from "../src/discovery/selectors.ts";
import { PYTHON3 } from "./targets/targets.ts";

/** Starts python listening on a free port of `host`; resolves to the process and port. */
async function listener(host: string) {
  const family = host.includes(":") ? "AF_INET6" : "AF_INET";
  const child = new Deno.Command(PYTHON3, {
    args: [
      "-c",
      `import socket, sys; s = socket.socket(socket.${family}); s.bind(("${host}", 0)); s.listen(); ` +
      `print(s.getsockname()[1], flush=True); sys.stdin.read()`,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value);
  return {
    pid: child.pid,
    port,
    async [Symbol.asyncDispose]() {
      // Only now close its stdout: closed earlier, python's print could fail with EPIPE.
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
      await child.stdin.close().catch(() => {});
    },
  };
}

Deno.test("--exe and --all find a running sleep; upspan and kernel threads are left out", async () => {
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const exe = Deno.readLinkSync(`/proc/${sleeper.pid}/exe`);
    const byName = await selectProcesses({ exes: ["sleep"] });
    const mine = byName.matched.find((m) => m.pid === sleeper.pid);
    assert.ok(mine, JSON.stringify(byName));
    assert.deepEqual(mine.why, [`--exe sleep: ${exe}`]);
    assert.equal(mine.comm, "sleep");
    const byPath = await selectProcesses({ exes: [exe.replace(/[^/]*$/, "s*p")] });
    assert.ok(byPath.matched.some((m) => m.pid === sleeper.pid));
    assert.ok(
      (await selectProcesses({ exes: ["**/sleep"] })).matched.some((m) => m.pid === sleeper.pid),
    );

    const all = await selectProcesses({ all: true });
    const pids = new Set(all.matched.map((m) => m.pid));
    assert.ok(pids.has(sleeper.pid));
    assert.ok(!pids.has(Deno.pid), "not upspan itself");
    assert.ok(!pids.has(2), "not kthreadd");
    assert.deepEqual(all.problems, []);
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("--port finds the listener on IPv4 and IPv6, not other processes", async () => {
  await using v4 = await listener("127.0.0.1");
  await using v6 = await listener("::1");
  const r = await selectProcesses({ ports: [v4.port, v6.port] });
  assert.deepEqual(r.problems, []);
  const byPid = new Map(r.matched.map((m) => [m.pid, m.why]));
  assert.match(
    byPid.get(v4.pid)?.[0] ?? "",
    new RegExp(`^--port ${v4.port}: listening socket inode \\d+$`),
  );
  assert.match(byPid.get(v6.pid)?.[0] ?? "", new RegExp(`^--port ${v6.port}: `));
  assert.equal(r.matched.length, 2);
});

Deno.test("--pid combines with the others; bad selectors get one sentence each", async () => {
  await using v4 = await listener("127.0.0.1");
  const r = await selectProcesses({
    pids: [Deno.pid, 4_000_005],
    ports: [v4.port],
    exes: ["no-such-program-*"],
    containers: ["deadbeef"],
  });
  assert.deepEqual(
    r.matched.map((m) => m.pid).sort((a, b) => a - b),
    [Deno.pid, v4.pid].sort((a, b) => a - b),
    JSON.stringify(r),
  );
  assert.equal(r.problems.length, 3, r.problems.join("\n"));
  assert.match(r.problems[0]!, /^No process with pid 4000005 exists; check the pid/);
  assert.match(r.problems[1]!, /^No process has an executable matching --exe no-such-program-\*/);
  assert.match(
    r.problems[2]!,
    /^No running process is in a container whose id begins with deadbeef/,
  );
});

Deno.test("processes exiting while selection reads /proc are skipped, never thrown", async () => {
  // Short-lived processes start and end throughout the selections below.
  const stop = { now: false };
  const churn = (async () => {
    while (!stop.now) {
      await Promise.all(
        Array.from({ length: 8 }, () => new Deno.Command("true").output()),
      );
    }
  })();
  try {
    for (let i = 0; i < 20; i++) {
      const r = await selectProcesses({ all: true, exes: ["*"], ports: [1], containers: ["ab"] });
      assert.ok(r.matched.length > 0);
      for (const m of r.matched) assert.ok(m.why.length > 0);
    }
  } finally {
    stop.now = true;
    await churn;
  }
});
