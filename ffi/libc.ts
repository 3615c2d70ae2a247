/**
 * The few libc calls upspan needs: errno and its text, the monotonic and wall clocks,
 * waiting on a file descriptor without blocking Deno's event loop, and opening a file
 * with `openat2(2)` (which Deno's own open cannot: no O_NONBLOCK, no resolve flags).
 *
 * @module
 */

const symbols = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  vsnprintf: { parameters: ["buffer", "usize", "pointer", "pointer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  // syscall(2) is variadic; on x86-64 integer and pointer arguments pass as in any call.
  syscall: { parameters: ["i64", "i64", "buffer", "buffer", "u64"], result: "i64" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
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

/**
 * Gives the C heap's free memory back to the kernel (`malloc_trim(3)`). libbpf frees what
 * it needed to load an object -- the kernel's BTF, parsed for CO-RE, is the bulk -- but
 * glibc keeps freed pages mapped, so they stay in the agent's resident memory.
 */
export function releaseFreedMemory(): void {
  libc().malloc_trim(0n);
}

const MADV_DONTNEED = 4;

/**
 * Takes `length` bytes from `start` out of this process's page tables (`madvise(2)`
 * `MADV_DONTNEED`). Only for file mappings whose pages were never written: those are read
 * back from the page cache when next touched, while a written private page would be lost.
 * Returns whether the kernel did it.
 */
export function unmapCleanPages(start: bigint, length: bigint): boolean {
  return libc().madvise(Deno.UnsafePointer.create(start), length, MADV_DONTNEED) === 0;
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

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLET = 1 << 31;
const EPOLL_EVENT_BYTES = 12; // struct epoll_event is packed on x86-64

/**
 * Waits for wake-ups of several descriptors at once: `epoll(7)`, edge-triggered, so a wait
 * ends when one of them is woken (a BPF ring's producer asked for it), not while records it
 * holds are merely unread.
 */
export class WakeupSet {
  readonly #epfd: number;
  readonly #fds = new Set<number>();
  readonly #events = new Uint8Array(EPOLL_EVENT_BYTES * 8);

  constructor() {
    this.#epfd = libc().epoll_create1(EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new Error(`Cannot make an epoll set: ${strerror(errno())}`);
  }

  /** Adds `fd` (once; later calls with it do nothing). Closing `fd` removes it. */
  add(fd: number): void {
    if (this.#fds.has(fd)) return;
    const ev = new Uint8Array(EPOLL_EVENT_BYTES);
    new DataView(ev.buffer).setUint32(0, (POLLIN | EPOLLET) >>> 0, true);
    if (libc().epoll_ctl(this.#epfd, EPOLL_CTL_ADD, fd, ev) !== 0) {
      throw new Error(`Cannot watch fd ${fd}: ${strerror(errno())}`);
    }
    this.#fds.add(fd);
  }

  /** Waits, off the main thread, until one is woken or `timeoutMs` passes. */
  async wait(timeoutMs: number): Promise<boolean> {
    const n = await libc().epoll_wait(this.#epfd, this.#events, 8, Math.ceil(timeoutMs));
    return n > 0;
  }

  close(): void {
    libc().close(this.#epfd);
  }
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

const SYS_OPENAT2 = 437n;
/** `AT_FDCWD`: a path relative to the working directory. */
export const AT_FDCWD = -100;
/** `open(2)` flags (x86-64 values). */
export const O_NONBLOCK = 0o4000;
export const O_NOCTTY = 0o400;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
/** `openat2(2)` resolve flags. */
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_IN_ROOT = 0x10;

/**
 * `openat2(2)`, read-only plus `flags`: the new descriptor, or an Error that names the
 * path and the errno text.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const how = new BigUint64Array([BigInt(flags | O_CLOEXEC), 0n, BigInt(resolve)]);
  const name = new TextEncoder().encode(`${path}\0`);
  const fd = Number(
    libc().syscall(SYS_OPENAT2, BigInt(dirfd), name, new Uint8Array(how.buffer), 24n),
  );
  if (fd < 0) throw new Error(`${path}: ${strerror(errno())}`);
  return fd;
}

/** What `fstat(2)` says of an open file. */
export interface FileStatus {
  /** Device major and minor numbers and inode: the file's identity. */
  major: number;
  minor: number;
  inode: number;
  /** `st_mode` file type bits. */
  type: "file" | "directory" | "fifo" | "character device" | "block device" | "socket" | "other";
  size: number;
}

const FILE_TYPES: Record<number, FileStatus["type"]> = {
  0o100000: "file",
  0o040000: "directory",
  0o010000: "fifo",
  0o020000: "character device",
  0o060000: "block device",
  0o140000: "socket",
};

/** `fstat(2)` of a descriptor (x86-64 `struct stat`); throws with the errno text. */
export function fstat(fd: number): FileStatus {
  const buf = new Uint8Array(144);
  if (libc().fstat(fd, buf) !== 0) throw new Error(`fstat fd ${fd}: ${strerror(errno())}`);
  const v = new DataView(buf.buffer);
  const dev = v.getBigUint64(0, true);
  // glibc's gnu_dev_major / gnu_dev_minor.
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return {
    major,
    minor,
    inode: Number(v.getBigUint64(8, true)),
    type: FILE_TYPES[v.getUint32(24, true) & 0o170000] ?? "other",
    size: Number(v.getBigInt64(48, true)),
  };
}

/** `close(2)`; errors are ignored (the descriptor is gone either way). */
export function closeFd(fd: number): void {
  libc().close(fd);
}
