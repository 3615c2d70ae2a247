import assert from "node:assert/strict";
import { runIngest } from "../scripts/bench_ingest.ts";

// Real kernel records from a BPF producer (bpf/bench/ingest.bpf.c), read both ways.
for (const kind of ["mmap", "callback"] as const) {
  Deno.test(`${kind} ring consumer reads and decodes every record a producer commits`, async () => {
    const r = await runIngest(kind, 0.5, 2);
    assert.ok(r.consumed > 1000, `read ${r.consumed}`);
    assert.equal(r.dropped, 0);
    // The counting window's edges cut through a few producer bursts (64 records each).
    assert.ok(Math.abs(r.consumed - r.produced) <= 512, JSON.stringify(r));
  });
}
