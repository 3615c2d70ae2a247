// `--pid` of a server that forks: a pre-forking server's existing workers are traced before
// `ready`, and a process a traced one forks is traced from its start (the fork tracepoint),
// not found later by a scan.
import assert from "node:assert/strict";
import { startNginx } from "./targets/nginx.ts";
import { PYTHON_ENV, pythonEnv } from "./targets/python_env.ts";
import { startServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

const HERE = new URL("./targets/", import.meta.url).pathname;

/** GETs `/r/0` … `/r/{n-1}`, each on its own connection, all at once. */
async function burst(port: number, n: number): Promise<string[]> {
  const paths = Array.from({ length: n }, (_, i) => `/r/${i}`);
  await Promise.all(
    paths.map((p) =>
      curl("-o", "/dev/null", "-H", "Connection: close", `http://127.0.0.1:${port}${p}`)
    ),
  );
  return paths;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("--pid of nginx's master: its workers' spans from the first request after ready", async () => {
  await using nginx = await startNginx({}, {
    workers: 2,
    server: `location /r/ { return 200 "$uri\\n"; }`,
  });
  await using agent = await startAgent(["--pid", String(nginx.masterPid)]);
  const paths = await burst(nginx.port, 30);
  await agent.waitForSpans((s) => s.kind === "SERVER", paths.length);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const servers = agent.spans.filter((s) => s.kind === "SERVER");
  assert.deepEqual(servers.map((s) => s.attributes["url.path"]).sort(), paths.sort());
  for (const s of servers) assert.ok(nginx.workerPids.includes(Number(s.resource["process.pid"])));
});

Deno.test("--pid of gunicorn's master: its workers' spans from the first request after ready", async () => {
  const python = await pythonEnv();
  const port = freePort();
  const gunicorn = new Deno.Command(python, {
    args: [
      `${PYTHON_ENV}/bin/gunicorn`,
      "--workers",
      "2",
      "--bind",
      `127.0.0.1:${port}`,
      "--chdir",
      HERE,
      "wsgi_app:app",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // Up, with both workers forked.
    for (let i = 0;; i++) {
      const kids = (await Deno.readTextFile(`/proc/${gunicorn.pid}/task/${gunicorn.pid}/children`))
        .trim().split(" ").filter(Boolean);
      const up = await Deno.connect({ hostname: "127.0.0.1", port }).then(
        (c) => (c.close(), true),
        () => false,
      );
      if (up && kids.length >= 2) break;
      assert.ok(i < 200, "gunicorn did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
    await using agent = await startAgent(["--pid", String(gunicorn.pid)]);
    const paths = await burst(port, 20);
    await agent.waitForSpans((s) => s.kind === "SERVER", paths.length);
    assert.equal(await agent.stop("SIGTERM"), 0);
    const servers = agent.spans.filter((s) => s.kind === "SERVER");
    assert.deepEqual(servers.map((s) => s.attributes["url.path"]).sort(), paths.sort());
    for (const s of servers) assert.notEqual(s.resource["process.pid"], gunicorn.pid);
  } finally {
    gunicorn.kill("SIGTERM");
    await gunicorn.status;
  }
});

Deno.test("a server that forks a child per connection: every child's span, with its resource", async () => {
  await using server = await startServer("python3", [`${HERE}forking_server.py`]);
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const paths: string[] = [];
  // One after another: each child is forked, serves one request and exits.
  for (let i = 0; i < 8; i++) paths.push(...await burst(server.port, 1));
  await agent.waitForSpans((s) => s.kind === "SERVER", paths.length);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const servers = agent.spans.filter((s) => s.kind === "SERVER");
  assert.equal(servers.length, paths.length);
  const pids = new Set(servers.map((s) => s.resource["process.pid"]));
  assert.equal(pids.size, paths.length, "each request served by its own child");
  assert.ok(!pids.has(server.pid));
  for (const s of servers) {
    assert.equal(s.attributes["url.path"], "/r/0");
    assert.match(String(s.resource["process.command_line"]), /forking_server\.py/);
  }
});
