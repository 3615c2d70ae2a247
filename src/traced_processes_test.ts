import assert from "node:assert/strict";
import { BpfObject } from "../ffi/mod.ts";
import { CAPTURE_OBJECT, TracedPids } from "./capture/mod.ts";
import { ProbeSet } from "./probe_set.ts";
import { TracedProcesses } from "./traced_processes.ts";

Deno.test("a process whose loader is probed is looked at for OpenSSL once, not every second", async () => {
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn(); // no OpenSSL mapped
  const obj = BpfObject.open(CAPTURE_OBJECT);
  obj.load();
  const probes = new ProbeSet(obj);
  try {
    const traced = new TracedProcesses({
      traced: new TracedPids(obj.map("traced_tgids"), obj.map("traced_bits")),
      flags: 3,
      socketsFlag: 2,
      probes,
      log: () => {},
      pin: true,
    });
    const added = await traced.add(sleeper.pid);
    assert.ok(added.ok);
    assert.equal(added.tls, false);
    // The loader's probe is in place; a dlopen before it was is what the first look is for.
    assert.equal(probes.uprobes, 1);
    assert.deepEqual(traced.withoutTls, [sleeper.pid]);
    assert.equal(await traced.recheck(sleeper.pid), false);
    assert.deepEqual(traced.withoutTls, []);
  } finally {
    await probes.close();
    obj.close();
    sleeper.kill();
    await sleeper.status;
  }
});
