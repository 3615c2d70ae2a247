/**
 * Ingest benchmark: how many TLS data events per second the agent reads and decodes on
 * one core, with the zero-copy ring reader against libbpf's callback consumer (the
 * baseline), measured in the same run. A BPF producer (bpf/bench/ingest.bpf.c) emits
 * bursts of real-layout events from a process that calls getppid() in a loop.
 *
 * @module
 */
import { BpfObject, CallbackRing, type RecordHandler } from "../ffi/mod.ts";
import { captureDecoder } from "../src/capture/mod.ts";
import { CAPTURE_OBJECT } from "../src/capture/mod.ts";

const OBJECT = new URL("../bpf/out/ingest.bpf.o", import.meta.url).pathname;

/** Result of one consumer's run. */
export interface IngestResult {
  consumer: string;
  eventsPerSecond: number;
  produced: number;
  consumed: number;
  dropped: number;
  cpuNsPerEvent: number;
}

function cpuNs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 1e7; // utime + stime, clock ticks of 10 ms
}

function counts(obj: BpfObject): [number, number] {
  const m = obj.map("counts");
  return [m.sumPerCpu(0), m.sumPerCpu(1)];
}

/**
 * Runs one consumer for `seconds` against a fresh producer that makes `callsPerMs`
 * getppid() calls (32 events each) and then sleeps a millisecond, over and over. After the
 * window the producer is stopped and the ring drained, so `totalConsumed` and
 * `totalProduced` count the same records when none was dropped.
 */
export async function runIngest(
  kind: "mmap" | "callback",
  seconds: number,
  callsPerMs: number,
): Promise<IngestResult & { totalProduced: number; totalConsumed: number }> {
  // The producer emits the TLS capture's events: decode them by that object's BTF.
  const tls = BpfObject.open(CAPTURE_OBJECT);
  const decode = (() => {
    try {
      return captureDecoder(tls);
    } finally {
      tls.close();
    }
  })();
  const obj = BpfObject.open(OBJECT);
  let producer: Deno.ChildProcess | undefined;
  const closers: (() => void)[] = [];
  try {
    producer = new Deno.Command("python3", {
      args: [
        "-c",
        `import os, time\nwhile True:\n for _ in range(${callsPerMs}): os.getppid()\n time.sleep(0.001)`,
      ],
      stdout: "null",
    }).spawn();
    obj.setConstants({ producer_tgid: producer.pid, burst: 32 });
    obj.load();
    const events = obj.map("events");
    const reader = kind === "mmap" ? events.ringReader() : new CallbackRing(events.fd);
    closers.push(() => reader.close());
    const waiter = events.ringReader();
    closers.push(() => waiter.close());
    let consumed = 0;
    let bytes = 0;
    const handler: RecordHandler = (b, v, at, len) => {
      const e = decode(b, v, at, len);
      if (e?.type === "chunk") bytes += e.chunk.data.length;
      consumed++;
    };
    const link = obj.program("produce").attachTracepoint("syscalls", "sys_enter_getppid");
    closers.push(() => link.close());
    const cpu0 = cpuNs();
    const t0 = performance.now();
    const [p0, d0] = counts(obj);
    const c0 = consumed;
    while (performance.now() - t0 < seconds * 1000) {
      if (reader.consume(handler) === 0) await waiter.wait(10);
    }
    const elapsed = (performance.now() - t0) / 1000;
    const [p1, d1] = counts(obj);
    const cpu = cpuNs() - cpu0;
    const n = consumed - c0;
    producer.kill();
    await producer.status;
    producer = undefined;
    while (reader.consume(handler) > 0);
    const [produced] = counts(obj);
    if (bytes === 0) throw new Error("decoder saw no data");
    return {
      consumer: kind === "mmap" ? "zero-copy mmap reader" : "libbpf callback (baseline)",
      eventsPerSecond: n / elapsed,
      produced: p1 - p0,
      consumed: n,
      dropped: d1 - d0,
      cpuNsPerEvent: cpu / n,
      totalProduced: produced,
      totalConsumed: consumed,
    };
  } finally {
    for (const close of closers.reverse()) close();
    obj.close();
    if (producer) {
      producer.kill();
      await producer.status;
    }
  }
}

function report(r: IngestResult): string {
  return `${r.consumer.padEnd(28)} offered ${(r.produced / 1e6).toFixed(2).padStart(5)} M, read ` +
    `${(r.eventsPerSecond / 1e6).toFixed(2)} M events/s, ${
      r.cpuNsPerEvent.toFixed(0)
    } ns CPU/event, ` +
    `dropped ${r.dropped}`;
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 2);
  for (const callsPerMs of [16, 32, 64, 128]) {
    const base = await runIngest("callback", seconds, callsPerMs);
    const ours = await runIngest("mmap", seconds, callsPerMs);
    console.log(report(base));
    console.log(report(ours));
    console.log(
      `  ratio mmap/callback: ${(ours.eventsPerSecond / base.eventsPerSecond).toFixed(2)}x read, ` +
        `${(base.cpuNsPerEvent / ours.cpuNsPerEvent).toFixed(2)}x less CPU per event`,
    );
  }
}
