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

Deno.test("locateTls, OpenSSL: a mapped libssl, each pair probed at the internal function it reaches", async () => {
  const where = await locateIn("python3", ["-c", "import ssl, time; time.sleep(5)"]);
  assert.ok(where.ok, where.ok ? "" : where.message);
  assert.match(where.file.path, /libssl\.so\.3$/);
  // Debian's OpenSSL 3: SSL_read_ex is `sub rsp, 8; call ssl_read_internal`, which SSL_read
  // calls too; likewise for the writes. The pair's probes sit there, the plain rows go.
  assert.deepEqual(
    where.sites.map((s) => [s.symbol, s.program, s.retprobe]),
    [
      ["SSL_write_ex", "ssl_write_ex", false],
      ["SSL_write_ex", "ssl_write_return", true],
      ["SSL_read_ex", "ssl_read_ex", false],
      ["SSL_read_ex", "ssl_read_return", true],
      ["SSL_free", "ssl_free", false],
    ],
  );
  const text = async (args: string[]) =>
    new TextDecoder().decode(
      (await new Deno.Command(args[0]!, { args: args.slice(1) }).output()).stdout,
    );
  // For a shared library, vaddr = offset here: SSL_free where nm puts it, the others where
  // objdump says the `_ex` function's first instruction calls.
  const nm = await text(["nm", "-D", "--defined-only", where.file.path]);
  const at = (symbol: string) =>
    parseInt(new RegExp(`^([0-9a-f]+) T ${symbol}(@|$)`, "m").exec(nm)![1]!, 16);
  for (const s of where.sites) {
    if (s.symbol === "SSL_free") {
      assert.equal(s.offset, at(s.symbol));
      continue;
    }
    const start = at(s.symbol);
    const dump = await text([
      "objdump",
      "-d",
      `--start-address=0x${start.toString(16)}`,
      `--stop-address=0x${(start + 16).toString(16)}`,
      where.file.path,
    ]);
    const callee = /\bcall\s+([0-9a-f]+)/.exec(dump)?.[1];
    assert.equal(s.offset, parseInt(callee!, 16), s.symbol);
    assert.notEqual(s.offset, start);
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
