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
