import assert from "node:assert/strict";
import type { MappedFile } from "../discovery/mod.ts";
import { buildGoFixture, TEST_TOOLCHAINS } from "../../tests/go_fixtures.ts";
import type { TlsLibrary } from "./library.ts";
import { librarySites } from "./sites.ts";
import { GO_TLS } from "./go_tls.ts";
import { locateTls } from "./locate.ts";
import { TLS_LIBRARIES } from "./registry.ts";

const LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

function mapped(path: string): MappedFile {
  const st = Deno.statSync(path);
  const device = [Math.floor(st.dev / 256), st.dev % 256]
    .map((n) => n.toString(16).padStart(2, "0")).join(":");
  return { path, hostPath: path, device, inode: st.ino! };
}

/** A made-up library over libssl's symbols: the table alone decides what is probed. */
const table = (name: string, probes: TlsLibrary["probes"]): TlsLibrary => ({
  name,
  symbols: "elf",
  probes,
  files: () => [],
});

Deno.test("librarySites: a table's rows in order, optional rows skipped, returns as uretprobes", async () => {
  const lib = table("test: rows", [
    { symbol: "SSL_write", program: "w" },
    { symbol: "SSL_no_such_function", program: "x", optional: true },
    { symbol: "SSL_read", program: "r", at: "return" },
  ]);
  const sites = await librarySites(lib, mapped(LIBSSL));
  assert.ok(typeof sites !== "string", String(sites));
  assert.deepEqual(sites.map((s) => [s.symbol, s.program, s.retprobe]), [
    ["SSL_write", "w", false],
    ["SSL_read", "r", true],
  ]);
  assert.ok(sites.every((s) => s.offset > 0 && s.file.path === LIBSSL));
});

Deno.test("librarySites: a missing required function says which, and is remembered", async () => {
  const lib = table("test: missing", [{ symbol: "SSL_no_such_function", program: "x" }]);
  const file = mapped(LIBSSL);
  assert.equal(await librarySites(lib, file), `${LIBSSL} does not define SSL_no_such_function`);
  // Remembered by file identity: the same answer for a path that no longer opens.
  assert.equal(
    await librarySites(lib, { ...file, hostPath: "/nonexistent" }),
    `${LIBSSL} does not define SSL_no_such_function`,
  );
});

Deno.test("librarySites: Go's crypto/tls, a probe on each RET of Read, never a uretprobe", async () => {
  const built = buildGoFixture(TEST_TOOLCHAINS[TEST_TOOLCHAINS.length - 1]!, { stripped: true });
  if (!built.ok) throw new Error(built.error);
  const sites = await librarySites(GO_TLS, mapped(built.path));
  assert.ok(typeof sites !== "string", String(sites));
  const programs = sites.map((s) => s.program);
  assert.deepEqual(programs.slice(0, 2), ["go_tls_write", "go_tls_read"]);
  assert.ok(
    programs.slice(2).length >= 1 && programs.slice(2).every((p) => p === "go_tls_read_ret"),
  );
  assert.ok(sites.every((s) => !s.retprobe));
  // The RETs lie inside Read, after its entry.
  assert.ok(sites.slice(2).every((s) => s.offset > sites[1]!.offset));
});

Deno.test("locateTls: a Go binary without libssl gets Go's crypto/tls from the registry", async () => {
  const built = buildGoFixture(TEST_TOOLCHAINS[TEST_TOOLCHAINS.length - 1]!);
  if (!built.ok) throw new Error(built.error);
  const exe = mapped(built.path);
  const where = await locateTls({ pid: 1, exe: built.path, files: [exe] } as never, TLS_LIBRARIES);
  assert.ok(where.ok, where.ok ? "" : where.message);
  assert.equal(where.library, GO_TLS);
  assert.equal(where.file, exe);
});
