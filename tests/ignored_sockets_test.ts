/**
 * A plain-socket connection that no protocol parses is given up, and the verdict reaches the
 * kernel under the socket's own key: the capture stops shipping its bytes. Seen from outside
 * the agent, in its `ignored_socks` map (found through its file descriptors) and in the
 * events it counts.
 */
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { tied } from "./targets/tied.ts";

/** A line-echo server on an ephemeral port: a protocol upspan has no parser for. */
const ECHO = `
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
f = c.makefile("rb")
for line in f:
    c.sendall(b"ECHO " + line)
`;

async function bpftool(args: string[]): Promise<unknown> {
  const out = await new Deno.Command("bpftool", { args: ["-j", ...args] }).output();
  if (!out.success) throw new Error(`bpftool ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The id of the `ignored_socks` map the process `pid` holds open. */
async function ignoredSocksOf(pid: number): Promise<number> {
  const ids = new Set<number>();
  for (const fd of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/fdinfo/${fd.name}`).catch(() => "");
    const id = /^map_id:\s*(\d+)/m.exec(text)?.[1];
    if (id) ids.add(Number(id));
  }
  const maps = await bpftool(["map", "list"]) as { id: number; name: string }[];
  const found = maps.find((m) => m.name === "ignored_socks" && ids.has(m.id));
  if (!found) throw new Error(`process ${pid} holds no ignored_socks map`);
  return found.id;
}

Deno.test("plain sockets: a connection no protocol parses is given up in the kernel", async () => {
  const [cmd, args] = tied(["python3", "-c", ECHO]);
  const server = new Deno.Command(cmd, { args, stdout: "piped", stdin: "null" }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let head = "";
    while (!head.includes("\n")) head += (await lines.read()).value ?? "";
    const port = Number(head.trim());
    await using agent = await startAgent(["--pid", String(server.pid)]);
    const map = await ignoredSocksOf(agent.pid);
    assert.deepEqual(await bpftool(["map", "dump", "id", String(map)]), []);

    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buf = new Uint8Array(256);
    const roundTrip = async (i: number) => {
      await conn.write(new TextEncoder().encode(`PING ${i} abcdefgh\n`));
      let got = "";
      while (!got.endsWith("\n")) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("the echo server closed");
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
    };
    // Enough openings for every protocol to say no, then the verdict lands in the map.
    for (let i = 0; i < 20; i++) await roundTrip(i);
    const until = Date.now() + 20_000;
    let entries: unknown[] = [];
    while (entries.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      entries = await bpftool(["map", "dump", "id", String(map)]) as unknown[];
    }
    assert.equal(entries.length, 1, "the given-up socket's verdict");

    // From here the kernel ships none of it: 300 more round trips would be 600 records.
    for (let i = 20; i < 320; i++) await roundTrip(i);
    conn.close();
    assert.equal(await agent.stop("SIGINT"), 0);
    const events = Number(/stopped: \d+ spans from (\d+) events/.exec(agent.stderr())?.[1]);
    assert.ok(events < 200, `${events} events: the bytes kept coming\n${agent.stderr()}`);
    assert.match(agent.stderr(), /stopped: 0 spans/);
  } finally {
    try {
      server.kill();
    } catch { /* it ended */ }
    await server.status;
    await lines.cancel().catch(() => {});
  }
});
