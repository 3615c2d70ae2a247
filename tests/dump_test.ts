// --dump: the captured plaintext of every TLS read and write, as sslsniff users expect.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

Deno.test("--dump prints each chunk with time, pid, thread, direction, connection and length", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(
    ["--pid", String(server.pid), "--dump", "--capture-bytes", "100"],
    { raw: true },
  );
  await curl(`https://127.0.0.1:${server.port}/bytes/300`);
  assert.equal(await agent.stop("SIGINT"), 0, "SIGINT: the ring is drained, exit 0");
  const text = agent.stdout();

  const headers = text.split("\n").filter((l) => /^\d\d:\d\d:\d\d\.\d{6} (READ|WRITE) /.test(l));
  const read = headers.find((l) => l.includes(" READ "))!;
  assert.match(
    read,
    new RegExp(
      `pid ${server.pid} tid \\d+ \\(python3\\) conn 0x[0-9a-f]+ ` +
        `127\\.0\\.0\\.1:${server.port} ← 127\\.0\\.0\\.1:\\d+ pos 0 len \\d+`,
    ),
  );
  assert.match(text, /GET \/bytes\/300 HTTP\/1\.1/);
  assert.match(text, /HTTP\/1\.[01] 200 OK/);
  // The 300-byte body is captured only up to --capture-bytes, and says so.
  assert.ok(
    headers.some((l) => /WRITE .*len 100 of 300.*200 bytes not captured/.test(l)),
    headers.join("\n"),
  );
  assert.equal(text.match(/x{100}/g)?.length, 1, "exactly the captured 100 body bytes");
});

Deno.test("--dump with --capture-bytes 65536: a large write arrives as 16 KiB chunks", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(
    ["--pid", String(server.pid), "--dump", "--capture-bytes", "65536"],
    { raw: true },
  );
  const body = await curl(`https://127.0.0.1:${server.port}/bytes/40000`);
  assert.equal(body.length, 40000);
  assert.equal(await agent.stop("SIGINT"), 0);
  const text = agent.stdout();
  const writes = text.split("\n").filter((l) => / WRITE .* of 40000/.test(l));
  assert.deepEqual(writes.map((l) => /len (\d+) of 40000/.exec(l)?.[1]), [
    "16384",
    "16384",
    "7232",
  ]);
  const bodyBytes = (text.match(/x{100,}/g) ?? []).reduce((n, run) => n + run.length, 0);
  assert.equal(bodyBytes, 40000, "every body byte captured once");
});
