import assert from "node:assert/strict";
import { inspectProcess } from "../discovery/mod.ts";
import { OPENSSL } from "./openssl.ts";
import { locateTls } from "./locate.ts";

/** Runs a command and locates OpenSSL in it once it has started (its `exec` done, its
 * libraries loaded): until found, for up to 10 s on a busy machine, then the last answer. */
async function locateIn(command: string, args: string[]) {
  const child = new Deno.Command(command, { args, stdin: "piped", stdout: "null" }).spawn();
  try {
    const deadline = performance.now() + 10_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await inspectProcess(child.pid);
      assert.ok(r.ok);
      const started = r.process.exe.endsWith(command) || r.process.comm !== "deno";
      const where = started ? await locateTls(r.process, [OPENSSL]) : undefined;
      if (where?.ok || (where && performance.now() > deadline)) return where;
      if (where && command === "sleep") return where; // nothing will ever be loaded there
    }
  } finally {
    child.kill();
    await child.status;
  }
}

Deno.test("locateTls, OpenSSL: a mapped libssl, every probe at a function's file offset", async () => {
  const where = await locateIn("python3", ["-c", "import ssl, time; time.sleep(5)"]);
  assert.ok(where.ok, where.ok ? "" : where.message);
  assert.match(where.file.path, /libssl\.so\.3$/);
  assert.deepEqual(
    where.sites.map((s) => [s.symbol, s.program, s.retprobe]),
    [
      ["SSL_write", "ssl_write", false],
      ["SSL_write", "ssl_write_return", true],
      ["SSL_write_ex", "ssl_write_ex", false],
      ["SSL_write_ex", "ssl_write_return", true],
      ["SSL_read", "ssl_read", false],
      ["SSL_read", "ssl_read_return", true],
      ["SSL_read_ex", "ssl_read_ex", false],
      ["SSL_read_ex", "ssl_read_return", true],
      ["SSL_free", "ssl_free", false],
    ],
  );
  // The offsets are where nm puts the functions (for a shared library, vaddr = offset here).
  const nm = new TextDecoder().decode(
    (await new Deno.Command("nm", { args: ["-D", "--defined-only", where.file.path] }).output())
      .stdout,
  );
  for (const s of where.sites) {
    const addr = new RegExp(`^([0-9a-f]+) T ${s.symbol}(@|$)`, "m").exec(nm)?.[1];
    assert.equal(s.offset, parseInt(addr!, 16), s.symbol);
  }
});

Deno.test("locateTls, OpenSSL: OpenSSL inside the executable (node)", async () => {
  const where = await locateIn("node", ["-e", "setTimeout(() => {}, 5000)"]);
  assert.ok(where.ok);
  assert.match(where.file.path, /node$/);
  assert.equal(where.sites.length, 9);
});

Deno.test("locateTls, OpenSSL: a process without OpenSSL says so", async () => {
  const where = await locateIn("sleep", ["5"]);
  assert.ok(!where.ok);
  assert.match(where.message, /does not use OpenSSL/);
});
