/**
 * Measures grpc-go's struct offsets the handler probe needs (`src/golang/grpc_offsets.ts`),
 * per grpc-go version: `deno task offsets:grpc [v1.83.2 …]`. For each version it builds the
 * gRPC fixture (`tests/targets/go/grpc/`) against it, with DWARF, in a temporary copy, and
 * prints the offsets upspan's own DWARF reader finds, as the table's entries. Modules come
 * through the Go module proxy on first use.
 *
 * @module
 */
import { locateGo } from "../src/golang/locate.ts";
import { GRPC_OFFSETS, type GrpcOffsetField } from "../src/golang/grpc_offsets.ts";

const FIXTURE = new URL("../tests/targets/go/grpc/", import.meta.url);
const FIELDS = Object.keys(Object.values(GRPC_OFFSETS)[0]!) as GrpcOffsetField[];

async function go(args: string[], cwd: string): Promise<void> {
  const r = await new Deno.Command("go", {
    args,
    cwd,
    env: { GOFLAGS: "-mod=mod" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`go ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

const versions = Deno.args.length > 0 ? Deno.args : Object.keys(GRPC_OFFSETS);
for (const version of versions) {
  const dir = await Deno.makeTempDir({ prefix: "upspan-grpc-offsets-" });
  try {
    for (const f of ["main.go", "go.mod", "go.sum"]) {
      await Deno.copyFile(new URL(f, FIXTURE), `${dir}/${f}`);
    }
    await go(["get", `google.golang.org/grpc@${version}`], dir);
    await go(["build", "-o", "fixture", "."], dir);
    const r = await locateGo({ path: `${dir}/fixture` });
    if (!r.ok) throw new Error(r.error);
    if (r.location.offsetsSource !== "dwarf" || r.location.grpc !== version) {
      throw new Error(`${version}: the build has no DWARF or links ${r.location.grpc}`);
    }
    const offsets = Object.fromEntries(FIELDS.map((f) => [f, r.location.offsets[f]]));
    console.log(`"${version}": ${JSON.stringify(offsets)},`);
  } catch (e) {
    console.log(`${version}: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
