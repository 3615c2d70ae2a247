/**
 * What tracing needs from this machine and this process, checked once for the engine (which
 * stops with one sentence when something is missing) and for `upspan doctor` (which reports
 * each piece and what to do): privileges, BTF, the built object, tracefs and the tracepoints
 * the capture attaches.
 *
 * @module
 */
import { UpspanError } from "./errors.ts";
import {
  PROCESS_TRACEPOINTS,
  SYSCALL_TRACEPOINTS,
  type SyscallAttach,
  type Tracepoint,
} from "./capture/syscalls.ts";

/** Capability numbers (linux/capability.h). */
export const CAP = {
  DAC_READ_SEARCH: 2,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  PERFMON: 38,
  BPF: 39,
} as const;

/** Tracefs mount points, the modern one first. */
export const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** Where the kernel's BTF is. */
export const KERNEL_BTF = "/sys/kernel/btf/vmlinux";

/** The capability numbers set in a `CapEff:` hex mask. */
export function capabilities(mask: string): Set<number> {
  const bits = BigInt(`0x${/^[0-9a-f]+$/i.test(mask) ? mask : "0"}`);
  const out = new Set<number>();
  for (let i = 0; i < 64; i++) if ((bits >> BigInt(i)) & 1n) out.add(i);
  return out;
}

/** This process's user id and effective capabilities. */
export async function ownCapabilities(): Promise<{ uid: string; caps: Set<number> }> {
  const status = await Deno.readTextFile("/proc/self/status").catch(() => "");
  return {
    uid: /^Uid:\s*(\d+)/m.exec(status)?.[1] ?? "?",
    caps: capabilities(/^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? "0"),
  };
}

/** Whether these capabilities may load BPF programs and open perf events. */
export function mayLoadBpf(caps: Set<number>): boolean {
  return caps.has(CAP.SYS_ADMIN) || (caps.has(CAP.BPF) && caps.has(CAP.PERFMON));
}

/** A file's size, or undefined when it is not there. */
export function sizeOf(path: string): Promise<number | undefined> {
  return Deno.stat(path).then((s) => s.size, () => undefined);
}

/** The first tracefs mount whose `events` can be read; `denied` when one could not be. */
export async function tracefsRoot(): Promise<{ root?: string; denied: boolean }> {
  let denied = false;
  for (const dir of TRACEFS) {
    try {
      await Deno.stat(`${dir}/events`);
      return { root: dir, denied };
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied) denied = true;
    }
  }
  return { denied };
}

/** The tracefs tracepoints the capture attaches when it hooks syscalls by `method`. */
export function attachedTracepoints(method: SyscallAttach | undefined): Tracepoint[] {
  return [...PROCESS_TRACEPOINTS, ...(method === "tracepoint" ? SYSCALL_TRACEPOINTS : [])];
}

/** Those of `tracepoints` that tracefs at `root` does not have. */
export async function missingTracepoints(
  root: string,
  tracepoints: readonly Tracepoint[],
): Promise<Tracepoint[]> {
  const missing: Tracepoint[] = [];
  for (const tp of tracepoints) {
    const id = `${root}/events/${tp.category}/${tp.name}/id`;
    if (!(await Deno.stat(id).then(() => true, () => false))) missing.push(tp);
  }
  return missing;
}

/** Throws unless this process may load BPF programs. */
export async function requirePrivileges(): Promise<void> {
  if (mayLoadBpf((await ownCapabilities()).caps)) return;
  throw new UpspanError(
    "Loading eBPF probes needs root, or the capabilities CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8); run upspan with sudo.",
  );
}

/**
 * The engine's checks before it loads anything: BTF, the built object, tracefs (mounted
 * here when it is not, as root may). Throws one sentence for the first missing piece.
 */
export async function preflight(objectPath: string, log: (line: string) => void): Promise<void> {
  if (await sizeOf(KERNEL_BTF) === undefined) {
    throw new UpspanError(
      "This kernel has no BTF (/sys/kernel/btf/vmlinux is missing); upspan needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or newer).",
    );
  }
  if (await sizeOf(objectPath) === undefined) {
    throw new UpspanError(
      `The BPF object ${objectPath} is not built; run \`deno task build\` first.`,
    );
  }
  await ensureTracefs(log);
}

async function ensureTracefs(log: (line: string) => void): Promise<void> {
  const has = (p: string) => Deno.stat(p).then(() => true, () => false);
  for (const dir of TRACEFS) if (await has(`${dir}/events/syscalls`)) return;
  const out = await new Deno.Command("mount", {
    args: ["-t", "tracefs", "nodev", TRACEFS[0]!],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => undefined);
  if (out?.success && await has(`${TRACEFS[0]}/events/syscalls`)) {
    log(`mounted tracefs at ${TRACEFS[0]}`);
    return;
  }
  throw new UpspanError(
    "tracefs is not mounted and could not be mounted; run `mount -t tracefs nodev /sys/kernel/tracing` as root.",
  );
}
