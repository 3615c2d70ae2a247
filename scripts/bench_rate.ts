/**
 * The agent's cost at a steady 1,000 requests per second: a plain-HTTP Python server under a
 * paced load, once untraced and once traced (spans exported over OTLP to a local sink that
 * counts them), alternated. Prints the server's CPU both ways, and the agent's CPU and
 * resident memory.
 *
 *   deno run -A scripts/bench_rate.ts [--seconds 10] [--rate 1000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startPythonServer } from "../tests/targets/targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "1000" },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const TICK = 100; // USER_HZ: clock ticks per second in /proc/PID/stat

/** CPU seconds a process has used (user + system). */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK;
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Sends `rate` requests a second for `seconds` over 8 keep-alive connections. */
async function pacedLoad(port: number): Promise<number> {
  const conns = await Promise.all(
    Array.from({ length: 8 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  const req = new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: load\r\n\r\n");
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(conns.map(async (conn, c) => {
    const buf = new Uint8Array(4096); // one per connection: reads overlap
    for (let i = c;; i += conns.length) {
      const due = t0 + (i * 1000) / rate;
      if (due - t0 > seconds * 1000) break;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await conn.write(req);
      let got = "";
      while (!got.endsWith("hello\n")) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("server closed");
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
      sent++;
    }
    conn.close();
  }));
  return sent / ((performance.now() - t0) / 1000);
}

/** An OTLP/HTTP endpoint that accepts and counts requests. */
function otlpSink(): { url: string; requests: () => number; close: () => Promise<void> } {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    await r.arrayBuffer();
    requests++;
    return new Response(new Uint8Array(), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests: () => requests,
    close: () => server.shutdown(),
  };
}

await using server = await startPythonServer({});
await pacedLoad(server.port); // warm-up
const sink = otlpSink();
const plain: number[] = [];
const traced: { server: number; agent: number; rss: number; rps: number }[] = [];
for (let round = 0; round < 2; round++) {
  let c0 = cpuSeconds(server.pid);
  let t0 = performance.now();
  const rps0 = await pacedLoad(server.port);
  plain.push((cpuSeconds(server.pid) - c0) / ((performance.now() - t0) / 1000));

  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "--pid", String(server.pid), "--otlp-endpoint", sink.url],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const reader = agent.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (!/^ready/m.test(err)) err += (await reader.read()).value ?? "";
  const a0 = cpuSeconds(agent.pid);
  c0 = cpuSeconds(server.pid);
  t0 = performance.now();
  const rps = await pacedLoad(server.port);
  const wall = (performance.now() - t0) / 1000;
  traced.push({
    server: (cpuSeconds(server.pid) - c0) / wall,
    agent: (cpuSeconds(agent.pid) - a0) / wall,
    rss: rssMb(agent.pid),
    rps,
  });
  agent.kill("SIGINT");
  reader.releaseLock();
  await agent.stderr.cancel().catch(() => {});
  await agent.status;
  console.error(`round ${round}: ${rps0.toFixed(0)} / ${rps.toFixed(0)} req/s`);
}
await sink.close();
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
console.log(`## ${rate} requests per second for ${seconds} s (plain HTTP, Python server), OTLP on`);
console.log(`server CPU untraced   ${pct(avg(plain))} of a core`);
console.log(`server CPU traced     ${pct(avg(traced.map((t) => t.server)))} of a core`);
console.log(`ratio                 ${(avg(traced.map((t) => t.server)) / avg(plain)).toFixed(2)}`);
console.log(`agent CPU             ${pct(avg(traced.map((t) => t.agent)))} of a core`);
console.log(`agent RSS             ${Math.max(...traced.map((t) => t.rss)).toFixed(0)} MB`);
console.log(`OTLP requests         ${sink.requests()} received`);
