import assert from "node:assert/strict";
import { encodeU32Struct, enumValue, fieldOf, readCounters } from "./struct.ts";
import type { StructLayout } from "./btf.ts";

const layout: StructLayout = {
  name: "offs",
  size: 12,
  fields: { a: { offset: 0, size: 4 }, b: { offset: 4, size: 4 }, c: { offset: 8, size: 4 } },
};

Deno.test("encodeU32Struct: values at their fields, little-endian; the rest hold `missing`", () => {
  const words = (bytes: Uint8Array<ArrayBuffer>) => [...new Uint32Array(bytes.buffer)];
  assert.deepEqual(words(encodeU32Struct(layout, { b: 0x01020304 })), [0, 0x01020304, 0]);
  assert.deepEqual(words(encodeU32Struct(layout, { a: 7 }, 0xffffffff)), [
    7,
    0xffffffff,
    0xffffffff,
  ]);
  assert.throws(() => encodeU32Struct(layout, { d: 1 }), /struct offs has no 4-byte field "d"/);
});

Deno.test("fieldOf and enumValue name what the object lacks", () => {
  assert.equal(fieldOf(layout, "c").offset, 8);
  assert.throws(() => fieldOf(layout, "z"), /struct offs has no field "z"/);
  assert.equal(enumValue({ X: 3 }, "X"), 3);
  assert.throws(() => enumValue({}, "Y"), /BTF has no Y/);
});

Deno.test("readCounters: each name by its enumerator's index; 0 for one the object lacks", () => {
  const obj = {
    structLayout: () => layout,
    enumValues: () => ({ S_HITS: 0, S_DROPS: 1 }),
    map: (name: string) => {
      assert.equal(name, "stats");
      return { sumPerCpu: (i: number) => (i < 0 ? 0 : [10, 2][i]!) };
    },
  };
  assert.deepEqual(
    readCounters(obj, "stats", "s_stat", { hits: "S_HITS", drops: "S_DROPS", gone: "S_GONE" }),
    { hits: 10, drops: 2, gone: 0 },
  );
});
