import { startNginx } from "../tests/targets/nginx.ts";
import { makeCert } from "../tests/targets/certs.ts";
import { h2load, agentCounters, cpuSeconds, startUpspan } from "../scripts/bench/measure.ts";
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const tls = await makeCert(await Deno.makeTempDir());
await using server = await startNginx({ "hello.txt": "hello\n" }, { tls, http2: true });
const url = `https://127.0.0.1:${server.port}/hello.txt`;
const args = server.pids.flatMap((p) => ["--pid", String(p)]);
await h2load(url);
async function file() {
  const sh = new Deno.Command("sh", { args: ["-c", `exec "$0" run -A ${MOD} ${args.join(" ")} --format json > /dev/shm/exp.jsonl`, Deno.execPath()], stderr: "piped" }).spawn();
  let err = ""; const errs = (async () => { for await (const t of sh.stderr.pipeThrough(new TextDecoderStream())) err += t; })();
  while (!/^ready/m.test(err)) await new Promise((r) => setTimeout(r, 5));
  const c0 = cpuSeconds(sh.pid);
  const l = await h2load(url);
  const cpu = cpuSeconds(sh.pid) - c0;
  await new Promise((r) => setTimeout(r, 300));
  sh.kill("SIGINT"); await sh.status; await errs;
  const text = Deno.readFileSync("/dev/shm/exp.jsonl");
  let spans = 0; for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) spans++;
  return { l, spans, cpu, c: agentCounters(err) };
}
async function pipe() {
  const a = await startUpspan(args);
  const l = await h2load(url);
  const rep = await a.stop();
  return { l, spans: rep.spans, cpu: rep.cpuSeconds, c: agentCounters(rep.stderr) };
}
for (let r = 0; r < 3; r++) {
  for (const [name, f] of [["pipe", pipe], ["file", file]] as const) {
    const { l, spans, cpu, c } = await f();
    console.log(`${name}: ${l.rps.toFixed(0)} req/s, ${(spans / l.requests).toFixed(3)} spans/req, ${c.dropped} dropped, ${(cpu * 1e6 / spans).toFixed(1)} µs/span`);
  }
}
