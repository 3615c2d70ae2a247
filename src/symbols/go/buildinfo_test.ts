import assert from "node:assert/strict";
import { openGoBinary, parseGoBinary } from "./go_binary.ts";
import { type GoBuildInfo, type GoModule, parseBuildInfo } from "./buildinfo.ts";
import {
  buildDepsGoFixture,
  buildGoFixture,
  buildOldGoFixture,
  goTool,
  TEST_TOOLCHAINS,
} from "../../../tests/go_fixtures.ts";

/** What `go version -m` prints, in the reader's shape (an independent line parser). */
function goVersionM(path: string): GoBuildInfo {
  const out = goTool("go1.26.8", ["version", "-m", path]);
  const [first, ...lines] = out.split("\n");
  const info: GoBuildInfo = {
    goVersion: first!.slice(first!.lastIndexOf(": ") + 2).trim(),
    path: "",
    deps: [],
    settings: {},
  };
  let last: GoModule | undefined;
  for (const line of lines) {
    const f = line.replace(/^\t/, "").split("\t");
    const mod = (): GoModule => ({ path: f[1]!, version: f[2] ?? "", sum: f[3] ?? "" });
    if (f[0] === "path") info.path = f[1]!;
    else if (f[0] === "mod") info.main = last = mod();
    else if (f[0] === "dep") info.deps.push(last = mod());
    else if (f[0] === "=>") last!.replace = mod();
    else if (f[0] === "build") {
      const [key, ...value] = f.slice(1).join("\t").split("=");
      let v = value.join("=");
      if (v.startsWith('"')) v = JSON.parse(v);
      info.settings[key!] = v;
    }
  }
  return info;
}

async function buildInfoOf(path: string) {
  const opened = await openGoBinary(path);
  if (!opened.ok) throw new Error(opened.error);
  using bin = opened.binary;
  return bin.buildInfo();
}

for (const toolchain of TEST_TOOLCHAINS) {
  for (const stripped of [false, true]) {
    Deno.test(`buildinfo ${toolchain}${stripped ? " stripped" : ""}: as go version -m`, async () => {
      const built = buildGoFixture(toolchain, { stripped });
      assert.ok(built.ok, built.ok ? "" : built.error);
      const info = await buildInfoOf(built.path);
      assert.ok(info.ok, info.ok ? "" : info.error);
      assert.equal(info.info.goVersion, toolchain);
      assert.deepEqual(info.info, goVersionM(built.path));
      if (stripped) assert.equal(info.info.settings["-ldflags"], "-s -w");
    });
  }
}

Deno.test("buildinfo: dependencies and replacements, as go version -m", async () => {
  for (const stripped of [false, true]) {
    const built = buildDepsGoFixture("go1.26.8", stripped);
    assert.ok(built.ok, built.ok ? "" : built.error);
    const info = await buildInfoOf(built.path);
    assert.ok(info.ok, info.ok ? "" : info.error);
    assert.deepEqual(info.info, goVersionM(built.path));
    assert.deepEqual(info.info.deps.map((d) => [d.path, d.version, d.replace?.path]), [
      ["example.com/greet", "v1.2.3", "./greet"],
      ["example.com/shout", "v0.1.0", "./shout"],
    ]);
  }
});

Deno.test("buildinfo: Go 1.16's pointer format is read through the file", async () => {
  const built = buildOldGoFixture("go1.16.15");
  assert.ok(built.ok, built.ok ? "" : built.error);
  const info = await buildInfoOf(built.path);
  assert.ok(info.ok, info.ok ? "" : info.error);
  assert.equal(info.info.goVersion, "go1.16.15");
  const expected = goVersionM(built.path);
  assert.equal(info.info.path, expected.path);
  assert.deepEqual(info.info.main, expected.main);
  // Without a way to follow pointers, a clear error.
  const opened = await openGoBinary(built.path);
  assert.ok(opened.ok);
  using bin = opened.binary;
  const bare = parseBuildInfo(bin.elf.readSection(".go.buildinfo")!);
  assert.ok(!bare.ok && /pointers \(Go 1\.13 to 1\.17\)/.test(bare.error));
});

Deno.test("buildinfo: found by its magic when the section header is gone", async () => {
  const built = buildGoFixture("go1.22.12", { stripped: true });
  assert.ok(built.ok);
  const bytes = await Deno.readFile(built.path);
  const opened = parseGoBinary(bytes);
  assert.ok(opened.ok);
  // Rename the section (".go.buildinfo" → ".Xo.buildinfo") so only the scan can find it.
  const names = opened.binary.elf.sections[opened.binary.elf.header.shstrndx]!;
  const copy = bytes.slice();
  copy[names.offset + findName(copy, names.offset)] = 0x58;
  const renamed = parseGoBinary(copy);
  assert.ok(renamed.ok);
  assert.equal(renamed.binary.elf.section(".go.buildinfo"), undefined);
  const info = renamed.binary.buildInfo();
  assert.ok(info.ok, info.ok ? "" : info.error);
  assert.equal(info.info.goVersion, "go1.22.12");
});

function findName(bytes: Uint8Array, tableOffset: number): number {
  const needle = new TextEncoder().encode(".go.buildinfo\0");
  for (let i = tableOffset; i < bytes.length; i++) {
    if (needle.every((b, k) => bytes[i + k] === b)) return i - tableOffset + 1;
  }
  throw new Error("section name not found");
}

Deno.test("buildinfo: damaged and foreign bytes give error results", () => {
  const magic = [0xff, ...new TextEncoder().encode(" Go buildinf:")];
  const header = (flags: number) => {
    const b = new Uint8Array(32);
    b.set(magic);
    b[14] = 8;
    b[15] = flags;
    return b;
  };
  assert.match((parseBuildInfo(new Uint8Array(10)) as { error: string }).error, /truncated/);
  assert.match((parseBuildInfo(new Uint8Array(64)) as { error: string }).error, /magic/);
  const inline = (...parts: Uint8Array[]) => {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  };
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    return inline(new Uint8Array([b.length]), b);
  };
  const good = parseBuildInfo(inline(header(2), str("go1.23.4"), str("path\tx/y\n")));
  assert.ok(good.ok && good.info.goVersion === "go1.23.4" && good.info.path === "x/y");
  const cut = parseBuildInfo(inline(header(2), new Uint8Array([0x40]), str("go1")));
  assert.ok(!cut.ok && /bad version/.test(cut.error));
  const notVersion = parseBuildInfo(inline(header(2), str("hello"), str("")));
  assert.ok(!notVersion.ok && /version "hello"/.test(notVersion.error));
  const badPtr = parseBuildInfo(inline(header(0), new Uint8Array(16)), () => undefined);
  assert.ok(!badPtr.ok && /cannot be read/.test(badPtr.error));
});
