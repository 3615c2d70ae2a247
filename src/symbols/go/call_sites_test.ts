import assert from "node:assert/strict";
import { callSites, nextEmulated } from "./call_sites.ts";

const bytes = (hex: string) => new Uint8Array(hex.split(" ").map((h) => parseInt(h, 16)));

Deno.test("nextEmulated: the first emulated instruction on the straight line after a call", () => {
  // Go 1.26's (*conn).serve after ServeHTTP: mov [rsp+0x210], 0; mov rdx, [rsp+0x1b8];
  // mov rdx, [rdx+0x20]; mov rsi, [rdx]; call rsi; mov rax, [rsp+0x460]; call rel32.
  const serve = bytes(
    "48 c7 84 24 10 02 00 00 00 00 00 00 48 8b 94 24 b8 01 00 00 48 8b 52 20 48 8b 32 " +
      "ff d6 48 8b 84 24 60 04 00 00 e8 a6 89 ff ff",
  );
  assert.equal(nextEmulated(serve, 0), 37);
  assert.equal(nextEmulated(bytes("48 89 c3 74 05"), 0), 3, "a conditional jump fires either way");
  assert.equal(nextEmulated(bytes("48 83 c4 20 5d c3 55"), 0), undefined, "returns first");
  assert.equal(nextEmulated(bytes("48 89 c3 ff e0 55"), 0), undefined, "jumps away first");
  assert.equal(nextEmulated(bytes("48 89 c3"), 0), undefined, "runs out");
});

Deno.test("callSites: direct calls of one target, by their displacement", () => {
  // At entry 0x1000: call 0x2000 (e8 fb 0f 00 00), nop, call 0x3000, call 0x2000.
  const code = bytes("e8 fb 0f 00 00 90 e8 f5 1f 00 00 e8 f0 0f 00 00");
  assert.deepEqual(callSites(code, 0x1000, 0x2000), [0, 11]);
  assert.deepEqual(callSites(code, 0x1000, 0x4000), []);
});
