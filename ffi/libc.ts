/**
 * The few libc calls upspan needs: errno and its text, the monotonic and wall clocks, and
 * waiting on a file descriptor without blocking Deno's event loop.
 *
 * @module
 */

const symbols = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  vsnprintf: { parameters: ["buffer", "usize", "pointer", "pointer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;

/**
 * libc, opened on first use so that importing ffi/ needs no permission. Whoever reads
 * `errno` after another library's call opens it first (opening may itself set errno).
 */
export function libc(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", symbols);
  return lib.symbols;
}

/** The calling thread's current errno. */
export function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** The text of an errno value, as `strerror(3)` gives it. */
export function strerror(code: number): string {
  const p = libc().strerror(Math.abs(code));
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${code}`;
}

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const timespec = new BigInt64Array(2);
const timespecBytes = new Uint8Array(timespec.buffer);

function clock(id: number): bigint {
  libc().clock_gettime(id, timespecBytes);
  return timespec[0]! * 1_000_000_000n + timespec[1]!;
}

/** CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns()`. */
export function monotonicNs(): bigint {
  return clock(CLOCK_MONOTONIC);
}

/** CLOCK_REALTIME in nanoseconds since the Unix epoch. */
export function realtimeNs(): bigint {
  return clock(CLOCK_REALTIME);
}

const POLLIN = 1;

/** Waits until `fd` is readable or `timeoutMs` passes, off the main thread. */
export async function waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
  const pfd = new Uint8Array(8);
  const view = new DataView(pfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLIN, true);
  const n = await libc().poll(pfd, 1n, Math.max(0, Math.ceil(timeoutMs)));
  return n > 0;
}

/** Formats a C `printf` format with its `va_list`, as the libbpf log callback receives it. */
let formatBuffer: Uint8Array<ArrayBuffer> | undefined;
export function formatVaList(fmt: Deno.PointerValue, args: Deno.PointerValue): string {
  // The verifier's log arrives as one line of up to a few hundred KiB.
  const buf = formatBuffer ??= new Uint8Array(1 << 20);
  const n = libc().vsnprintf(buf, BigInt(buf.length), fmt, args);
  return new TextDecoder().decode(buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))));
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = -1n;

/** A shared mapping of a file descriptor; the bytes alias kernel memory until `unmap`. */
export interface Mapping {
  pointer: Deno.PointerObject;
  bytes: ArrayBuffer;
  unmap(): void;
}

/** `mmap(2)` of `length` bytes of `fd` at `offset`, readable (and writable if asked). */
export function mapShared(fd: number, length: number, offset: number, writable: boolean): Mapping {
  const prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  const p = libc().mmap(null, BigInt(length), prot, MAP_SHARED, fd, BigInt(offset));
  if (!p || Deno.UnsafePointer.value(p) === BigInt.asUintN(64, MAP_FAILED)) {
    const e = errno();
    throw new Error(`Cannot map ${length} bytes of fd ${fd}: ${strerror(e)}`);
  }
  let mapped = true;
  return {
    pointer: p,
    bytes: Deno.UnsafePointerView.getArrayBuffer(p, length),
    unmap() {
      if (mapped) libc().munmap(p, BigInt(length));
      mapped = false;
    },
  };
}

/** The system page size. */
export function pageSize(): number {
  return libc().getpagesize();
}
