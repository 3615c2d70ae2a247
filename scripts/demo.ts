/**
 * The built-in demo: starts a Python HTTPS server and a curl client that calls it a few
 * times a second, attaches upspan to both and prints the spans live (pretty tree), for
 * 20 seconds or until Ctrl-C.
 *
 *   deno task demo [--format json] [--duration SECONDS] [--dump]
 *
 * @module
 */
import { main } from "../src/cli.ts";
import { makeCert } from "../tests/targets/certs.ts";
import { startPythonServer } from "../tests/targets/targets.ts";

const dir = await Deno.makeTempDir({ prefix: "upspan-demo-" });
const { cert, key } = await makeCert(dir);
const server = await startPythonServer({ cert, key });
const base = `https://127.0.0.1:${server.port}`;
const paths = ["/hello", "/status/404", "/bytes/2048", "/status/503", "/hello?user=42"];
const urls = Array.from({ length: 200 }, (_, i) => base + paths[i % paths.length]);
const client = new Deno.Command("curl", {
  args: ["-sk", "--rate", "4/s", "-o", "/dev/null", "-H", "User-Agent: upspan-demo", ...urls],
  stdout: "null",
  stderr: "null",
}).spawn();

console.error(`demo: HTTPS server pid ${server.pid} on ${base}, curl client pid ${client.pid}`);
const args = Deno.args.includes("--duration") ? Deno.args : ["--duration", "20", ...Deno.args];
const code = await main(["--pid", String(server.pid), "--pid", String(client.pid), ...args]);
try {
  client.kill();
} catch { /* finished */ }
await client.status;
await server.stop();
await Deno.remove(dir, { recursive: true });
Deno.exit(code);
