import assert from "node:assert/strict";
import { BpfObject } from "../../ffi/mod.ts";
import { CAPTURE_OBJECT } from "./instrumentation.ts";
import { TracedPids } from "./traced_pids.ts";

/** The bitmap word at `index`, as the kernel holds it. */
function word(obj: BpfObject, index: number): bigint {
  const value = new BigUint64Array(1);
  const found = obj.map("traced_bits").lookup(
    new Uint8Array(new Uint32Array([index]).buffer),
    new Uint8Array(value.buffer),
  );
  assert.ok(found, `word ${index} exists`);
  return value[0]!;
}

function flags(obj: BpfObject, pid: number): number | undefined {
  const value = new Uint32Array(1);
  const found = obj.map("traced_tgids").lookup(
    new Uint8Array(new Uint32Array([pid]).buffer),
    new Uint8Array(value.buffer),
  );
  return found ? value[0] : undefined;
}

Deno.test("a traced pid is a flags entry and a bit in user space's half of the bitmap", () => {
  const obj = BpfObject.open(CAPTURE_OBJECT);
  try {
    obj.load();
    // The bitmap covers every pid a 64-bit kernel can give (PID_MAX_LIMIT, 2^22), twice.
    assert.equal(obj.map("traced_bits").maxEntries, 2 * 65536);
    const pids = new TracedPids(obj.map("traced_tgids"), obj.map("traced_bits"));
    pids.set(100, 3);
    pids.set(101, 2);
    pids.set(4194303, 1); // the last pid there can be
    assert.equal(word(obj, 1), (1n << 36n) | (1n << 37n));
    assert.equal(word(obj, 65535), 1n << 63n);
    assert.equal(flags(obj, 100), 3);
    assert.equal(flags(obj, 101), 2);
    assert.equal(pids.delete(100), true);
    assert.equal(word(obj, 1), 1n << 37n);
    assert.equal(flags(obj, 100), undefined);
    assert.equal(pids.delete(100), false);
    assert.equal(pids.delete(101), true);
    assert.equal(word(obj, 1), 0n);
    // The fork program's half is untouched by user space.
    assert.equal(word(obj, 65536 + 1), 0n);
  } finally {
    obj.close();
  }
});
