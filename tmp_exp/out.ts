import { startNginx } from "../tests/targets/nginx.ts";
import { cpuSeconds, startUpspan, wrk, agentCounters } from "../scripts/bench/measure.ts";
const MOD = new URL("../mod.ts", import.meta.url).pathname;
await using server = await startNginx({ "hello.txt": "hello\n" });
const url = `http://127.0.0.1:${server.port}/hello.txt`;
const args = server.pids.flatMap((p) => ["--pid", String(p)]);
await wrk(url, 1);
const selfCpu = () => { const u = Deno.resourceUsage?.() ; return 0; };
async function piped() {
  const a = await startUpspan(args);
  const t0 = performance.now();
  const w = await wrk(url, 3);
  const r = await a.stop();
  const c = agentCounters(r.stderr);
  return { rps: w.rps, spansPer: r.spans / w.requests, cpuUs: r.cpuSeconds * 1e6 / r.spans, dropped: c.dropped };
}
async function file() {
  const out = await Deno.open("/dev/shm/exp.jsonl", { write: true, create: true, truncate: true });
  const p = new Deno.Command(Deno.execPath(), { args: ["run", "-A", MOD, ...args, "--format", "json"], stdout: "piped", stderr: "piped" });
  const sh = new Deno.Command("sh", { args: ["-c", `exec "$0" run -A ${MOD} ${args.join(" ")} --format json > /dev/shm/exp.jsonl`, Deno.execPath()], stderr: "piped" }).spawn();
  out.close();
  let err = ""; const errs = (async () => { for await (const t of sh.stderr.pipeThrough(new TextDecoderStream())) err += t; })();
  while (!/^ready/m.test(err)) await new Promise((r) => setTimeout(r, 5));
  const c0 = cpuSeconds(sh.pid);
  const w = await wrk(url, 3);
  const cpu = cpuSeconds(sh.pid) - c0;
  await new Promise((r) => setTimeout(r, 300));
  sh.kill("SIGINT"); await sh.status; await errs;
  const text = Deno.readFileSync("/dev/shm/exp.jsonl");
  let spans = 0; for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) spans++;
  const c = agentCounters(err);
  return { rps: w.rps, spansPer: spans / w.requests, cpuUs: cpu * 1e6 / spans, dropped: c.dropped };
}
async function untraced() { return { rps: (await wrk(url, 3)).rps }; }
for (let r = 0; r < 3; r++) {
  console.log("untraced", JSON.stringify(await untraced()));
  console.log("piped   ", JSON.stringify(await piped()));
  console.log("file    ", JSON.stringify(await file()));
}
