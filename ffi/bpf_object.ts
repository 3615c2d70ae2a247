/**
 * A BPF object file through libbpf: open, set read-only constants, load, then find its
 * programs (to attach) and maps (to update and read). Closing the object unloads it;
 * closing a link detaches its probe. All are file descriptors, so the kernel removes
 * them too when the agent dies, even by SIGKILL.
 *
 * @module
 */
import {
  BpfError,
  checkPointer,
  checkResult,
  cString,
  hasLogSink,
  libbpf,
  possibleCpus,
} from "./libbpf.ts";
import {
  enumValues as btfEnumValues,
  type Field,
  sectionVariables,
  type StructLayout,
  structLayout,
} from "./btf.ts";
import { errno, releaseFreedMemory } from "./libc.ts";
import { RingReader } from "./ring_reader.ts";

/** An attached probe. Closing it detaches the probe. */
export class Link {
  #ptr: Deno.PointerObject | null;
  constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
  }
  /** Detaches the probe. Safe to call twice. */
  close(): void {
    if (this.#ptr) libbpf().bpf_link__destroy(this.#ptr);
    this.#ptr = null;
  }

  /** Detaches the probe off the main thread, so that many can be detached at once. */
  async closeAsync(): Promise<void> {
    const ptr = this.#ptr;
    this.#ptr = null;
    if (ptr) await libbpf().bpf_link__destroy_async(ptr);
  }
}

/** Where and how to place a uprobe. */
export interface UprobeOptions {
  /** The file to probe (an executable or a shared library), as the agent sees it. */
  path: string;
  /** File offset of the probed instruction. */
  offset: number;
  /** Only this process, or every process that maps the file (-1, the default). */
  pid?: number;
  /** Fire on return instead of entry (never on Go code). Default false. */
  retprobe?: boolean;
  /** What `bpf_get_attach_cookie` returns in the program. Default 0. */
  cookie?: number;
}

/** A loaded BPF program. */
export class BpfProgram {
  readonly #ptr: Deno.PointerObject;
  readonly name: string;
  constructor(ptr: Deno.PointerObject, name: string) {
    this.#ptr = ptr;
    this.name = name;
  }

  /** Attaches this program as a uprobe (or uretprobe) at a file offset. */
  attachUprobe(opts: UprobeOptions): Link {
    const pid = opts.pid ?? -1;
    // struct bpf_uprobe_opts { size_t sz; size_t ref_ctr_offset; __u64 bpf_cookie;
    //                          bool retprobe; const char *func_name; } (libbpf 1.1)
    const o = new Uint8Array(40);
    const v = new DataView(o.buffer);
    v.setBigUint64(0, 40n, true);
    v.setBigUint64(16, BigInt(opts.cookie ?? 0), true);
    v.setUint8(24, opts.retprobe ? 1 : 0);
    const kind = opts.retprobe ? "uretprobe" : "uprobe";
    const what = `${kind} ${this.name} at ${opts.path}:0x${opts.offset.toString(16)}`;
    const p = libbpf().bpf_program__attach_uprobe_opts(
      this.#ptr,
      pid,
      cString(opts.path),
      BigInt(opts.offset),
      o,
    );
    return new Link(checkPointer(p, `attach ${what}`));
  }

  /** Attaches this program to a kernel tracepoint such as `syscalls:sys_enter_read`. */
  attachTracepoint(category: string, name: string): Link {
    const what = `tracepoint ${category}:${name}`;
    const p = libbpf().bpf_program__attach_tracepoint(this.#ptr, cString(category), cString(name));
    return new Link(
      checkPointer(
        p,
        `attach ${this.name} to ${what}`,
        "is tracefs mounted at /sys/kernel/tracing?",
      ),
    );
  }

  /**
   * Attaches this program where its section names, for sections that name their target
   * alone (`tp_btf/sys_enter`: the BTF raw tracepoint `sys_enter`).
   */
  attach(): Link {
    const p = libbpf().bpf_program__attach(this.#ptr);
    return new Link(checkPointer(p, `attach ${this.name}`));
  }

  /** Whether the object's load loads this program (default true); set before load. */
  setAutoload(load: boolean): void {
    const rc = libbpf().bpf_program__set_autoload(this.#ptr, load);
    checkResult(rc, `set autoload of ${this.name}`);
  }
}

/** A BPF map of a loaded object. Keys and values are raw bytes in the kernel's layout. */
export class BpfMap {
  readonly #ptr: Deno.PointerObject;
  readonly name: string;
  constructor(ptr: Deno.PointerObject, name: string) {
    this.#ptr = ptr;
    this.name = name;
  }
  /** The map's file descriptor. */
  get fd(): number {
    return libbpf().bpf_map__fd(this.#ptr);
  }
  get maxEntries(): number {
    return libbpf().bpf_map__max_entries(this.#ptr);
  }
  /** Inserts or replaces an element. */
  update(key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>): void {
    const rc = libbpf().bpf_map_update_elem(this.fd, key, value, 0n);
    if (rc < 0) throw new BpfError(`update map "${this.name}"`, errno());
  }
  /** Reads an element into `value`; false when the key is absent. */
  lookup(key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>): boolean {
    return libbpf().bpf_map_lookup_elem(this.fd, key, value) === 0;
  }
  /**
   * The sum over CPUs of a per-CPU array's u64 counter at `index` (0 when absent).
   */
  sumPerCpu(index: number): number {
    const cpus = possibleCpus();
    const value = new Uint8Array(8 * cpus);
    if (index < 0 || !this.lookup(new Uint8Array(new Uint32Array([index]).buffer), value)) return 0;
    const view = new DataView(value.buffer);
    let sum = 0;
    for (let c = 0; c < cpus; c++) sum += Number(view.getBigUint64(c * 8, true));
    return sum;
  }

  /** Deletes an element; false when it was absent. */
  delete(key: Uint8Array<ArrayBuffer>): boolean {
    return libbpf().bpf_map_delete_elem(this.fd, key) === 0;
  }
  /** A zero-copy reader of this map, which must be a BPF ring buffer. */
  ringReader(): RingReader {
    return new RingReader(this.fd, this.maxEntries, this.name);
  }
}

/** Options for {@link BpfObject.open}. */
export interface OpenOptions {
  /** Name used in messages; default the file's base name. */
  label?: string;
}

/** A BPF object file, opened and (after {@link BpfObject.load}) loaded into the kernel. */
export class BpfObject {
  #ptr: Deno.PointerObject | null;
  readonly label: string;
  #loaded = false;

  private constructor(ptr: Deno.PointerObject, label: string) {
    this.#ptr = ptr;
    this.label = label;
  }

  /**
   * Opens an object file (parses it; nothing reaches the kernel yet).
   *
   * @example
   * ```ts
   * const obj = BpfObject.open("bpf/out/capture.bpf.o");
   * obj.setConstants({ capture_bytes: 16384 });
   * obj.load();
   * ```
   */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const label = opts.label ?? path.split("/").pop() ?? path;
    const p = libbpf().bpf_object__open_file(cString(path), null);
    return new BpfObject(
      checkPointer(p, `open BPF object "${path}"`, "run `deno task build` to build it"),
      label,
    );
  }

  get #handle(): Deno.PointerObject {
    if (!this.#ptr) throw new Error(`BPF object "${this.label}" is closed`);
    return this.#ptr;
  }

  #btf(): Deno.PointerObject {
    return checkPointer(libbpf().bpf_object__btf(this.#handle), `read BTF of "${this.label}"`);
  }

  /** The layout of a struct defined in the object's C code, read from its BTF. */
  structLayout(name: string): StructLayout {
    const layout = structLayout(this.#btf(), name);
    if (!layout) throw new Error(`BPF object "${this.label}" has no struct ${name} in its BTF`);
    return layout;
  }

  /** The values of an enum defined in the object's C code, read from its BTF. */
  enumValues(name: string): Record<string, number> {
    const values = btfEnumValues(this.#btf(), name);
    if (!values) throw new Error(`BPF object "${this.label}" has no enum ${name} in its BTF`);
    return values;
  }

  /** Sets `const volatile` globals (the `.rodata` section) before load. */
  setConstants(values: Record<string, number | bigint | boolean>): void {
    if (this.#loaded) throw new Error(`Cannot set constants of "${this.label}" after load`);
    const vars: Record<string, Field> = sectionVariables(this.#btf(), ".rodata");
    const map = this.#findMap((n) => n.endsWith(".rodata"));
    if (!map) throw new Error(`BPF object "${this.label}" has no .rodata section`);
    const sizeBuf = new BigUint64Array(1);
    const p = checkPointer(
      libbpf().bpf_map__initial_value(map, new Uint8Array(sizeBuf.buffer)),
      `read .rodata of "${this.label}"`,
    );
    const view = new DataView(Deno.UnsafePointerView.getArrayBuffer(p, Number(sizeBuf[0])));
    for (const [name, value] of Object.entries(values)) {
      const f = vars[name];
      if (!f) throw new Error(`BPF object "${this.label}" has no constant "${name}"`);
      const n = typeof value === "boolean" ? (value ? 1 : 0) : value;
      if (f.size === 8) view.setBigUint64(f.offset, BigInt(n), true);
      else if (f.size === 4) view.setUint32(f.offset, Number(n), true);
      else if (f.size === 2) view.setUint16(f.offset, Number(n), true);
      else view.setUint8(f.offset, Number(n));
    }
  }

  #findMap(match: (name: string) => boolean): Deno.PointerObject | undefined {
    let m: Deno.PointerValue = null;
    while ((m = libbpf().bpf_object__next_map(this.#handle, m)) !== null) {
      const namePtr = libbpf().bpf_map__name(m);
      if (namePtr && match(Deno.UnsafePointerView.getCString(namePtr))) return m;
    }
    return undefined;
  }

  /** Loads every program and creates every map in the kernel (the verifier runs here). */
  load(): void {
    this.#afterLoad(libbpf().bpf_object__load(this.#handle));
  }

  /**
   * {@linkcode load} on another thread: the verifier's tens to hundreds of ms are the
   * caller's to use, for work that makes no libbpf call on this object until the promise
   * settles. While libbpf's log goes to a sink the load stays on the main thread (the sink
   * is a JavaScript callback).
   */
  async loadInBackground(): Promise<void> {
    if (hasLogSink()) return this.load();
    this.#afterLoad(await libbpf().bpf_object__load_async(this.#handle));
  }

  #afterLoad(rc: number): void {
    // The kernel's BTF, parsed for the relocations, was freed: unmap it.
    releaseFreedMemory();
    checkResult(
      rc,
      `load BPF object "${this.label}"`,
      -rc === 1
        ? "run as root or with CAP_BPF and CAP_PERFMON"
        : "run with --debug to see the verifier's log",
    );
    this.#loaded = true;
  }

  /** A program by its C function name. */
  program(name: string): BpfProgram {
    const p = libbpf().bpf_object__find_program_by_name(this.#handle, cString(name));
    return new BpfProgram(checkPointer(p, `find program "${name}" in "${this.label}"`), name);
  }

  /** A map by its C variable name. */
  map(name: string): BpfMap {
    const p = libbpf().bpf_object__find_map_by_name(this.#handle, cString(name));
    return new BpfMap(checkPointer(p, `find map "${name}" in "${this.label}"`), name);
  }

  /** Unloads the object: its programs, maps and (if not closed first) links' programs. */
  close(): void {
    if (this.#ptr) libbpf().bpf_object__close(this.#ptr);
    this.#ptr = null;
  }
}
