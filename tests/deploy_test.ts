// The deployment files: deploy/daemonset.yaml checked against the Kubernetes API's own Go
// types (k8s.io/api, strict decoding: see deploy/validate) and for the rights the agent
// needs; deploy/Dockerfile checked for what the image must hold.
import assert from "node:assert/strict";
import { agentV8Flags } from "../scripts/bench/measure.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DEPLOY = `${ROOT}deploy`;
const CACHE = `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/upspan`;
const VALIDATOR = `${CACHE}/validate-manifests`;

let built: Promise<string> | undefined;

/** Builds deploy/validate once per run (Go; modules from the Go module proxy, cached). */
function validator(): Promise<string> {
  built ??= (async () => {
    await Deno.mkdir(CACHE, { recursive: true });
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("go", {
        args: ["build", "-o", VALIDATOR, "."],
        cwd: `${DEPLOY}/validate`,
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      throw new Error(`Cannot run "go" to build deploy/validate (Go 1.26 or newer): ${e}`);
    }
    if (!out.success) {
      throw new Error(`go build deploy/validate failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
    return VALIDATOR;
  })();
  return built;
}

async function validate(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(await validator(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("daemonset.yaml decodes strictly into the Kubernetes API types", async () => {
  const r = await validate(`${DEPLOY}/daemonset.yaml`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "ok v1 Namespace upspan\nok v1 ServiceAccount upspan\nok apps/v1 DaemonSet upspan\n",
  );
});

Deno.test("daemonset.yaml: host pids, the capabilities needed and no more, the mounts", async () => {
  const r = await validate("-json", `${DEPLOY}/daemonset.yaml`);
  assert.equal(r.code, 0, r.stderr);
  const objects = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const ds = objects.find((o) => o.spec?.template);
  assert.ok(ds, r.stdout);
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostPID, true);
  assert.equal(pod.hostNetwork, undefined, "the node's network is not needed");
  const [c] = pod.containers;
  assert.deepEqual(c.args.slice(0, 1), ["--all"]);
  const sc = c.securityContext;
  assert.equal(sc.privileged, false);
  assert.deepEqual(sc.capabilities.drop, ["ALL"]);
  assert.deepEqual(sc.capabilities.add, [
    "BPF",
    "PERFMON",
    "SYS_PTRACE",
    "DAC_READ_SEARCH",
    "CHECKPOINT_RESTORE",
  ]);
  assert.ok(!sc.capabilities.add.includes("SYS_ADMIN"));
  const mounts = Object.fromEntries(
    c.volumeMounts.map((m: { name: string; mountPath: string; readOnly?: boolean }) => [
      m.mountPath,
      m.readOnly,
    ]),
  );
  assert.deepEqual(mounts, { "/sys/kernel/tracing": true, "/sys/kernel/btf": true });
  const hostPaths = pod.volumes.map((v: { hostPath: { path: string } }) => v.hostPath.path);
  assert.deepEqual(hostPaths, ["/sys/kernel/tracing", "/sys/kernel/btf"]);
  // Every capability added is explained in the file's header.
  const text = await Deno.readTextFile(`${DEPLOY}/daemonset.yaml`);
  for (const cap of sc.capabilities.add) assert.match(text, new RegExp(`^#\\s+${cap}\\s+\\S`, "m"));
});

Deno.test("the validator refuses what the API server would", async (t) => {
  const good = await Deno.readTextFile(`${DEPLOY}/daemonset.yaml`);
  const dir = await Deno.makeTempDir();
  const cases: [string, (s: string) => string, RegExp][] = [
    [
      "a misspelt field",
      (s) => s.replace(/^(\s+)hostPID: true$/m, "$1hostPid: true"),
      /unknown field.*hostPid/,
    ],
    [
      "a value of the wrong type",
      (s) => s.replace("terminationGracePeriodSeconds: 15", 'terminationGracePeriodSeconds: "15"'),
      /terminationGracePeriodSeconds/,
    ],
    [
      "a capability with CAP_",
      (s) => s.replace("- PERFMON", "- CAP_PERFMON"),
      /"CAP_PERFMON" is not a capability name/,
    ],
    [
      "a selector that misses the template",
      (s) => s.replace(/(matchLabels:\n\s+app\.kubernetes\.io\/name:) upspan/, "$1 other"),
      /matchLabels must match/,
    ],
    [
      "a mount of no volume",
      (s) => s.replace("- name: btf\n          hostPath", "- name: bpf\n          hostPath"),
      /mounts volume "btf"/,
    ],
    [
      "an unknown kind",
      (s) => s.replace("kind: DaemonSet", "kind: DaemonSett"),
      /unknown kind "DaemonSett"/,
    ],
  ];
  try {
    for (const [name, mutate, want] of cases) {
      await t.step(name, async () => {
        const bad = mutate(good);
        assert.notEqual(bad, good, "the mutation applies");
        const path = `${dir}/bad.yaml`;
        await Deno.writeTextFile(path, bad);
        const r = await validate(path);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, want);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Dockerfile: Debian 12, the pinned Deno, libbpf1, the sources it copies exist", async () => {
  const text = await Deno.readTextFile(`${DEPLOY}/Dockerfile`);
  const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2 && froms.every((f) => f === "debian:12-slim"), String(froms));
  const pinned = /^DENO_VERSION=(\S+)$/m.exec(await Deno.readTextFile(`${ROOT}upspan`))?.[1];
  assert.match(text, new RegExp(`^ARG DENO_VERSION=${pinned!.replaceAll(".", "\\.")}$`, "m"));
  const final = text.slice(text.lastIndexOf("\nFROM "));
  assert.match(final, /install -y --no-install-recommends\s+\\?\s*libbpf1\b/);
  assert.match(final, /^ENTRYPOINT \["deno", "run", "-A", "mod\.ts"\]$/m);
  assert.match(final, /^CMD \["--all"/m);
  // The agent's V8 flags, as ./upspan gives them.
  assert.equal(/^ {4}DENO_V8_FLAGS=(\S+) \\$/m.exec(final)?.[1], agentV8Flags());
  // Sources copied from the build context (not from another stage) are in the repository.
  for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const src of m[1]!.split(" ")) {
      if (src.includes("[")) continue; // optional, e.g. deno.loc[k]
      await Deno.stat(`${ROOT}${src}`); // throws NotFound, naming the path
    }
  }
  // Every Debian package it installs is a Debian 12 package name.
  const packages = new Set(
    [...text.matchAll(/--no-install-recommends\s+\\?\s*([^&]+?)\s*\\?\s*&&/g)]
      .flatMap((m) => m[1]!.split(/[\s\\]+/).filter((p) => p !== "")),
  );
  assert.ok(packages.has("libbpf1") && packages.has("clang"), [...packages].join(" "));
  const out = await new Deno.Command("apt-cache", {
    args: ["policy", ...packages],
    stdout: "piped",
  })
    .output();
  // One section per package that apt knows: "name:\n  Installed: …\n  Candidate: …".
  const known = new Set(
    [
      ...new TextDecoder().decode(out.stdout).matchAll(
        /^(\S+):\n(?:\s+Installed:.*\n)?\s+Candidate: (?!\(none\))/gm,
      ),
    ]
      .map((m) => m[1]),
  );
  assert.deepEqual([...packages].filter((p) => !known.has(p)), [], "Debian 12 packages");
});
