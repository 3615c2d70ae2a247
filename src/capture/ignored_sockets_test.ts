import assert from "node:assert/strict";
import { IgnoredSockets } from "./ignored_sockets.ts";
import type { SocketKey } from "./events.ts";

const keyOf = (sock: bigint) => new Uint8Array(new BigUint64Array([sock]).buffer) as SocketKey;

function verdicts() {
  const written: bigint[] = [];
  const map = {
    update(key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>) {
      assert.deepEqual([...value], [1]);
      written.push(new DataView(key.buffer).getBigUint64(0, true));
    },
  };
  return { ignored: new IgnoredSockets(map), written };
}

Deno.test("ignored sockets: a given-up plain socket is written under its kernel key, once", () => {
  const { ignored, written } = verdicts();
  ignored.opened("sock:0xffff888104a3c123", keyOf(0xffff888104a3c123n));
  ignored.ignore("sock:0xffff888104a3c123");
  ignored.ignore("sock:0xffff888104a3c123");
  assert.deepEqual(written, [0xffff888104a3c123n]);
});

Deno.test("ignored sockets: TLS connections and closed sockets are not written", () => {
  const { ignored, written } = verdicts();
  ignored.ignore("0x55d0c0a1b2c0"); // an SSL*: its socket is already ignored by the kernel
  ignored.opened("sock:0xffff0001", keyOf(0xffff0001n));
  ignored.closed("sock:0xffff0001");
  ignored.ignore("sock:0xffff0001");
  assert.deepEqual(written, []);
});
