/**
 * The floor of a benchmark: counting-only programs (`bpf/bench/floor.bpf.c`) attached where
 * upspan attaches its own — the syscall hooks and the same uprobe sites — so the target
 * pays for the traps and nothing else.
 *
 * @module
 */
import { BpfObject, type Link } from "../../ffi/mod.ts";
import { SYSCALL_TRACEPOINTS, type SyscallAttach } from "../../src/capture/mod.ts";
import { inspectProcess } from "../../src/discovery/mod.ts";
import { locateTls, OPENSSL } from "../../src/tls/mod.ts";

export const FLOOR_OBJECT = new URL("../../bpf/out/floor.bpf.o", import.meta.url).pathname;

/** A uprobe site: a file offset, at entry or on return, for one process or all (-1). */
export interface FloorSite {
  path: string;
  offset: number;
  retprobe?: boolean;
  pid?: number;
}

/** What to attach the counting programs to. */
export interface FloorOptions {
  /** The syscall hooks, as upspan would place them; default none. */
  syscalls?: SyscallAttach;
  /** Uprobe sites; default none. */
  uprobes?: readonly FloorSite[];
}

/**
 * Attached counting programs. `stop()` detaches them and returns the hits counted: all
 * program runs, and the uprobes' alone.
 */
export interface Floor {
  probes: number;
  stop(): Promise<{ all: number; uprobes: number }>;
}

/** Attaches the floor's programs. */
export function startFloor(opts: FloorOptions): Floor {
  const obj = BpfObject.open(FLOOR_OBJECT);
  obj.load();
  const links: Link[] = [];
  try {
    if (opts.syscalls === "socket") {
      for (
        const p of [
          "floor_sock_send",
          "floor_sock_recv",
          "floor_sock_state",
          "floor_sock_destroy",
        ]
      ) {
        links.push(obj.program(p).attach());
      }
    } else if (opts.syscalls === "tp_btf") {
      links.push(obj.program("floor_sys_enter").attach(), obj.program("floor_sys_exit").attach());
    } else if (opts.syscalls === "tracepoint") {
      const p = obj.program("floor_tracepoint");
      for (const tp of SYSCALL_TRACEPOINTS) links.push(p.attachTracepoint(tp.category, tp.name));
    }
    const up = obj.program("floor_uprobe");
    for (const s of opts.uprobes ?? []) {
      links.push(
        up.attachUprobe({ path: s.path, offset: s.offset, retprobe: s.retprobe, pid: s.pid }),
      );
    }
  } catch (e) {
    links.forEach((l) => l.close());
    obj.close();
    throw e;
  }
  return {
    probes: links.length,
    async stop() {
      const hits = { all: obj.map("hits").sumPerCpu(0), uprobes: obj.map("hits").sumPerCpu(1) };
      await Promise.all(links.map((l) => l.closeAsync()));
      obj.close();
      return hits;
    },
  };
}

/** The sites upspan probes in a process's OpenSSL, as the floor's sites for that process. */
export async function opensslSites(pid: number): Promise<FloorSite[]> {
  const proc = await inspectProcess(pid);
  if (!proc.ok) throw new Error(proc.message);
  const ssl = await locateTls(proc.process, [OPENSSL]);
  if (!ssl.ok) throw new Error(ssl.message);
  return ssl.sites.map((s) => ({
    path: s.file.hostPath,
    offset: s.offset,
    retprobe: s.retprobe,
    pid,
  }));
}
