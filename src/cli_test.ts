import assert from "node:assert/strict";
import { parseCli } from "./cli.ts";
import { UpspanError } from "./errors.ts";

Deno.test("parseCli: defaults and every option", () => {
  assert.deepEqual(parseCli(["--pid", "12"]), {
    pids: [12],
    format: "pretty",
    dump: false,
    hex: false,
    captureBytes: 16384,
    durationSeconds: undefined,
    debug: false,
    help: false,
  });
  const all = parseCli([
    "--pid=1",
    "--pid",
    "2",
    "--format",
    "json",
    "--dump",
    "--hex",
    "--capture-bytes",
    "65536",
    "--duration",
    "0.5",
    "--debug",
  ]);
  assert.deepEqual(all.pids, [1, 2]);
  assert.equal(all.format, "json");
  assert.equal(all.captureBytes, 65536);
  assert.equal(all.durationSeconds, 0.5);
  assert.ok(all.dump && all.hex && all.debug);
  assert.equal(parseCli(["-h"]).help, true);
});

Deno.test("parseCli: usage mistakes are UpspanErrors with exit code 2", () => {
  for (
    const args of [
      [],
      ["--pid", "0"],
      ["--pid", "1.5"],
      ["--pid", "99999999"],
      ["--pid", "1", "--capture-bytes", "70000"],
      ["--pid", "1", "--duration", "0"],
      ["--pid", "1", "--format", "yaml"],
      ["--pid", "1", "extra"],
      ["--nope"],
    ]
  ) {
    assert.throws(
      () => parseCli(args),
      (e) => e instanceof UpspanError && e.exitCode === 2 && /[.]$/.test(e.message),
      args.join(" "),
    );
  }
});
