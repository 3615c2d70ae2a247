import { startNginx } from "../tests/targets/nginx.ts";
import { makeCert } from "../tests/targets/certs.ts";
import { h2load, agentCounters } from "../scripts/bench/measure.ts";
const dirs = Deno.args;
const tls = await makeCert(await Deno.makeTempDir());
await using server = await startNginx({ "hello.txt": "hello\n" }, { tls, http2: true });
const url = `https://127.0.0.1:${server.port}/hello.txt`;
const args = server.pids.flatMap((p) => ["--pid", String(p)]);
await h2load(url);
const mods = await Promise.all(dirs.map((d) => import(`${d}/scripts/bench/measure.ts`)));
for (let r = 0; r < 3; r++) {
  for (const [i, m] of mods.entries()) {
    const a = await m.startUpspan(args).catch((e: Error) => { console.log(String(e).slice(0, 600)); throw e; });
    const l = await h2load(url);
    const rep = await a.stop();
    const c = agentCounters(rep.stderr);
    console.log(`${dirs[i]}: ${l.rps.toFixed(0)} req/s, ${(rep.spans / l.requests).toFixed(3)} spans/req, ${c.dropped} dropped, ${(rep.cpuSeconds * 1e6 / rep.spans).toFixed(1)} µs/span`);
  }
}
