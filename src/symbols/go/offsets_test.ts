import assert from "node:assert/strict";
import { goOffsets, moduleOffsets, OFFSETS, type OffsetsTable, parseGoVersion } from "./offsets.ts";
import { buildGoFixture, TEST_TOOLCHAINS } from "../../../tests/go_fixtures.ts";

Deno.test("offsets: lookup by exact version, verified minor range, else unknown", () => {
  const table: OffsetsTable = {
    comment: "",
    pointerSize: 8,
    go: {
      "go1.22.12": { "net/http.Request": { Method: 0 } },
      "go1.23.12": { "net/http.Request": { Method: 0, Pattern: 232 } },
    },
    verifiedRange: { "go1.23": [{ first: "go1.23.0", last: "go1.23.12" }] },
    modules: { "golang.org/x/net": { "v0.25.0": { "x.T": { f: 8 } } } },
  };
  const exact = goOffsets("go1.22.12", table);
  assert.ok(exact.ok && exact.exact && exact.version === "go1.22.12");
  const inRange = goOffsets("go1.23.5", table);
  assert.ok(inRange.ok && !inRange.exact && inRange.version === "go1.23.12");
  assert.equal(inRange.ok && inRange.offsets["net/http.Request"]?.["Pattern"], 232);
  for (const unknown of ["go1.22.5", "go1.23.13", "go1.24.0", "devel +abc", "go1.23rc1", ""]) {
    const r = goOffsets(unknown, table);
    assert.ok(!r.ok, unknown);
    assert.match(r.error, /no struct offsets are known for Go version/);
  }
  assert.deepEqual(moduleOffsets("golang.org/x/net", "v0.25.0", table), { "x.T": { f: 8 } });
  assert.equal(moduleOffsets("golang.org/x/net", "v0.26.0", table), undefined);
  assert.deepEqual(parseGoVersion("go1.21.13"), [1, 21, 13]);
  assert.deepEqual(parseGoVersion("go1.21"), [1, 21, 0]);
  assert.equal(parseGoVersion("go1.21rc2"), undefined);
});

Deno.test("offsets.json: every supported minor version, every probed struct", () => {
  assert.equal(OFFSETS.pointerSize, 8);
  for (const minor of [21, 22, 23, 24, 25, 26]) {
    const versions = Object.keys(OFFSETS.go).filter((v) => v.startsWith(`go1.${minor}.`));
    assert.ok(versions.length >= 1, `go1.${minor}`);
    for (const v of versions) {
      const o = OFFSETS.go[v]!;
      assert.equal(o["net/http.Request"]?.["Method"], 0);
      assert.ok(o["runtime.g"]?.["goid"]! > 0);
      assert.equal(o["net/http.Request"]?.["Pattern"] !== undefined, minor >= 23, v);
      for (
        const struct of [
          "net/url.URL",
          "net/http.response",
          "net/http.Response",
          "crypto/tls.Conn",
          "net.conn",
          "net.netFD",
          "internal/poll.FD",
          "net.TCPAddr",
          "database/sql.Stmt",
        ]
      ) {
        assert.ok(Object.keys(o[struct] ?? {}).length > 0, `${v} ${struct}`);
      }
    }
  }
});

/** Structs no exported type leads reflect to (HTTP/2's are unexported and unreferenced). */
const UNREFLECTED = new Set([
  "runtime.g",
  "net/http.pattern",
  "net/http.http2responseWriter",
  "net/http.http2responseWriterState",
  "net/http.http2stream",
  "net/http.http2serverConn",
  "net/http.http2clientStream",
  "net/http.http2ClientConn",
]);

for (const toolchain of TEST_TOOLCHAINS) {
  Deno.test(`offsets.json ${toolchain}: agrees with what the toolchain reports`, async () => {
    const found = goOffsets(toolchain);
    assert.ok(found.ok, found.ok ? "" : found.error);
    const built = buildGoFixture(toolchain);
    assert.ok(built.ok);
    const out = await new Deno.Command(built.path, { args: ["offsets"], stdout: "piped" })
      .output();
    const reflected: Record<string, Record<string, number>> = JSON.parse(
      new TextDecoder().decode(out.stdout),
    );
    let compared = 0;
    for (const [struct, members] of Object.entries(found.offsets)) {
      // Not reachable through reflect: the DWARF tests cover them.
      if (UNREFLECTED.has(struct)) continue;
      for (const [member, offset] of Object.entries(members)) {
        assert.equal(reflected[struct]?.[member], offset, `${struct}.${member}`);
        compared++;
      }
    }
    assert.ok(compared > 40, `${compared} fields compared`);
  });
}

Deno.test("structOffsets: DWARF when present, the table for stripped binaries", async () => {
  const { openGoBinary } = await import("./go_binary.ts");
  for (const stripped of [false, true]) {
    const built = buildGoFixture("go1.22.12", { stripped });
    assert.ok(built.ok);
    const opened = await openGoBinary(built.path);
    assert.ok(opened.ok);
    using bin = opened.binary;
    const r = bin.structOffsets("net/http.Request");
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.equal(r.source, stripped ? "table" : "dwarf");
    assert.equal(r.members["Method"], 0);
    assert.equal(r.members["ctx"], OFFSETS.go["go1.22.12"]!["net/http.Request"]!["ctx"]);
    const missing = bin.structOffsets("net/http.NoSuchStruct");
    assert.ok(
      !missing.ok && /no offsets are known for net\/http\.NoSuchStruct/.test(missing.error),
    );
  }
});
