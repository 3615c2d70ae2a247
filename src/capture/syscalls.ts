/**
 * The syscall tracepoints of the capture object: the read and write families at entry
 * (arguments) and exit (bytes moved), and close. They carry plain sockets' bytes and, inside
 * an SSL call, name the socket under the SSL*.
 *
 * @module
 */

/** A tracepoint to attach a program of the capture object to. */
export interface Tracepoint {
  program: string;
  category: string;
  name: string;
}

const IO_SYSCALLS = [
  "read",
  "recvfrom",
  "readv",
  "recvmsg",
  "write",
  "sendto",
  "writev",
  "sendmsg",
  "sendfile64",
] as const;

/** Every syscall tracepoint the capture object has a program for. */
export const SYSCALL_TRACEPOINTS: readonly Tracepoint[] = [
  ...IO_SYSCALLS.flatMap((name) =>
    (["enter", "exit"] as const).map((at) => ({
      program: `sys_${at}_${name}`,
      category: "syscalls",
      name: `sys_${at}_${name}`,
    }))
  ),
  { program: "sys_enter_close", category: "syscalls", name: "sys_enter_close" },
];

/** Process life tracepoints: execs (new processes to look at) and traced processes' ends. */
export const PROCESS_TRACEPOINTS: readonly Tracepoint[] = [
  { program: "sched_process_exec", category: "sched", name: "sched_process_exec" },
  { program: "sched_process_exit", category: "sched", name: "sched_process_exit" },
];

/** Raw tracepoint programs of process life, attached where their sections say: forks. */
export const PROCESS_PROGRAMS: readonly string[] = ["sched_process_fork"];

/**
 * How the capture hooks the read, write and close syscalls, cheapest for the host first:
 * - `socket`: the socket layer's tracepoints (BTF raw: `sock_send_length`,
 *   `sock_recv_length`, `inet_sock_set_state`, `tcp_destroy_sock`), run once per socket send or receive with
 *   the syscall's arguments read from the task's registers. No syscall tracepoint is on, so
 *   no process's syscalls leave the kernel's fast path and file or pipe I/O runs nothing.
 * - `tp_btf`: two programs on the BTF raw tracepoints `sys_enter`/`sys_exit`, which every
 *   syscall of every process passes; they compare the syscall number before any map lookup.
 * - `tracepoint`: one program per syscall tracepoint (`syscalls:sys_enter_read`, ...); the
 *   kernel builds a trace record per call before the program runs. Works wherever tracefs
 *   has the syscall events (no BTF raw tracepoints needed).
 * (fentry on the syscall functions is refused on some kernels and kprobes may be compiled
 * out; either would be one more method here.)
 */
export type SyscallAttach = "socket" | "tp_btf" | "tracepoint";

const METHODS: readonly SyscallAttach[] = ["socket", "tp_btf", "tracepoint"];

/** The programs of each method. */
export const SYSCALL_PROGRAMS: Readonly<Record<SyscallAttach, readonly string[]>> = {
  socket: ["sock_send", "sock_recv", "sock_state_change", "sock_destroy"],
  tp_btf: ["raw_sys_enter", "raw_sys_exit"],
  tracepoint: SYSCALL_TRACEPOINTS.map((tp) => tp.program),
};

/**
 * The methods to try, in order: the one named (by the option or `UPSPAN_SYSCALL_ATTACH`),
 * else all, cheapest first. A string when the name is not a method.
 */
export function syscallAttachOrder(named: string | undefined): SyscallAttach[] | string {
  if (named === undefined || named === "" || named === "auto") return [...METHODS];
  const method = METHODS.find((m) => m === named);
  if (method) return [method];
  return `UPSPAN_SYSCALL_ATTACH=${named} is not a syscall attach method; use ${
    METHODS.join(", ")
  } or auto.`;
}

/** Where the chosen programs go: the agent's probe set. */
export interface SyscallHooks {
  attachTracepoint(program: string, category: string, name: string): void;
  attachProgram(program: string): void;
  detachProgram(program: string): void;
}

/**
 * Attaches `method`'s programs; one that fails halfway is detached again before the error is
 * thrown, so that the caller can try another method.
 */
export function attachSyscalls(hooks: SyscallHooks, method: SyscallAttach): void {
  if (method === "tracepoint") {
    for (const tp of SYSCALL_TRACEPOINTS) hooks.attachTracepoint(tp.program, tp.category, tp.name);
    return;
  }
  const done: string[] = [];
  try {
    for (const program of SYSCALL_PROGRAMS[method]) {
      hooks.attachProgram(program);
      done.push(program);
    }
  } catch (e) {
    for (const program of done) hooks.detachProgram(program);
    throw e;
  }
}
