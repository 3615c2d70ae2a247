import assert from "node:assert/strict";
import { inspectProcess, isAlive, parseMaps } from "./process.ts";

const MAPS = `55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 1234 /usr/bin/python3.11
55d0c0a01000-55d0c0a02000 r-xp 00001000 fe:01 1234 /usr/bin/python3.11
7f00aa000000-7f00aa100000 r--p 00000000 fe:01 777 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
7f00aa100000-7f00aa200000 r-xp 00100000 fe:01 777 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
7f00ab000000-7f00ab001000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
`;

Deno.test("parseMaps: one entry per file, reachable from the host, deleted files too", () => {
  assert.deepEqual(parseMaps(MAPS, "/proc/42"), [
    {
      path: "/usr/bin/python3.11",
      hostPath: "/proc/42/root/usr/bin/python3.11",
      device: "fe:01",
      inode: 1234,
    },
    {
      path: "/usr/lib/x86_64-linux-gnu/libssl.so.3",
      hostPath: "/proc/42/map_files/7f00aa000000-7f00aa100000",
      device: "fe:01",
      inode: 777,
    },
  ]);
});

Deno.test("inspectProcess: this process, its executable first", async () => {
  const r = await inspectProcess(Deno.pid);
  assert.ok(r.ok);
  assert.equal(r.process.pid, Deno.pid);
  assert.equal(r.process.exe, Deno.execPath());
  assert.equal(r.process.files[0]!.path, r.process.exe);
  assert.ok(r.process.files.some((f) => /libc\.so/.test(f.path)));
  assert.ok(r.process.commandLine.length > 0);
  assert.equal(await isAlive(Deno.pid), true);
});

Deno.test("inspectProcess: bad pids are answered, never thrown", async () => {
  const missing = await inspectProcess(4_000_002);
  assert.ok(!missing.ok && missing.reason === "not-found");
  const kthread = await inspectProcess(2);
  assert.ok(!kthread.ok && kthread.reason === "kernel-thread");
  assert.equal(await isAlive(4_000_002), false);
  // A thread id is not a process: name the process instead.
  const tids = [...Deno.readDirSync(`/proc/${Deno.pid}/task`)].map((e) => Number(e.name));
  const tid = tids.find((t) => t !== Deno.pid);
  if (tid !== undefined) {
    const thread = await inspectProcess(tid);
    assert.ok(!thread.ok && thread.reason === "thread");
    assert.match(thread.message, new RegExp(`use --pid ${Deno.pid}`));
  }
});
