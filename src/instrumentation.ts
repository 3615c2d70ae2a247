/**
 * What the engine asks of an instrumentation that has its own BPF object (Go's uprobes,
 * the SQL client libraries'): look at a process and probe what it finds, forget a process,
 * read what its probes sent, detach. The capture of sockets and TLS libraries
 * (src/capture) is loaded first, as its traced-pid map lets every process in; these come
 * beside it, each loaded only once a process needs it.
 *
 * @module
 */
import {
  BpfObject,
  monotonicNs,
  realtimeNs,
  type RecordDecoder,
  type RingReader,
} from "../ffi/mod.ts";
import type { ProcessInfo } from "./discovery/mod.ts";
import { ProbeSet } from "./probe_set.ts";

/** What an instrumentation made of a process; `L`: what it found there. */
export interface Instrumented<L = unknown> {
  /** Probes now cover this process. */
  attached: boolean;
  /** One line for the log: what was found, or why nothing could be probed. */
  note?: string;
  /**
   * Its probes see the process's HTTP requests themselves: the socket capture must leave
   * the process alone and its TLS plaintext must not make HTTP spans, or each request would
   * make two (Go's net/http).
   */
  ownsHttp?: boolean;
  /**
   * With `ownsHttp`: the process also makes RPC calls its probes do not see (grpc-go's own
   * HTTP/2 transport), so the socket capture keeps watching it and its gRPC streams still
   * make spans from the bytes; its other HTTP does not.
   */
  rpcFromBytes?: boolean;
  /** Its probes see the process's SQL statements: the wire parsers must not add spans. */
  ownsSql?: boolean;
  /**
   * Instead of `ownsSql`: its probes say which sockets are theirs (libpq's), so the wire
   * parsers leave those alone and parse the process's other database connections.
   */
  sqlByConnection?: boolean;
  /** What was found and probed (sites, offsets, libraries), when attached. */
  location?: L;
}

/**
 * An instrumentation with its own BPF object, probes and ring buffer. `S`: its BPF side's
 * counters; `L`: what it finds in a process.
 */
export interface Instrumentation<S = unknown, L = unknown> {
  /** For log lines: "Go", "SQL client libraries". */
  readonly name: string;
  /**
   * Finds what to probe in a process and attaches it. `pin`: the set of processes is
   * fixed, so probes may fire for this process alone (see ProbeSet).
   */
  add(process: ProcessInfo, pin: boolean): Promise<Instrumented<L>>;
  /** Stops capturing for a process (its probes stay: other processes may share the file). */
  remove(pid: number): void;
  /** Reads what the probes sent and hands out spans; returns the records read. */
  consume(): number;
  /** Lets every span it still holds go with what is known now (the run ends). */
  flush?(): void;
  /** Its ring's descriptor once loaded, for the engine to hear its wake-ups. */
  readonly ringFd?: number;
  /** Uprobes attached. */
  readonly uprobes: number;
  /** Probe hits and ring-buffer drops counted by the BPF side. */
  counters(): { hits: number; drops: number };
  /** The BPF side's counters, each by its name (zeros before the object is loaded). */
  stats(): S;
  /** Records that could not be decoded. */
  readonly badRecords: number;
  /** Detaches everything and closes the object. */
  close(): Promise<void>;
}

/** An instrumentation's own BPF object, loaded: its probes and its ring buffer. */
export interface LoadedObject {
  obj: BpfObject;
  probes: ProbeSet;
  ring: RingReader;
}

/**
 * Opens and loads the object at `path` and maps its ring buffer `ring`; `prepare` may set
 * constants and choose programs before the load.
 */
export function loadObject(
  path: string,
  ring: string,
  prepare?: (obj: BpfObject) => void,
): LoadedObject {
  const obj = BpfObject.open(path);
  try {
    prepare?.(obj);
    obj.load();
    return { obj, probes: new ProbeSet(obj), ring: obj.map(ring).ringReader() };
  } catch (e) {
    obj.close();
    throw e;
  }
}

/** Detaches the object's probes and closes it. */
async function closeObject(loaded: LoadedObject): Promise<void> {
  await loaded.probes.close();
  loaded.ring.close();
  loaded.obj.close();
}

/**
 * What every instrumentation with its own object shares: the object opened the first time a
 * process needs it ({@link load}), its ring read through its decoder into {@link onEvent},
 * undecodable records counted, its probes counted, everything closed once. A subclass says
 * what to probe in a process, what an event becomes, and what its counters are.
 */
export abstract class ObjectInstrumentation<S, L, E> implements Instrumentation<S, L> {
  abstract readonly name: string;
  readonly #path: string;
  readonly #ring: string;
  #open?: LoadedObject & { decode: RecordDecoder<E> };
  #badRecords = 0;

  /** `path`: the object; `ring`: its ring-buffer map. */
  constructor(path: string, ring: string) {
    this.#path = path;
    this.#ring = ring;
  }

  abstract add(process: ProcessInfo, pin: boolean): Promise<Instrumented<L>>;
  abstract remove(pid: number): void;
  abstract counters(): { hits: number; drops: number };
  /** The counters of the loaded object; `undefined`: not loaded yet. */
  protected abstract readStats(obj: BpfObject | undefined): S;
  /** The decoder of the object's records, made once it is loaded. */
  protected abstract decoder(obj: BpfObject): RecordDecoder<E>;
  /** One decoded record. */
  protected abstract onEvent(event: E): void;

  get uprobes(): number {
    return this.#open?.probes.uprobes ?? 0;
  }

  get ringFd(): number | undefined {
    return this.#open?.ring.fd;
  }

  get badRecords(): number {
    return this.#badRecords;
  }

  stats(): S {
    return this.readStats(this.#open?.obj);
  }

  consume(): number {
    return this.readRing((event) => this.onEvent(event));
  }

  /** Reads the ring, each decoded record to `onEvent`; returns the records read. */
  protected readRing(onEvent: (event: E) => void): number {
    const open = this.#open;
    // Empty (a server request's look for an offer, most often): no handler made at all.
    if (!open || open.ring.pending === 0) return 0;
    return open.ring.consume((bytes, view, at, length) => {
      const r = open.decode(bytes, view, at, length);
      if (r.ok) onEvent(r.event);
      else this.#badRecords++;
    });
  }

  /** Opens and loads the object (a subclass may set constants first, or retry). */
  protected openObject(path: string, ring: string): LoadedObject {
    return loadObject(path, ring);
  }

  async close(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open) await closeObject(open);
  }

  /** The object, if a process has needed it yet. */
  protected get loaded(): LoadedObject | undefined {
    return this.#open;
  }

  /** The object, opened and loaded on the first call. */
  protected load(): LoadedObject {
    if (this.#open) return this.#open;
    const loaded = this.openObject(this.#path, this.#ring);
    this.#open = { ...loaded, decode: this.decoder(loaded.obj) };
    return this.#open;
  }
}

/**
 * Kernel monotonic nanoseconds as Unix nanoseconds, by the clocks' offset now: for an
 * instrumentation run alone (the engine passes its own, refreshed once a second).
 */
export function wallClock(monoNs: bigint): bigint {
  return monoNs + realtimeNs() - monotonicNs();
}
