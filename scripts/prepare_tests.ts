/**
 * Builds what the test suite compiles from source, one thing at a time, before the suite
 * runs its files in parallel: the OpenTelemetry Collector, the Go fixtures for each test
 * toolchain (fetched through GOTOOLCHAIN), with and without DWARF. Everything is cached
 * outside the repository, so a second run costs a few stat calls. `./upspan test` runs it.
 *
 * @module
 */
import { buildCollector } from "../tests/collector/collector.ts";
import { buildGoServer, GO_TEST_TOOLCHAINS } from "../tests/targets/go/build.ts";

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
