import assert from "node:assert/strict";
import {
  attachSyscalls,
  SYSCALL_PROGRAMS,
  SYSCALL_TRACEPOINTS,
  type SyscallHooks,
} from "./syscalls.ts";

/** Hooks that record what is attached and refuse `refuse`. */
function hooks(refuse?: string): SyscallHooks & { attached: Set<string>; detached: string[] } {
  const attached = new Set<string>();
  const detached: string[] = [];
  const attach = (program: string) => {
    if (program === refuse) throw new Error(`cannot attach ${program}`);
    attached.add(program);
  };
  return {
    attached,
    detached,
    attachTracepoint: (program) => attach(program),
    attachProgram: attach,
    detachProgram: (program) => {
      detached.push(program);
      attached.delete(program);
    },
  };
}

Deno.test("attachSyscalls attaches one method's programs and no other's", () => {
  for (const method of ["socket", "tp_btf"] as const) {
    const h = hooks();
    attachSyscalls(h, method);
    assert.deepEqual([...h.attached], SYSCALL_PROGRAMS[method]);
  }
  const h = hooks();
  attachSyscalls(h, "tracepoint");
  assert.deepEqual([...h.attached], SYSCALL_TRACEPOINTS.map((tp) => tp.program));
});

Deno.test("a method refused halfway is detached again before the error is thrown", () => {
  const [first, second] = SYSCALL_PROGRAMS.socket;
  const h = hooks(second);
  assert.throws(() => attachSyscalls(h, "socket"), new RegExp(`cannot attach ${second}`));
  assert.deepEqual(h.detached, [first]);
  assert.deepEqual([...h.attached], []);
});
