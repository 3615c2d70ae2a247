/**
 * The conversation capture as an instrumentation: `capture.bpf.o` with its TLS uprobes
 * (OpenSSL, Go's crypto/tls), plain-socket hooks and process-life tracepoints; its records
 * turned into stream chunks for the span stage, its counters, and the ignored-socket
 * verdicts that stop the kernel shipping bytes nothing parses. Unlike Go's and the SQL
 * libraries' objects it is loaded at the start: its traced-pid map is how every process is
 * let in.
 *
 * @module
 */
import { BpfObject, readCounters, type RingReader } from "../../ffi/mod.ts";
import type { ProcessInfo } from "../discovery/mod.ts";
import type { ThreadRequests } from "../context/thread_requests.ts";
import type { PeerLinks } from "../context/peer_links.ts";
import type { ServedStreams } from "../context/served_streams.ts";
import type { CallerStreams } from "../context/caller_streams.ts";
import type { Attributes, Span } from "../model/span.ts";
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import { ProbeSet } from "../probe_set.ts";
import { SpanBuilder, type SpanBuilderStats } from "../spans/mod.ts";
import {
  captureDecoder,
  type CaptureEvent,
  type ProcessEvent,
  type ProcessEventType,
} from "./events.ts";
import { IgnoredSockets, LruMap } from "./ignored_sockets.ts";
import { TracedPids } from "./traced_pids.ts";
import {
  attachSyscalls,
  PROCESS_PROGRAMS,
  PROCESS_TRACEPOINTS,
  SYSCALL_PROGRAMS,
  type SyscallAttach,
} from "./syscalls.ts";

/** Default location of the built capture object. */
export const CAPTURE_OBJECT = new URL("../../bpf/out/capture.bpf.o", import.meta.url).pathname;

/** The BPF side's counters (`enum capture_stat` in capture.h), read by their enumerator names. */
const STATS = {
  write: "STAT_WRITE_HITS",
  readEntry: "STAT_READ_ENTRY_HITS",
  readReturn: "STAT_READ_RETURN_HITS",
  drops: "STAT_DROPS",
  syscalls: "STAT_SYSCALLS",
  ignoredBytes: "STAT_IGNORED_BYTES",
} as const;

/** The capture's counters, as its programs count them. */
export type CaptureStats = Record<keyof typeof STATS, number>;

/** Where the capture's spans go; absent when only chunks are wanted. */
export interface CaptureSpanOptions {
  onSpan(span: Span): void;
  toUnixNano(monoNs: bigint): bigint;
  resource(pid: number): Attributes;
  /** The requests each thread serves, shared with the SQL libraries' spans. */
  threads: ThreadRequests;
  /** Client requests' offers by connection, shared with Go's probes. */
  peers?: PeerLinks;
  /** Calls served from the bytes, joined to Go's handler goroutines (grpc-go). */
  served?: ServedStreams;
  /** Calls made from the bytes, joined to Go's calling goroutines (grpc-go). */
  callers?: CallerStreams;
  /** Whether a process's SQL spans come from its client library's probes. */
  sqlByLibrary(pid: number): boolean;
  /** Whether its SQL library's probes name their sockets instead (see the span builder's). */
  sqlByConnection?(pid: number): boolean;
  /** Whether a process's HTTP spans come from its own probes (Go's net/http). */
  httpByProbes(pid: number): boolean;
  /** Whether such a process's gRPC calls still come from its bytes (grpc-go). */
  rpcFromBytes(pid: number): boolean;
}

/** Options for {@linkcode CaptureInstrumentation}. */
export interface CaptureOptions {
  /** Default {@linkcode CAPTURE_OBJECT}. */
  objectPath?: string;
  /** Most plaintext bytes captured per call (1 to 65536). */
  captureBytes: number;
  /** Whether execs of untraced processes are reported (a process watch wants them). */
  watchExec: boolean;
  /** The syscall attach methods to try, in order. */
  syscallOrder: readonly SyscallAttach[];
  /**
   * Run while the kernel verifies the object, on the main thread, which is otherwise idle
   * then (the load runs on another); at the first attempt only. It must not use this object.
   */
  whileLoading?: () => void;
  /** Spans from the captured conversations; default none. */
  spans?: CaptureSpanOptions;
  /**
   * Receives each captured plaintext chunk (for a dump), with its process and socket.
   * `chunk.data` is a view into the ring buffer, valid only during the call: copy to keep.
   */
  onChunk?: (
    chunk: StreamChunk,
    process: ProcessInfo | undefined,
    socket: SocketInfo | undefined,
  ) => void;
  /** The traced process a pid is, for `onChunk`. */
  info?: (pid: number) => ProcessInfo | undefined;
  /** Forks, execs, exits and library loads, as the process-life probes report them. */
  onProcess(event: { type: ProcessEventType; process: ProcessEvent }): void;
  log(line: string): void;
}

/** The capture's object, loaded and hooked: TLS uprobes go in through {@link probes}. */
export class CaptureInstrumentation {
  readonly name = "capture";
  readonly obj: BpfObject;
  readonly probes: ProbeSet;
  /** How the syscalls are hooked. */
  readonly syscallAttach: SyscallAttach;
  /** The span stage of the captured conversations, when spans are wanted. */
  readonly builder?: SpanBuilder;
  readonly #ring: RingReader;
  readonly #onRecord: (bytes: Uint8Array, view: DataView, at: number, length: number) => void;
  #events = 0;
  #consuming = false;

  private constructor(
    obj: BpfObject,
    probes: ProbeSet,
    syscallAttach: SyscallAttach,
    ring: RingReader,
    options: CaptureOptions,
  ) {
    this.obj = obj;
    this.probes = probes;
    this.syscallAttach = syscallAttach;
    this.#ring = ring;
    const ignored = new IgnoredSockets(obj.map("ignored_socks"));
    const spans = options.spans;
    const builder = this.builder = spans && new SpanBuilder({
      ...spans,
      onNotParsed: (_pid, conn) => ignored.ignore(conn),
    });
    this.#onRecord = recordHandler(obj, builder, ignored, options);
  }

  /**
   * Opens, loads and hooks the object with the first syscall attach method in
   * `options.syscallOrder` that the kernel accepts; a failure detaches and closes what was
   * opened. libbpf's errors come out as `BpfError`s.
   */
  static async open(options: CaptureOptions): Promise<CaptureInstrumentation> {
    const order = options.syscallOrder;
    for (const [i, method] of order.entries()) {
      const attempt = await CaptureInstrumentation.#openWith(
        method,
        i === 0 ? options : { ...options, whileLoading: undefined },
      );
      if (attempt instanceof CaptureInstrumentation) return attempt;
      if (i === order.length - 1) throw attempt.error;
      options.log(`${attempt.error.message}; hooking syscalls through ${order[i + 1]} instead`);
    }
    throw new Error("no syscall attach method to try");
  }

  /**
   * The object loaded with one method's syscall programs, not every method's: the kernel
   * verifies each program loaded, and verifying the fallbacks' too took 0.5-1 s of kernel CPU
   * at every start (BENCHMARKS.md). So a method the kernel refuses to attach costs a second
   * load. A load that fails is thrown (it is not the method's doing); an attach that fails is
   * returned, for the next method to be tried.
   */
  static async #openWith(
    method: SyscallAttach,
    options: CaptureOptions,
  ): Promise<CaptureInstrumentation | { error: Error }> {
    const obj = BpfObject.open(options.objectPath ?? CAPTURE_OBJECT);
    const probes = new ProbeSet(obj);
    let refused: Error | undefined;
    try {
      obj.setConstants({
        capture_bytes: Math.max(1, Math.min(options.captureBytes, 65536)),
        watch_exec: options.watchExec,
      });
      for (const [other, programs] of Object.entries(SYSCALL_PROGRAMS)) {
        if (other === method) continue;
        for (const program of programs) obj.program(program).setAutoload(false);
      }
      const loading = obj.loadInBackground();
      try {
        options.whileLoading?.();
      } finally {
        await loading;
      }
      try {
        attachSyscalls(probes, method);
      } catch (e) {
        refused = e as Error;
      }
      if (!refused) {
        const ring = obj.map("events").ringReader();
        return new CaptureInstrumentation(obj, probes, method, ring, options);
      }
    } catch (e) {
      await probes.close();
      obj.close();
      throw e;
    }
    await probes.close();
    obj.close();
    return { error: refused };
  }

  /** Attaches the process-life tracepoints (forks, execs, exits); throws a {@link BpfError}. */
  watchProcesses(): void {
    for (const tp of PROCESS_TRACEPOINTS) {
      this.probes.attachTracepoint(tp.program, tp.category, tp.name);
    }
    for (const program of PROCESS_PROGRAMS) this.probes.attachProgram(program);
  }

  /** The traced processes' maps, and the flag values (enum trace_flags) they hold. */
  traced(): { pids: TracedPids; flags: number; socketsFlag: number } {
    const flags = this.obj.enumValues("trace_flags");
    const sockets = flags["TRACE_SOCKETS"] ?? 0;
    return {
      pids: new TracedPids(this.obj.map("traced_tgids"), this.obj.map("traced_bits")),
      flags: (flags["TRACE_TLS"] ?? 0) | sockets,
      socketsFlag: sockets,
    };
  }

  /** Ring-buffer records read so far. */
  get events(): number {
    return this.#events;
  }

  get uprobes(): number {
    return this.probes.uprobes;
  }

  /** Tracepoints and raw tracepoints attached. */
  get tracepoints(): number {
    return this.probes.size - this.probes.uprobes;
  }

  /**
   * Reads up to `max` records and hands them on; returns the records read. Asked again
   * while it reads (a server's request looking for its client's offer), it reads nothing.
   */
  consume(max?: number): number {
    if (this.#consuming) return 0;
    this.#consuming = true;
    try {
      const n = this.#ring.consume(this.#onRecord, max);
      this.#events += n;
      return n;
    } finally {
      this.#consuming = false;
    }
  }

  /** Records waiting in the ring. */
  get pending(): number {
    return this.#ring.pending;
  }

  /** Its ring's descriptor, for the engine to hear its wake-ups. */
  get ringFd(): number {
    return this.#ring.fd;
  }

  /** The BPF side's counters. */
  stats(): CaptureStats {
    return readCounters(this.obj, "stats", "capture_stat", STATS);
  }

  /** The span stage's counters, when it runs. */
  get spanStats(): SpanBuilderStats | undefined {
    return this.builder?.stats;
  }

  /** Detaches every probe and closes the object. */
  async close(): Promise<void> {
    await this.probes.close();
    this.#ring.close();
    this.obj.close();
  }
}

/** The handler of the capture's records: chunks and sockets to the span stage, the rest on. */
function recordHandler(
  obj: BpfObject,
  builder: SpanBuilder | undefined,
  ignored: IgnoredSockets,
  options: CaptureOptions,
) {
  const decode = captureDecoder(obj);
  // The socket last seen under each connection, for the chunk receiver (a dump).
  const onChunk = options.onChunk;
  const socketsForChunks = new LruMap<string, SocketInfo>(10_000);
  return (bytes: Uint8Array, view: DataView, at: number, length: number) => {
    const ev: CaptureEvent | undefined = decode(bytes, view, at, length);
    if (!ev) return;
    if (ev.type === "chunk") {
      const c = ev.chunk;
      onChunk?.(c, options.info?.(c.pid), socketsForChunks.get(`${c.pid}/${c.conn}`));
      builder?.chunk(c);
    } else if (ev.type === "socket") {
      if (ev.key) ignored.opened(ev.socket.conn, ev.key);
      builder?.socket(ev.socket);
      if (onChunk) socketsForChunks.set(`${ev.socket.pid}/${ev.socket.conn}`, ev.socket);
    } else if (ev.type === "close") {
      ignored.closed(ev.socket.conn);
      builder?.close(ev.socket.pid, ev.socket.conn);
    } else {
      options.onProcess(ev);
    }
  };
}
