// Discovery of a process in its own root file system, mount and pid namespaces and
// container cgroup (see targets/rootfs.ts): host pid and namespace pid, its executable and
// libssl resolved through /proc/PID/root to its own copies, its container id.
import assert from "node:assert/strict";
import { inspectProcess, parseMaps } from "../src/discovery/process.ts";
import { readContainer } from "../src/discovery/container.ts";
import { selectProcesses } from "../src/discovery/selectors.ts";
import { randomContainerId, startContainerizedHttpsServer } from "./targets/rootfs.ts";
import { curl, startAgent } from "./agent.ts";
import { startPythonServer } from "./targets/targets.ts";

const HOST_LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

Deno.test("a containerized HTTPS server: pids, namespaces, files and container id", async () => {
  const id = randomContainerId();
  await using server = await startContainerizedHttpsServer({ containerId: id });
  assert.equal(
    await curl("--cacert", server.caCert, `https://127.0.0.1:${server.port}/hello`),
    "hello\n",
  );

  const c = await readContainer(server.pid);
  assert.ok(c);
  assert.equal(c.nsPid, 1);
  assert.deepEqual(c.nsPids, [server.pid, 1]);
  assert.equal(c.otherMountNamespace, true);
  assert.equal(c.otherPidNamespace, true);
  assert.deepEqual(c.container, { id, runtime: "docker" });

  const r = await inspectProcess(server.pid);
  assert.ok(r.ok, r.ok ? "" : r.message);
  const p = r.process;
  assert.equal(p.exe, server.rootfs.python, "the path inside the container");
  assert.equal(p.files[0]!.hostPath, `/proc/${server.pid}/root${server.rootfs.python}`);
  const libssl = p.files.find((f) => /\/libssl\.so\.3$/.test(f.path));
  assert.ok(libssl, p.files.map((f) => f.path).join("\n"));
  assert.equal(libssl.path, HOST_LIBSSL, "the same path as the host's…");
  const st = await Deno.stat(libssl.hostPath);
  assert.equal(st.ino, libssl.inode, "…reached through /proc/PID/root…");
  assert.notEqual(st.ino, (await Deno.stat(HOST_LIBSSL)).ino, "…but its own copy");
  const inRootfs = await Deno.stat(`${server.rootfs.dir}${HOST_LIBSSL}`);
  assert.equal(inRootfs.ino, libssl.inode);

  const name = server.rootfs.python.slice(server.rootfs.python.lastIndexOf("/") + 1);
  const sel = await selectProcesses({
    containers: [id.slice(0, 12)],
    ports: [server.port],
    exes: [name],
  });
  const m = sel.matched.find((x) => x.pid === server.pid);
  assert.ok(m, JSON.stringify(sel));
  assert.deepEqual(m.why, [
    `--exe ${name}: ${server.rootfs.python}`,
    `--port ${server.port}: ${m.why[1]!.split(": ")[1]}`,
    `--container ${id.slice(0, 12)}: ${id.slice(0, 12)}`,
  ]);
  const inContainer = sel.matched.filter((x) => x.why.some((w) => w.startsWith("--container")));
  assert.deepEqual(inContainer.map((x) => x.pid), [server.pid]);
});

Deno.test("after the container stops: its id and pid are plainly unknown", async () => {
  const id = randomContainerId();
  const server = await startContainerizedHttpsServer({ containerId: id });
  const pid = server.pid;
  await server.stop();
  await server.stop(); // twice is fine
  const r = await selectProcesses({ containers: [id], pids: [pid] });
  assert.deepEqual(r.matched, []);
  assert.match(r.problems[0]!, new RegExp(`^No process with pid ${pid} exists`));
  assert.match(r.problems[1]!, new RegExp(`container whose id begins with ${id}`));
  assert.equal(await readContainer(pid), undefined);
});

Deno.test("a chrooted server: paths in /proc are the host's, made relative to its root", async () => {
  await using server = await startContainerizedHttpsServer({ root: "chroot" });
  const root = await Deno.readLink(`/proc/${server.pid}/root`);
  assert.equal(root, server.rootfs.dir, "a chroot shows its directory as the root");
  const r = await inspectProcess(server.pid);
  assert.ok(r.ok, r.ok ? "" : r.message);
  assert.equal(r.process.exe, server.rootfs.python);
  const libssl = r.process.files.find((f) => /\/libssl\.so\.3$/.test(f.path));
  assert.ok(libssl);
  assert.equal(libssl.path, HOST_LIBSSL);
  assert.equal((await Deno.stat(libssl.hostPath)).ino, libssl.inode);
  assert.notEqual(libssl.inode, (await Deno.stat(HOST_LIBSSL)).ino);
  // The same server's maps line, parsed with and without its root.
  const line =
    `7f00aa000000-7f00aa100000 r-xp 00000000 fe:00 ${libssl.inode} ${root}${HOST_LIBSSL}\n`;
  assert.equal(parseMaps(line, "/proc/1", root)[0]!.path, HOST_LIBSSL);
  assert.equal(parseMaps(line, "/proc/1")[0]!.path, `${root}${HOST_LIBSSL}`);
});

Deno.test("--container: the server inside is traced through its own libssl, spans carry the container", async () => {
  const id = randomContainerId();
  await using server = await startContainerizedHttpsServer({ containerId: id });
  await using hostServer = await startPythonServer({}); // on the host: must not be mixed in
  await using agent = await startAgent(["--container", id.slice(0, 12)]);
  assert.match(
    agent.stderr(),
    new RegExp(`pid ${server.pid} \\(python3[^)]*\\) matches --container`),
  );
  assert.match(agent.stderr(), /OpenSSL in \/usr\/lib\/x86_64-linux-gnu\/libssl\.so\.3/);
  await curl(`http://127.0.0.1:${hostServer.port}/hello`);
  await curl("--cacert", server.caCert, `https://127.0.0.1:${server.port}/hello?inside=1`);
  const [span] = await agent.waitForSpans((s) => s.kind === "SERVER", 1);
  assert.equal(span!.attributes["url.query"], "inside=1");
  assert.equal(span!.attributes["url.scheme"], "https");
  assert.equal(span!.resource["process.pid"], server.pid, "the host pid");
  assert.equal(span!.resource["container.id"], id);
  assert.equal(span!.resource["container.runtime.name"], "docker");
  await agent.stop();
  assert.ok(
    agent.spans.every((s) => s.resource["process.pid"] === server.pid),
    "host not mixed in",
  );
});
