/**
 * The raw libbpf.so.1 binding and the one rule for calling it: every pointer it returns is
 * checked, and a failure becomes a {@link BpfError} naming the operation and errno's text.
 * A NULL handed back into libbpf would crash the agent silently.
 *
 * @module
 */
import { errno, formatVaList, libc, strerror } from "./libc.ts";

/** Thrown when a libbpf or kernel operation fails. */
export class BpfError extends Error {
  /** What was being done, e.g. `load BPF object "tls.bpf.o"`. */
  readonly operation: string;
  /** The positive errno value. */
  readonly errno: number;
  constructor(operation: string, code: number, hint = "") {
    super(`Cannot ${operation}: ${strerror(code)}${hint ? ` (${hint})` : ""}`);
    this.name = "BpfError";
    this.operation = operation;
    this.errno = Math.abs(code);
  }
}

function open(): Deno.DynamicLibrary<typeof symbols> {
  try {
    return Deno.dlopen("libbpf.so.1", symbols);
  } catch (e) {
    throw new Error(
      `Cannot load libbpf.so.1: ${(e as Error).message} (install it: apt-get install libbpf1)`,
    );
  }
}

const symbols = {
  libbpf_set_print: { parameters: ["function"], result: "pointer" },
  bpf_object__open_file: { parameters: ["buffer", "pointer"], result: "pointer" },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  // The same call off the main thread, which meanwhile makes no libbpf call on the object.
  bpf_object__load_async: {
    name: "bpf_object__load",
    parameters: ["pointer"],
    result: "i32",
    nonblocking: true,
  },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  bpf_object__btf: { parameters: ["pointer"], result: "pointer" },
  bpf_object__find_program_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_object__find_map_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_object__next_map: { parameters: ["pointer", "pointer"], result: "pointer" },
  bpf_map__name: { parameters: ["pointer"], result: "pointer" },
  bpf_map__fd: { parameters: ["pointer"], result: "i32" },
  bpf_map__max_entries: { parameters: ["pointer"], result: "u32" },
  bpf_map__initial_value: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_program__name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__attach_uprobe_opts: {
    parameters: ["pointer", "i32", "buffer", "usize", "buffer"],
    result: "pointer",
  },
  bpf_program__attach_tracepoint: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "pointer",
  },
  // Attaches as the program's section says (tp_btf/NAME: the BTF raw tracepoint NAME).
  bpf_program__attach: { parameters: ["pointer"], result: "pointer" },
  bpf_program__set_autoload: { parameters: ["pointer", "bool"], result: "i32" },
  bpf_link__destroy: { parameters: ["pointer"], result: "i32" },
  // The same call off the main thread: detaching a probe waits for the kernel's RCU grace
  // period (~90 ms here), so detaching a dozen one after another takes a second.
  bpf_link__destroy_async: {
    name: "bpf_link__destroy",
    parameters: ["pointer"],
    result: "i32",
    nonblocking: true,
  },
  bpf_map_update_elem: { parameters: ["i32", "buffer", "buffer", "u64"], result: "i32" },
  bpf_map_lookup_elem: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_map_delete_elem: { parameters: ["i32", "buffer"], result: "i32" },
  btf__find_by_name_kind: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  btf__type_by_id: { parameters: ["pointer", "u32"], result: "pointer" },
  btf__name_by_offset: { parameters: ["pointer", "u32"], result: "pointer" },
  btf__resolve_size: { parameters: ["pointer", "u32"], result: "i64" },
  libbpf_num_possible_cpus: { parameters: [], result: "i32" },
  ring_buffer__new: { parameters: ["i32", "function", "pointer", "pointer"], result: "pointer" },
  ring_buffer__consume: { parameters: ["pointer"], result: "i32" },
  ring_buffer__free: { parameters: ["pointer"], result: "void" },
} as const;

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;

/**
 * The loaded library; opened on first use so that importing ffi/ costs nothing. libbpf
 * starts silent: its own printing to stderr would break the agent's one-sentence errors.
 */
export function libbpf(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  if (!lib) {
    libc(); // open before any libbpf call whose errno is read (see libc.ts)
    lib = open();
    lib.symbols.libbpf_set_print(null);
  }
  return lib.symbols;
}

/** A NUL-terminated C string in a buffer. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** Returns `p`, or throws a {@link BpfError} with errno when libbpf returned NULL. */
export function checkPointer(
  p: Deno.PointerValue,
  operation: string,
  hint = "",
): Deno.PointerObject {
  if (p === null) throw new BpfError(operation, errno() || 22, hint);
  return p;
}

/** Throws a {@link BpfError} for a negative libbpf return value (a negated errno). */
export function checkResult(rc: number, operation: string, hint = ""): number {
  if (rc < 0) throw new BpfError(operation, -rc, hint);
  return rc;
}

/** libbpf's log levels. */
export type LogLevel = "warn" | "info" | "debug";
const LEVELS: LogLevel[] = ["warn", "info", "debug"];

/** Receives libbpf's own log lines. */
export type LogSink = (level: LogLevel, line: string) => void;

const logDefinition = { parameters: ["i32", "pointer", "pointer"], result: "i32" } as const;
let logCallback: Deno.UnsafeCallback<typeof logDefinition> | undefined;

/**
 * Routes libbpf's log (verifier output, attach warnings) to `sink`, or silences it again
 * with `undefined`. The log hook is process-wide and calls into this isolate, so remove
 * it when done: a hook left behind by an isolate that has gone (a worker) would crash the
 * next libbpf call that logs, and only one isolate may hook it at a time.
 */
export function setLogSink(sink: LogSink | undefined): void {
  const old = logCallback;
  logCallback = sink && new Deno.UnsafeCallback(logDefinition, (level, fmt, args) => {
    const line = formatVaList(fmt, args).trimEnd();
    if (line) sink(LEVELS[level] ?? "debug", line);
    return 0;
  });
  libbpf().libbpf_set_print(logCallback?.pointer ?? null);
  old?.close();
}

/** Whether libbpf's log goes to a sink: a JavaScript callback, callable from the main thread alone. */
export function hasLogSink(): boolean {
  return logCallback !== undefined;
}

/** How many CPUs the kernel may run, the width of per-CPU map values. */
export function possibleCpus(): number {
  return checkResult(libbpf().libbpf_num_possible_cpus(), "count possible CPUs");
}
