import assert from "node:assert/strict";
import { BpfObject, WakeupSet } from "./mod.ts";

const OBJECT = new URL("../bpf/out/ingest.bpf.o", import.meta.url).pathname;

// A real BPF producer (bpf/bench/ingest.bpf.c, on a process's getppid calls) commits with the
// kernel's default wake-up: only a record that follows an empty ring (the reader caught up)
// wakes the reader. Unread records alone must not end the wait (edge-triggered).
Deno.test("WakeupSet: a ring's wake-up ends the wait, unread records do not", async () => {
  const producer = new Deno.Command("python3", {
    args: ["-c", "import os, time\nwhile True:\n os.getppid()\n time.sleep(0.001)"],
    stdout: "null",
  }).spawn();
  const obj = BpfObject.open(OBJECT);
  const set = new WakeupSet();
  try {
    obj.setConstants({ producer_tgid: producer.pid, burst: 1 });
    obj.load();
    const reader = obj.map("events").ringReader();
    set.add(reader.fd);
    set.add(reader.fd); // once only
    const link = obj.program("produce").attachTracepoint("syscalls", "sys_enter_getppid");
    try {
      assert.equal(await set.wait(10_000), true, "the first record wakes the reader");
      while (reader.pending === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await set.wait(200), false, "records left unread are no wake-up");
      assert.ok(reader.pending > 0);
      // Caught up for certain: a record committed while the reader was still behind woke
      // nobody, and the reader only catches up by reading it too.
      do reader.consume(() => {}, Infinity); while (reader.pending > 0);
      assert.equal(await set.wait(10_000), true, "a record after the reader caught up wakes it");
    } finally {
      link.close();
      reader.close();
    }
  } finally {
    set.close();
    obj.close();
    producer.kill();
    await producer.status;
  }
});
