/**
 * Builds what the test suite compiles from source, one thing at a time, before the suite
 * runs its files in parallel (where a first-time build would slow the timing-sensitive
 * tests beside it): the OpenTelemetry Collector, the Go fixtures for each test toolchain
 * (fetched through GOTOOLCHAIN), with and without DWARF, the grpc-go fixture (its modules
 * from the Go module proxy), the Kubernetes manifest checker and a Python environment of
 * third-party clients and servers (from PyPI). Everything is
 * cached outside the repository (Go's build cache for the checker), so a second run costs a
 * few stat calls. `./upspan test` runs it.
 *
 * @module
 */
import { buildCollector } from "../tests/collector/collector.ts";
import { buildGoServer, GO_TEST_TOOLCHAINS } from "../tests/targets/go/build.ts";
import { buildGoFixture, buildOldGoFixture, TEST_TOOLCHAINS } from "../tests/go_fixtures.ts";
import { preparePythonEnv } from "../tests/targets/python_env.ts";
import { buildGrpcFixture, GRPC_TEST_BUILDS } from "../tests/targets/grpc_fixture.ts";

const t0 = performance.now();
const say = (what: string) =>
  console.error(`prepare: ${what} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

await buildCollector();
say("OpenTelemetry Collector built");
for (const toolchain of GO_TEST_TOOLCHAINS) {
  for (const stripped of [false, true]) {
    const built = await buildGoServer(toolchain, { stripped });
    if (!built.ok) throw new Error(built.error);
  }
  say(`Go fixture server built with ${toolchain}`);
}
for (const toolchain of TEST_TOOLCHAINS) {
  for (const stripped of [false, true]) {
    const built = buildGoFixture(toolchain, { stripped });
    if (!built.ok) throw new Error(built.error);
  }
}
buildOldGoFixture();
say("Go reader fixtures built");
for (const { toolchain, stripped } of GRPC_TEST_BUILDS) {
  await buildGrpcFixture(toolchain, { stripped });
}
say("grpc-go fixture built");
const checker = await new Deno.Command("go", {
  args: ["build", "-o", "/dev/null", "."],
  cwd: new URL("../deploy/validate", import.meta.url).pathname,
  stdout: "null",
  stderr: "piped",
}).output();
if (!checker.success) throw new Error(new TextDecoder().decode(checker.stderr));
say("Kubernetes manifest checker built");
await preparePythonEnv();
say("Python environment ready");
