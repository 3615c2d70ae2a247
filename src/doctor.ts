/**
 * `upspan doctor`: checks, before any probe is placed, that this machine and this process
 * have what tracing needs -- kernel version, BTF, uprobes, tracefs and its tracepoints,
 * privileges, libbpf and the built BPF object -- and says for each missing piece what to do.
 *
 * @module
 */
import { libbpf } from "../ffi/libbpf.ts";
import { SYSCALL_TRACEPOINTS, type SyscallAttach, syscallAttachOrder } from "./capture/syscalls.ts";
import {
  attachedTracepoints,
  CAP,
  KERNEL_BTF,
  mayLoadBpf,
  missingTracepoints,
  ownCapabilities,
  sizeOf,
  tracefsRoot,
} from "./preflight.ts";

export { capabilities } from "./preflight.ts";
import { injectionRefusal } from "./golang/injection.ts";

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** What was checked, e.g. `btf`. */
  check: string;
  ok: boolean;
  /** Whether tracing cannot work without it (else it only limits what can be traced). */
  required: boolean;
  /** What was found. */
  detail: string;
  /** What to do when it is not ok ("" when it is). */
  fix: string;
}

/** Options for {@link runChecks} and {@link runDoctor}. */
export interface DoctorOptions {
  /** The BPF object to look for. Default: `bpf/out/capture.bpf.o` in this checkout. */
  objectPath?: string;
  /** Where the report goes, line by line. Default: stdout. */
  print?: (line: string) => void;
}

/** Before a check's fix: a right arrow, escaped (see source_text_test.ts). */
const ARROW = "\u2192";

/** The built capture object, where `deno task build` puts it (trace.ts's CAPTURE_OBJECT). */
const DEFAULT_OBJECT = new URL("../bpf/out/capture.bpf.o", import.meta.url).pathname;

function ok(check: string, detail: string, required = true): DoctorCheck {
  return { check, ok: true, required, detail, fix: "" };
}

function bad(check: string, detail: string, fix: string, required = true): DoctorCheck {
  return { check, ok: false, required, detail, fix };
}

/** "6.1.0-18-amd64" -> [6, 1]; [0, 0] when it does not parse. */
export function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function checkKernel(): DoctorCheck {
  const release = Deno.osRelease();
  const [major, minor] = kernelVersion(release);
  return major > 5 || (major === 5 && minor >= 8)
    ? ok("kernel", `Linux ${release} (5.8 or newer needed)`)
    : bad(
      "kernel",
      `Linux ${release}: older than 5.8, which brought the BPF ring buffer and CAP_BPF`,
      "Run upspan on a Linux 5.8 or newer kernel.",
    );
}

async function checkBtf(): Promise<DoctorCheck> {
  const size = await sizeOf(KERNEL_BTF);
  if (size !== undefined) return ok("btf", `${KERNEL_BTF} (${(size / 1e6).toFixed(1)} MB)`);
  return bad(
    "btf",
    "/sys/kernel/btf/vmlinux is missing",
    "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.8 are); in a container, mount the host's /sys/kernel/btf.",
  );
}

async function checkUprobes(): Promise<DoctorCheck> {
  const type = await Deno.readTextFile("/sys/bus/event_source/devices/uprobe/type").catch(() =>
    undefined
  );
  return type !== undefined ? ok("uprobes", `uprobe perf event type ${type.trim()}`) : bad(
    "uprobes",
    "/sys/bus/event_source/devices/uprobe is missing",
    "Use a kernel built with CONFIG_UPROBE_EVENTS=y.",
  );
}

/**
 * Tracefs, the tracepoints the agent attaches through it, and how it would hook socket I/O:
 * three lines, as they have different fixes. Only the tracepoints the chosen method attaches
 * are checked (the process-life ones always; the per-syscall ones only for `tracepoint`).
 */
async function checkTracefs(): Promise<DoctorCheck[]> {
  const { root, denied } = await tracefsRoot();
  if (!root) {
    const known = await Deno.readTextFile("/proc/filesystems").then(
      (t) => /\ttracefs$/m.test(t),
      () => false,
    );
    const tracefs = denied
      ? bad(
        "tracefs",
        "tracefs is mounted but not readable by this user",
        "Run upspan as root; tracefs is readable by root only.",
      )
      : known
      ? bad(
        "tracefs",
        "tracefs is not mounted (the kernel supports it)",
        "Run `mount -t tracefs nodev /sys/kernel/tracing` as root (upspan does this itself when run as root); in a container, mount the host's /sys/kernel/tracing.",
      )
      : bad(
        "tracefs",
        "the kernel has no tracefs",
        "Use a kernel built with CONFIG_FTRACE=y and CONFIG_FTRACE_SYSCALLS=y.",
      );
    return [
      tracefs,
      bad("tracepoints", "not checked: tracefs is not available", "Fix tracefs first."),
      await checkSyscallAttach(false),
    ];
  }
  const perSyscall = (await missingTracepoints(root, SYSCALL_TRACEPOINTS)).length === 0;
  const attach = await checkSyscallAttach(perSyscall);
  const needed = attachedTracepoints(attach.method);
  const missing = await missingTracepoints(root, needed);
  const categories = [...new Set(needed.map((tp) => tp.category))].join(", ");
  return [
    ok("tracefs", `mounted at ${root}`),
    missing.length === 0
      ? ok("tracepoints", `${needed.length} tracepoints the agent attaches present (${categories})`)
      : bad(
        "tracepoints",
        `missing: ${missing.map((tp) => `${tp.category}/${tp.name}`).join(", ")}`,
        "Use a kernel built with CONFIG_FTRACE_SYSCALLS=y (syscalls:*) and tracepoints enabled.",
      ),
    attach,
  ];
}

/** The BTF raw tracepoints each BTF method attaches to (their `btf_trace_*` types). */
const BTF_TRACEPOINTS: Readonly<Record<"socket" | "tp_btf", readonly string[]>> = {
  socket: ["sock_send_length", "sock_recv_length", "inet_sock_set_state", "tcp_destroy_sock"],
  tp_btf: ["sys_enter", "sys_exit"],
};

const METHOD_COST: Readonly<Record<SyscallAttach, string>> = {
  socket: "only socket sends and receives run a program; other syscalls run none",
  tp_btf: "every syscall of every process runs a short program",
  tracepoint: "every read/write-family syscall of every process builds a trace record",
};

/**
 * The method the agent would hook socket reads and writes with: the first of `order` this
 * kernel has (`kernelBtf`: the strings of /sys/kernel/btf/vmlinux; `perSyscall`: whether
 * tracefs has the syscall events), or undefined.
 */
export function pickSyscallAttach(
  order: readonly SyscallAttach[],
  kernelBtf: string,
  perSyscall: boolean,
): SyscallAttach | undefined {
  return order.find((m) =>
    m === "tracepoint"
      ? perSyscall
      : BTF_TRACEPOINTS[m].every((tp) => kernelBtf.includes(`\0btf_trace_${tp}\0`))
  );
}

/** How the agent would hook socket I/O here, and what that costs untraced processes. */
async function checkSyscallAttach(
  perSyscall: boolean,
): Promise<DoctorCheck & { method?: SyscallAttach }> {
  const order = syscallAttachOrder(Deno.env.get("UPSPAN_SYSCALL_ATTACH"));
  if (typeof order === "string") {
    return bad("syscall attach", order, "Unset UPSPAN_SYSCALL_ATTACH or name a method.");
  }
  const btf = await Deno.readFile(KERNEL_BTF).then(
    (b) => new TextDecoder("latin1").decode(b),
    () => "",
  );
  const method = pickSyscallAttach(order, btf, perSyscall);
  return method ? { ...ok("syscall attach", `${method}: ${METHOD_COST[method]}`), method } : bad(
    "syscall attach",
    `none of ${order.join(", ")} is available`,
    "Use a kernel with BTF (CONFIG_DEBUG_INFO_BTF=y) or syscall tracepoints (CONFIG_FTRACE_SYSCALLS=y).",
  );
}

async function checkPrivileges(): Promise<DoctorCheck[]> {
  const { uid, caps } = await ownCapabilities();
  const names: [number, string][] = [
    [CAP.BPF, "CAP_BPF"],
    [CAP.PERFMON, "CAP_PERFMON"],
    [CAP.SYS_ADMIN, "CAP_SYS_ADMIN"],
    [CAP.SYS_PTRACE, "CAP_SYS_PTRACE"],
    [CAP.DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"],
  ];
  const held = names.filter(([n]) => caps.has(n)).map(([, s]) => s);
  const heldText = `uid ${uid}; ${
    held.length ? held.join(", ") : "none of the capabilities below"
  }`;
  const canLoad = mayLoadBpf(caps);
  const canRead = caps.has(CAP.SYS_PTRACE);
  return [
    canLoad ? ok("privileges", `may load BPF programs and attach probes (${heldText})`) : bad(
      "privileges",
      `may not load BPF programs (${heldText})`,
      "Run upspan as root (sudo), or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8): `sudo setpriv --inh-caps=+bpf,+perfmon --ambient-caps=+bpf,+perfmon ...`; in Kubernetes use deploy/daemonset.yaml.",
    ),
    canRead
      ? ok(
        "process access",
        "may read other users' /proc/PID/maps, exe and root (CAP_SYS_PTRACE)",
        false,
      )
      : bad(
        "process access",
        "only processes of this user can be inspected (no CAP_SYS_PTRACE)",
        "To trace other users' processes, run as root or grant CAP_SYS_PTRACE.",
        false,
      ),
  ];
}

async function checkLockdown(): Promise<DoctorCheck> {
  const text = await Deno.readTextFile("/sys/kernel/security/lockdown").catch(() => undefined);
  const mode = text && /\[(\w+)\]/.exec(text)?.[1];
  // securityfs unmounted hides the mode; a kernel may still be locked down (see dmesg).
  if (!mode) {
    return ok("lockdown", text === undefined ? "lockdown mode not readable" : "no kernel lockdown");
  }
  return mode === "confidentiality"
    ? bad(
      "lockdown",
      "kernel lockdown is in confidentiality mode, which forbids BPF reads of memory",
      "Boot with lockdown=integrity or none (or disable Secure Boot's lockdown) to capture TLS plaintext.",
    )
    : ok("lockdown", `kernel lockdown mode: ${mode}`);
}

async function checkInjection(): Promise<DoctorCheck> {
  const refused = await injectionRefusal();
  return refused === undefined
    ? ok(
      "injection",
      "bpf_probe_write_user is allowed: --inject-traceparent can write into Go requests",
      false,
    )
    : bad(
      "injection",
      `--inject-traceparent would be refused: ${refused}`,
      "Only for --inject-traceparent: run as root (CAP_SYS_ADMIN) on a kernel not in lockdown.",
      false,
    );
}

function checkLibbpf(): DoctorCheck {
  try {
    libbpf(); // every symbol upspan binds, so an old libbpf fails here, not mid-run
  } catch (e) {
    return bad(
      "libbpf",
      (e as Error).message.replace(/\s*\(install it:.*\)$/, ""),
      "Install libbpf 1.x: `apt-get install libbpf1` (Debian 12, Ubuntu 22.04 and newer).",
    );
  }
  let version = "";
  try {
    const lib = Deno.dlopen("libbpf.so.1", {
      libbpf_major_version: { parameters: [], result: "u32" },
      libbpf_minor_version: { parameters: [], result: "u32" },
    });
    version = ` ${lib.symbols.libbpf_major_version()}.${lib.symbols.libbpf_minor_version()}`;
    lib.close();
  } catch { /* the version is a nicety */ }
  return ok("libbpf", `libbpf.so.1${version} loads, with every function upspan calls`);
}

async function checkObject(path: string): Promise<DoctorCheck> {
  const size = await sizeOf(path);
  if (size !== undefined) return ok("bpf object", `${path} (${Math.round(size / 1024)} KiB)`);
  return bad(
    "bpf object",
    `${path} is not built`,
    "Run `deno task build` (needs clang, llvm, libbpf-dev and bpftool; `./upspan setup` installs them).",
  );
}

/**
 * Runs every check; never throws.
 *
 * @example
 * ```ts
 * const missing = (await runChecks()).filter((c) => c.required && !c.ok);
 * ```
 */
export async function runChecks(opts: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const tracefs = await checkTracefs();
  return [
    checkKernel(),
    await checkBtf(),
    await checkUprobes(),
    ...tracefs.map(({ method: _, ...check }: DoctorCheck & { method?: SyscallAttach }) => check),
    ...(await checkPrivileges()),
    await checkLockdown(),
    await checkInjection(),
    checkLibbpf(),
    await checkObject(opts.objectPath ?? DEFAULT_OBJECT),
  ];
}

/**
 * Prints the checks as a table -- status, check, what was found, then what to do for each
 * problem -- and returns the exit code: 0 when everything required is present, else 1.
 *
 * @example
 * ```ts
 * Deno.exit(await runDoctor());
 * ```
 */
export async function runDoctor(opts: DoctorOptions = {}): Promise<number> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const checks = await runChecks(opts);
  const width = Math.max(...checks.map((c) => c.check.length));
  for (const c of checks) {
    const status = c.ok ? "ok  " : c.required ? "FAIL" : "warn";
    print(`${status}  ${c.check.padEnd(width)}  ${c.detail}`);
    if (!c.ok) print(`      ${" ".repeat(width)}  ${ARROW} ${c.fix}`);
  }
  const failed = checks.filter((c) => c.required && !c.ok);
  print(
    failed.length === 0
      ? "upspan can trace on this machine."
      : `upspan cannot trace yet: ${failed.map((c) => c.check).join(", ")} ${
        failed.length === 1 ? "needs" : "need"
      } fixing (see ${ARROW} above).`,
  );
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await runDoctor());
