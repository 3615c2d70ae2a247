import assert from "node:assert/strict";
import { runIngest } from "../scripts/bench_ingest.ts";

// Real kernel records from a BPF producer (bpf/bench/ingest.bpf.c), read both ways: after
// the producer stops and the ring is drained, every record produced was read exactly once.
for (const kind of ["mmap", "callback"] as const) {
  Deno.test(`${kind} ring consumer reads every record a producer commits`, async () => {
    // Long enough for the Python producer to start even on a busy machine.
    const r = await runIngest(kind, 1.5, 1);
    assert.ok(r.totalConsumed > 500, `read ${r.totalConsumed}`);
    assert.equal(r.dropped, 0);
    assert.equal(r.totalConsumed, r.totalProduced);
  });
}
