import assert from "node:assert/strict";
import { exeMatches, globToRegExp, listeningInodes, selectProcesses } from "./selectors.ts";

Deno.test("globToRegExp / exeMatches: base name without a slash, whole path with one", () => {
  assert.ok(exeMatches("python3*", "/usr/bin/python3.11"));
  assert.ok(!exeMatches("python3*", "/opt/python3/bin/node"), "the directory does not count");
  assert.ok(exeMatches("/usr/bin/*", "/usr/bin/nginx"));
  assert.ok(!exeMatches("/usr/*", "/usr/bin/nginx"), "* stays within a component");
  assert.ok(exeMatches("/usr/**", "/usr/bin/nginx"));
  assert.ok(exeMatches("**/bin/node", "/root/.nvm/versions/node/v22/bin/node"));
  assert.ok(exeMatches("node?", "/usr/bin/node2"));
  assert.ok(exeMatches("python[23]", "/usr/bin/python3"));
  assert.ok(!exeMatches("python[!23]", "/usr/bin/python3"));
  assert.ok(exeMatches("a.b+c(d)", "/x/a.b+c(d)"), "regex characters are literal");
  assert.ok(!exeMatches("a.b", "/x/aXb"));
  assert.equal(globToRegExp("[").source, "^\\[$");
});

// Real /proc/net/tcp and tcp6 lines: a listener on 8443 (0x20FB) on 127.0.0.1 and on
// [::], an established connection from it, and a listener on another port.
const TCP =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 301234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:20FB 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 301299 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1555 1 0000000000000000 100 0 0 10 0
`;
const TCP6 =
  `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 301240 1 0000000000000000 100 0 0 10 0
`;

Deno.test("listeningInodes: LISTEN sockets on the port only, v4 and v6; junk skipped", () => {
  assert.deepEqual(listeningInodes(TCP, 8443), [301234]);
  assert.deepEqual(listeningInodes(TCP6, 8443), [301240]);
  assert.deepEqual(listeningInodes(TCP, 22), [1555]);
  assert.deepEqual(listeningInodes(TCP, 80), []);
  assert.deepEqual(listeningInodes("garbage\n0: x y 0A\n\0\0", 80), []);
});

/** A fake /proc with a few processes: enough for every selector, no root needed. */
function fakeProc(): string {
  const root = Deno.makeTempDirSync();
  const proc = (
    pid: number,
    comm: string,
    opts: { exe?: string; cgroup?: string; flags?: number; state?: string; fds?: string[] },
  ) => {
    const dir = `${root}/${pid}`;
    Deno.mkdirSync(`${dir}/fd`, { recursive: true });
    Deno.mkdirSync(`${dir}/ns`);
    Deno.mkdirSync(`${dir}/net`);
    const flags = opts.flags ?? 0x400000;
    Deno.writeTextFileSync(
      `${dir}/stat`,
      `${pid} (${comm}) ${
        opts.state ?? "S"
      } 1 1 1 0 -1 ${flags} 0 0 0 0 0 0 0 0 20 0 1 0 1000 0 0\n`,
    );
    if (opts.exe) Deno.symlinkSync(opts.exe, `${dir}/exe`);
    Deno.writeTextFileSync(`${dir}/cgroup`, opts.cgroup ?? "0::/user.slice\n");
    Deno.symlinkSync("net:[4026531840]", `${dir}/ns/net`);
    Deno.writeTextFileSync(`${dir}/net/tcp`, TCP);
    Deno.writeTextFileSync(`${dir}/net/tcp6`, TCP6);
    (opts.fds ?? []).forEach((target, i) => Deno.symlinkSync(target, `${dir}/fd/${i}`));
  };
  const A = "a".repeat(64);
  proc(2, "kthreadd", { flags: 0x208040 });
  proc(10, "python3", {
    exe: "/usr/bin/python3.11",
    fds: ["/dev/null", "socket:[301234]"],
    cgroup: `0::/system.slice/docker-${A}.scope\n`,
  });
  proc(11, "nginx", { exe: "/usr/sbin/nginx (deleted)", fds: ["socket:[301240]"] });
  proc(12, "sshd", { exe: "/usr/sbin/sshd", fds: ["socket:[1555]"] });
  proc(13, "defunct", { state: "Z" });
  proc(14, "python3", { exe: "/usr/bin/python3.11", cgroup: `0::/docker/${"ab".repeat(32)}\n` });
  proc(15, "python3", { exe: "/usr/bin/python3.11", cgroup: `0::/docker/${"ac".repeat(32)}\n` });
  // Exited between readdir and the reads: a stat left, nothing else.
  Deno.mkdirSync(`${root}/16`);
  Deno.writeTextFileSync(`${root}/16/stat`, "16 (gone) S 1 1 1 0 -1 4194304 0\n");
  proc(99, "upspan", { exe: "/usr/bin/deno" });
  Deno.mkdirSync(`${root}/self`);
  return root;
}

Deno.test("selectProcesses: each selector, with why; kernel threads, zombies, us left out", async () => {
  const procRoot = fakeProc();
  const sel = (s: Parameters<typeof selectProcesses>[0]) =>
    selectProcesses(s, { procRoot, exclude: [99] });

  const all = await sel({ all: true });
  assert.deepEqual(all.matched.map((m) => m.pid), [10, 11, 12, 14, 15, 16]);
  assert.deepEqual(all.problems, []);

  const exe = await sel({ exes: ["python3*", "/usr/sbin/*"] });
  assert.deepEqual(exe.matched.map((m) => [m.pid, m.why]), [
    [10, ["--exe python3*: /usr/bin/python3.11"]],
    [11, ["--exe /usr/sbin/*: /usr/sbin/nginx"]],
    [12, ["--exe /usr/sbin/*: /usr/sbin/sshd"]],
    [14, ["--exe python3*: /usr/bin/python3.11"]],
    [15, ["--exe python3*: /usr/bin/python3.11"]],
  ]);

  const port = await sel({ ports: [8443] });
  assert.deepEqual(port.matched.map((m) => [m.pid, m.comm, m.why]), [
    [10, "python3", ["--port 8443: listening socket inode 301234"]],
    [11, "nginx", ["--port 8443: listening socket inode 301240"]],
  ]);

  const both = await sel({ pids: [12], ports: [8443], containers: ["aaaa"] });
  assert.deepEqual(both.matched.map((m) => [m.pid, m.why.length]), [[10, 2], [11, 1], [12, 1]]);
  assert.deepEqual(both.problems, []);
  Deno.removeSync(procRoot, { recursive: true });
});

Deno.test("selectProcesses: what matched nothing is said plainly, nothing thrown", async () => {
  const procRoot = fakeProc();
  const r = await selectProcesses({
    pids: [4242],
    exes: ["nosuchprogram"],
    ports: [9],
    containers: ["0123abc", "a", "not-an-id"],
  }, { procRoot, exclude: [99] });
  assert.deepEqual(r.matched, []);
  assert.equal(r.problems.length, 6, r.problems.join("\n"));
  assert.match(r.problems[0]!, /^No process with pid 4242 exists\.$/);
  assert.match(r.problems[1]!, /--exe nosuchprogram/);
  assert.match(r.problems[2]!, /No process is listening on TCP port 9;/);
  assert.match(r.problems[3]!, /No running process is in a container whose id begins with 0123abc/);
  assert.match(r.problems[4]!, /--container a matches 3 containers .*; give more digits/);
  assert.match(r.problems[5]!, /--container needs a container id .* not "not-an-id"/);
  for (const p of r.problems) assert.match(p, /^[A-Z-].*\.$/, "one sentence");
  Deno.removeSync(procRoot, { recursive: true });
});
