// A hostile container (see targets/rootfs.ts): once its server has mapped libssl, it mounts
// a fresh directory over its library directory — from inside its own mount namespace, as
// a container with CAP_SYS_ADMIN can — and puts at libssl's path either a symlink to a
// host path or a FIFO. /proc/PID/maps still names that path. The agent must read and probe
// the file the server maps (its own libssl copy: spans for its requests), never the host's
// file behind the symlink, and never block on the FIFO.
import assert from "node:assert/strict";
import { curl, startAgent } from "./agent.ts";
import { type ContainerizedServer, startContainerizedHttpsServer } from "./targets/rootfs.ts";

const LIBDIR = "/usr/lib/x86_64-linux-gnu";

/** Runs, inside the container's mount namespace, the swap of libssl for `kind`. */
async function swapLibssl(server: ContainerizedServer, kind: "symlink" | "fifo"): Promise<void> {
  const script = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"none", b"${LIBDIR}", b"tmpfs", 0, None) != 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
if sys.argv[1] == "symlink":
    os.symlink("${LIBDIR}/libssl.so.3", "${LIBDIR}/libssl.so.3")
else:
    os.mkfifo("${LIBDIR}/libssl.so.3")
`;
  const out = await new Deno.Command("nsenter", {
    // The container's own Python: its mount namespace, its root.
    args: ["-t", String(server.pid), "-m", server.rootfs.python, "-c", script, kind],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

for (const kind of ["symlink", "fifo"] as const) {
  Deno.test(`a container that swaps its libssl path for a ${kind}: its own libssl is probed`, async () => {
    await using server = await startContainerizedHttpsServer();
    await swapLibssl(server, kind);
    const inside = await Deno.lstat(`/proc/${server.pid}/root${LIBDIR}/libssl.so.3`);
    assert.equal(kind === "symlink" ? inside.isSymlink : !inside.isFile, true, "swapped");

    await using agent = await startAgent(["--pid", String(server.pid)]);
    assert.match(agent.stderr(), /OpenSSL in \/usr\/lib\/x86_64-linux-gnu\/libssl\.so\.3/);
    await curl("--cacert", server.caCert, `https://127.0.0.1:${server.port}/hello?swapped=1`);
    const [span] = await agent.waitForSpans((s) => s.kind === "SERVER", 1);
    assert.equal(span!.attributes["url.query"], "swapped=1");
    assert.equal(span!.attributes["url.scheme"], "https", "seen through its libssl's probes");
    assert.equal(await agent.stop(), 0);
  });
}
