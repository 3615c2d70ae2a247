import assert from "node:assert/strict";
import { DynamicTable, type Lookup } from "./header_table.ts";
import { mulberry32 } from "../../prng.ts";

/** RFC 7541 §4 as plainly as it can be written: an array, newest first. */
class Reference {
  entries: { name: string | undefined; value: string; size: number }[] = [];
  size = 0;
  complete = true;
  constructor(readonly limit: number, public max = 4096) {}
  lookup(index: number): Lookup | "static" {
    if (index <= 0) return "invalid";
    if (index <= 61) return "static";
    const e = this.entries[index - 62];
    return e ? { name: e.name, value: e.value } : this.complete ? "invalid" : "unknown";
  }
  insert(name: string | undefined, value: string): void {
    const size = (name?.length ?? 0) + value.length + 32;
    if (size > Math.min(this.max, this.limit)) {
      const fits = size <= this.max;
      this.entries = [];
      this.size = 0;
      if (fits) this.complete = false;
      return;
    }
    this.evict(size);
    this.entries.unshift({ name, value, size });
    this.size += size;
  }
  resize(max: number): void {
    this.max = max;
    if (max === 0) this.complete = true;
    this.evict(0);
  }
  lose(): void {
    this.entries = [];
    this.size = 0;
    this.complete = false;
  }
  evict(room: number): void {
    while (this.size + room > Math.min(this.max, this.limit) && this.entries.length > 0) {
      this.size -= this.entries.pop()!.size;
      if (this.max > this.limit) this.complete = false;
    }
  }
}

function plain(l: Lookup): unknown {
  return typeof l === "string" ? l : { name: l.name, value: l.value };
}

Deno.test("dynamic table: random inserts, resizes and losses agree with RFC 7541's plain model", () => {
  for (const seed of [1, 2, 3]) {
    const next = mulberry32(seed);
    const rng = { int: (n: number) => Math.floor(next() * n) };
    const limit = [512, 4096, 65536][seed - 1]!;
    const t = new DynamicTable(limit), ref = new Reference(limit);
    for (let op = 0; op < 20_000; op++) {
      const r = rng.int(1000);
      if (r < 900) {
        const name = rng.int(10) === 0 ? undefined : `n${rng.int(50)}`;
        const value = "v".repeat(rng.int(r < 890 ? 40 : 5000));
        t.insert(name, value);
        ref.insert(name, value);
      } else if (r < 995) {
        const max = [0, 256, 4096, 100_000][rng.int(4)]!;
        t.resize(max);
        ref.resize(max);
      } else {
        t.lose();
        ref.lose();
      }
      assert.equal(t.length, ref.entries.length, `seed ${seed}, op ${op}: length`);
      assert.equal(t.size, ref.size);
      assert.equal(t.complete, ref.complete);
      for (const index of [62, 63, 61 + t.length, 62 + t.length, 62 + rng.int(200)]) {
        const want = ref.lookup(index);
        if (want !== "static") assert.deepEqual(plain(t.lookup(index)), want, `index ${index}`);
      }
    }
  }
});
