/**
 * What the engine asks of an instrumentation that has its own BPF object (Go's uprobes,
 * the SQL client libraries'): look at a process and probe what it finds, forget a process,
 * read what its probes sent, detach. The capture of sockets and TLS libraries
 * (src/capture) is loaded first, as its traced-pid map lets every process in; these come
 * beside it, each loaded only once a process needs it.
 *
 * @module
 */
import { BpfObject, monotonicNs, realtimeNs, type RingReader } from "../ffi/mod.ts";
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
export async function closeObject(loaded: LoadedObject): Promise<void> {
  await loaded.probes.close();
  loaded.ring.close();
  loaded.obj.close();
}

/**
 * Kernel monotonic nanoseconds as Unix nanoseconds, by the clocks' offset now: for an
 * instrumentation run alone (the engine passes its own, refreshed once a second).
 */
export function wallClock(monoNs: bigint): bigint {
  return monoNs + realtimeNs() - monotonicNs();
}
