/**
 * Builds the Go fixture binaries the Go-binary readers are tested against: one small
 * program (`tests/fixtures/go/probe_target.go`) that links net/http, crypto/tls and
 * database/sql, built by a given toolchain (`GOTOOLCHAIN=go1.N.M`, downloaded through the
 * Go module proxy on first use), with and without `-ldflags='-s -w'`. Binaries are cached
 * outside the repository, in `${XDG_CACHE_HOME:-$HOME/.cache}/upspan/go-fixtures`, and
 * reused when present.
 *
 * @module
 */

/** Toolchains the tests build with: the oldest and newest supported, and the local one. */
export const TEST_TOOLCHAINS = ["go1.21.13", "go1.22.12", "go1.26.8"] as const;

const SOURCE = new URL("./fixtures/go/probe_target.go", import.meta.url);

/** The cache directory for built fixtures. */
export function fixtureCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/upspan/go-fixtures`;
}

/** Options for {@linkcode buildGoFixture}. */
export interface GoFixtureOptions {
  /** Build with `-ldflags='-s -w'` (no symbol table, no DWARF). Default: false. */
  stripped?: boolean;
  /** Go source to build instead of the probe target. */
  source?: URL;
  /** Name of the cached binary, instead of one derived from the source file. */
  name?: string;
  /** The `go` directive of the generated go.mod. Default: "1.21". */
  goDirective?: string;
  /** Lines appended to the generated go.mod (`require`, `replace`). */
  goModExtra?: string;
  /** Extra files to write beside main.go, by relative path. */
  files?: Record<string, string>;
}

/** A built fixture, or why it could not be built. */
export type GoFixture = { ok: true; path: string } | { ok: false; error: string };

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of the probe target built by `toolchain` (e.g. "go1.22.12"), building it on
 * first use. Synchronous, so the fuzz harnesses can use it too.
 */
export function buildGoFixture(toolchain: string, options: GoFixtureOptions = {}): GoFixture {
  const source = options.source ?? SOURCE;
  const base = options.name ?? source.pathname.split("/").pop()!.replace(/\.go$/, "");
  const dir = fixtureCacheDir();
  const text = Deno.readTextFileSync(source);
  // The name carries a hash of everything built, so an edited fixture is rebuilt.
  const key = fnv1a(JSON.stringify([text, options.goDirective, options.goModExtra, options.files]));
  const out = `${dir}/${base}-${key}-${toolchain}${options.stripped ? "-stripped" : ""}`;
  if (exists(out)) return { ok: true, path: out };
  // Per-process work directory and output name: parallel test files may build the same
  // fixture at once; the rename at the end is atomic.
  const work = `${dir}/src-${base}-${key}-${toolchain}-${Deno.pid}`;
  Deno.mkdirSync(work, { recursive: true });
  Deno.writeTextFileSync(
    `${work}/go.mod`,
    `module example.com/probetarget\n\ngo ${options.goDirective ?? "1.21"}\n${
      options.goModExtra ?? ""
    }`,
  );
  for (const [rel, body] of Object.entries(options.files ?? {})) {
    const full = `${work}/${rel}`;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(full, body);
  }
  Deno.writeTextFileSync(`${work}/main.go`, text);
  const args = ["build", "-trimpath=false", "-o", `${out}.${Deno.pid}.tmp`];
  if (options.stripped) args.push("-ldflags=-s -w");
  args.push(".");
  const env: Record<string, string> = { GOTOOLCHAIN: toolchain, GOFLAGS: "-mod=mod" };
  const result = new Deno.Command("go", { args, cwd: work, env, stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!result.success) {
    Deno.removeSync(work, { recursive: true });
    return {
      ok: false,
      error: `go build with ${toolchain} failed: ${new TextDecoder().decode(result.stderr)}`,
    };
  }
  Deno.renameSync(`${out}.${Deno.pid}.tmp`, out);
  Deno.removeSync(work, { recursive: true });
  return { ok: true, path: out };
}

/** A Go 1.16 binary (pclntab layout older than supported), or why it cannot be built. */
export function buildOldGoFixture(toolchain = "go1.16.15"): GoFixture {
  return buildGoFixture(toolchain, {
    source: new URL("./fixtures/go/old_target.go", import.meta.url),
    goDirective: "1.16",
  });
}

/**
 * A binary with dependencies and replacements, built with the local toolchain from
 * local modules only (no network): `example.com/greet v1.2.3 => ./greet` and
 * `example.com/shout v0.1.0 => example.com/shout v0.1.0 => ./shout`.
 */
export function buildDepsGoFixture(toolchain: string, stripped = false): GoFixture {
  const mod = (path: string, body: string) => ({
    [`${path}/go.mod`]: `module example.com/${path}\n\ngo 1.21\n`,
    [`${path}/${path}.go`]: `package ${path}\n\n${body}\n`,
  });
  return buildGoFixture(toolchain, {
    stripped,
    name: "deps_target",
    source: new URL("./fixtures/go/deps_target.go", import.meta.url),
    goModExtra: "require (\n\texample.com/greet v1.2.3\n\texample.com/shout v0.1.0\n)\n" +
      "replace example.com/greet v1.2.3 => ./greet\nreplace example.com/shout => ./shout\n",
    files: {
      ...mod("greet", 'func Hello() string { return "hello" }'),
      ...mod("shout", 'import "strings"\n\nfunc Up(s string) string { return strings.ToUpper(s) }'),
    },
  });
}

/** Runs `go <args>` with `toolchain` and returns stdout, or throws with its stderr. */
export function goTool(toolchain: string, args: string[]): string {
  const result = new Deno.Command("go", {
    args,
    env: { GOTOOLCHAIN: toolchain },
    cwd: fixtureCacheDir(),
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!result.success) {
    throw new Error(`go ${args.join(" ")} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  return new TextDecoder().decode(result.stdout);
}
