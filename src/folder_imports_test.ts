/**
 * The folders of src/ (and ffi/) as layers, checked against the imports the sources make:
 * each folder imports only folders of lower layers, so there is no circle between folders and
 * no import runs back up the flow (a stage reaching into what is built on it). The table is
 * the flow written down — discovery → symbols → instrumentations → ffi → bpf → spans →
 * export, with the engine above and the shared model below: a new folder gets its layer here.
 */
import assert from "node:assert/strict";

/** Lowest first. A folder is `src/x` (a folder or a lone file `src/x.ts`) or `ffi`. */
const LAYERS: readonly (readonly string[])[] = [
  ["ffi", "src/model", "src/errors", "src/command_line", "src/prng"],
  ["src/streams", "src/context", "src/discovery", "src/sampling"],
  ["src/symbols", "src/protocols", "src/resource"],
  ["src/tls", "src/spans", "src/export"],
  ["src/probe_set", "src/span_pipeline"],
  ["src/instrumentation", "src/capture"],
  ["src/golang", "src/sqllib", "src/traced_processes", "src/preflight"],
  ["src/warm_up"],
  ["src/trace", "src/doctor"],
  ["src/selector_watch"],
  ["src/cli"],
];

/** Only these know FFI (DESIGN: "Nothing else knows FFI"); an exporter never touches a probe. */
const MAY_USE_FFI = new Set([
  "src/discovery",
  "src/capture",
  "src/golang",
  "src/sqllib",
  "src/instrumentation",
  "src/probe_set",
  "src/traced_processes",
  "src/trace",
  "src/doctor",
  "src/cli",
]);

const ROOT = new URL("../", import.meta.url).pathname;

function folderOf(path: string): string {
  const parts = path.slice(ROOT.length).split("/");
  if (parts[0] !== "src") return parts[0]!;
  return `src/${parts.length > 2 ? parts[1] : parts[1]!.replace(/\.ts$/, "")}`;
}

/** Folder → the folders its production sources import (tests, benches and fixtures aside). */
async function folderImports(): Promise<Map<string, Map<string, string>>> {
  const edges = new Map<string, Map<string, string>>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "testdata") await walk(path);
      if (!e.isFile || !e.name.endsWith(".ts") || /(_test|_bench)\.ts$|^_test/.test(e.name)) {
        continue;
      }
      const text = await Deno.readTextFile(path);
      const specs = [
        ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms),
        ...text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g),
      ];
      for (const [, spec] of specs) {
        const target = new URL(spec!, `file://${path}`).pathname;
        if (!target.endsWith(".ts")) continue; // deno.json, testdata
        const from = folderOf(path), to = folderOf(target);
        if (from === to) continue;
        const out = edges.get(from) ?? edges.set(from, new Map()).get(from)!;
        out.set(to, path.slice(ROOT.length));
      }
    }
  };
  await walk(`${ROOT}src`);
  await walk(`${ROOT}ffi`);
  return edges;
}

const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

/** What breaks the rules in `edges`: one line each. */
function violations(edges: Map<string, Map<string, string>>): string[] {
  const wrong: string[] = [];
  for (const [from, tos] of edges) {
    const a = layerOf.get(from);
    if (a === undefined) wrong.push(`${from} has no layer in LAYERS`);
    for (const [to, where] of tos) {
      const b = layerOf.get(to);
      if (b === undefined) wrong.push(`${to} has no layer in LAYERS`);
      else if (a !== undefined && b >= a) {
        wrong.push(`${where} imports ${to}: layer ${b}, not below ${from}'s ${a}`);
      }
      if (to === "ffi" && !MAY_USE_FFI.has(from)) wrong.push(`${where} imports ffi/`);
    }
  }
  return [...new Set(wrong)];
}

Deno.test("folder imports: every folder has a layer; each imports only lower layers", async () => {
  assert.deepEqual(violations(await folderImports()), []);
});

Deno.test("folder imports: no circle between folders", async () => {
  const edges = await folderImports();
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      circles.push([...path.slice(path.indexOf(f)), f].join(" → "));
      return;
    }
    state.set(f, "open");
    for (const to of edges.get(f)?.keys() ?? []) visit(to, [...path, f]);
    state.set(f, "done");
  };
  for (const f of edges.keys()) visit(f, []);
  assert.deepEqual(circles, []);
});

Deno.test("folder imports: the check sees an import that runs back up", () => {
  const made = (from: string, to: string) => new Map([[from, new Map([[to, `${from}/x.ts`]])]]);
  // The span stage reaching into the capture that feeds it; an exporter touching FFI.
  assert.match(violations(made("src/spans", "src/capture"))[0]!, /imports src\/capture: layer/);
  assert.deepEqual(violations(made("src/export", "ffi")), ["src/export/x.ts imports ffi/"]);
  assert.match(violations(made("src/newthing", "src/model"))[0]!, /no layer/);
  assert.deepEqual(violations(made("src/capture", "src/spans")), []);
});
