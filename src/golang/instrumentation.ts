/**
 * Go programs as the engine traces them: for each Go process, its probe sites (entry and
 * every RET of net/http's and database/sql's functions) and struct offsets, loaded into
 * `go.bpf.o` -- opened the first time a Go process turns up -- and its events turned into
 * spans. Binaries are read once per file; processes of one binary share its probes.
 *
 * @module
 */
import { type BpfObject, monotonicNs, readCounters } from "../../ffi/mod.ts";
import { isAlive, type ProcessInfo } from "../discovery/mod.ts";
import {
  type Instrumented,
  type LoadedObject,
  loadObject,
  ObjectInstrumentation,
  wallClock,
} from "../instrumentation.ts";
import type { Attributes, Span } from "../model/span.ts";
import type { SqlSystem } from "../protocols/sql/semconv.ts";
import { OFFER_WAIT_NS, PeerLinks } from "../context/peer_links.ts";
import { ServedStreams } from "../context/served_streams.ts";
import type { CallerStreams } from "../context/caller_streams.ts";
import { GoPeerTraces } from "./peer_traces.ts";
import {
  type GoCallerEvent,
  type GoEvent,
  goEventDecoder,
  type GoHandlerEvent,
  type GoHttpEvent,
  type GoInjectEvent,
  type GoLinkEvent,
  type GoSqlEvent,
} from "./events.ts";
import { type GoLocateResult, type GoLocation, locateGo, type LocateGoOptions } from "./locate.ts";
import { encodeGoOffsets } from "./offsets.ts";
import { goSpan } from "./spans.ts";

/** Default path of the compiled BPF object. */
export const GO_BPF_OBJECT = new URL("../../bpf/out/go.bpf.o", import.meta.url).pathname;

/** The counters of `go.bpf.o` (its `go_stats` array). */
export type GoStats = Record<
  | "serverEntry"
  | "serverRet"
  | "clientEntry"
  | "clientRet"
  | "sqlEntry"
  | "sqlRet"
  | "goroutines"
  | "connEntry"
  | "h2Headers"
  | "headerWrite"
  | "injected"
  | "injectSkipped"
  | "grpcHandler"
  | "grpcCall"
  | "events"
  | "drops",
  number
>;

const STAT_NAMES: Record<keyof GoStats, string> = {
  serverEntry: "GO_STAT_SERVER_ENTRY",
  serverRet: "GO_STAT_SERVER_RET",
  clientEntry: "GO_STAT_CLIENT_ENTRY",
  clientRet: "GO_STAT_CLIENT_RET",
  sqlEntry: "GO_STAT_SQL_ENTRY",
  sqlRet: "GO_STAT_SQL_RET",
  goroutines: "GO_STAT_GOROUTINES",
  connEntry: "GO_STAT_CONN_ENTRY",
  h2Headers: "GO_STAT_H2_HEADERS",
  headerWrite: "GO_STAT_HEADER_WRITE",
  injected: "GO_STAT_INJECTED",
  injectSkipped: "GO_STAT_INJECT_SKIPPED",
  grpcHandler: "GO_STAT_GRPC_STREAM",
  grpcCall: "GO_STAT_GRPC_CALL",
  events: "GO_STAT_EVENTS",
  drops: "GO_STAT_DROPS",
};

/** Total probe hits in `stats` (every entry and return program run). */
export function probeHits(stats: GoStats): number {
  return stats.serverEntry + stats.serverRet + stats.clientEntry + stats.clientRet +
    stats.sqlEntry + stats.sqlRet + stats.goroutines + stats.connEntry + stats.h2Headers +
    stats.headerWrite + stats.grpcHandler + stats.grpcCall;
}

/** Options for {@linkcode GoInstrumentation}. */
export interface GoInstrumentationOptions {
  onSpan(span: Span): void;
  /** Default: by the clocks' offset at each span ({@linkcode wallClock}). */
  toUnixNano?(monoNs: bigint): bigint;
  /** Default: `process.pid` alone. */
  resource?(pid: number): Attributes;
  /** Passed to {@linkcode locateGo} (a version override, DWARF ignored, ...). */
  locate?: LocateGoOptions;
  /** Default {@linkcode GO_BPF_OBJECT}. */
  objectPath?: string;
  /** Client requests' offers by connection, shared with the capture's spans. Default: new. */
  peers?: PeerLinks;
  /**
   * Calls served from the bytes (grpc-go's), joined here to their handlers' goroutines;
   * shared with the capture's spans. Default: new.
   */
  served?: ServedStreams;
  /** grpc-go calls made from the bytes, told here which goroutine's context opened them. */
  callers?: CallerStreams;
  /**
   * Write a `traceparent` line into outgoing net/http requests (the caller has checked the
   * kernel allows it: `injectionRefusal`). Default false.
   */
  injectTraceparent?: boolean;
  /**
   * With `injectTraceparent`: do everything but the write, and log where the first few lines
   * would have gone (`UPSPAN_INJECT_DRY_RUN`). Default false.
   */
  injectDryRun?: boolean;
  /** Status lines (an injection the kernel refused). Default: none. */
  log?: (line: string) => void;
}

const DRY_RUN_LINES = 20;

/**
 * How long spans of a grpc-go handler wait for the call's span from the bytes (normally a
 * read of the rings or two) before they go out without that parent.
 */
const STAND_IN_WAIT_MS = 2000;

const MAX_FILES = 1024;

/** Most connections remembered as marked quiet; a forgotten one is marked again. */
const MAX_QUIETED = 16_384;

/** A `struct server_link` value: the mark's time (CLOCK_MONOTONIC ns) and whether quiet. */
function serverLink(sentNs: bigint, quiet: boolean): Uint8Array<ArrayBuffer> {
  const value = new Uint8Array(16);
  const view = new DataView(value.buffer);
  view.setBigUint64(0, sentNs, true);
  view.setUint32(8, quiet ? 1 : 0, true);
  return value;
}

/** Go's net/http and database/sql probes for the engine. */
export class GoInstrumentation extends ObjectInstrumentation<GoStats, GoLocation, GoEvent> {
  readonly name = "Go";
  readonly #opts: GoInstrumentationOptions;
  /** What each executable held, by file identity. */
  readonly #located = new Map<string, GoLocateResult>();
  /** The database each traced process's driver talks to. */
  readonly #sqlSystems = new Map<number, SqlSystem>();
  /** Traced processes whose grpc-go calls come from the bytes. */
  readonly #grpc = new Set<number>();
  readonly #traces: GoPeerTraces;
  readonly #served: ServedStreams;
  #inject: boolean;
  /** Records read but not yet acted on, in ring order (see `drain`). */
  #queue: GoEvent[] = [];
  /** Spans waiting for their grpc-go handler's call span (see GoPeerTraces.waits). */
  #held: (GoHttpEvent | GoSqlEvent)[] = [];
  /** Dry-run lines said so far (a few are enough to see where the line would go). */
  #dryRuns = 0;
  #draining = false;
  /** Connections marked quiet (see `#quiet`), with when. */
  readonly #quieted = new Map<string, number>();
  #processing = false;

  constructor(options: GoInstrumentationOptions) {
    super(options.objectPath ?? GO_BPF_OBJECT, "go_events");
    this.#opts = options;
    this.#traces = new GoPeerTraces(options.peers ?? new PeerLinks());
    this.#traces.quiet = (e, quiet) => this.#quiet(e, quiet);
    const served = options.served ?? new ServedStreams();
    served.onJoin = (standIn, call) => this.#traces.join(standIn, call);
    served.onNotServed = (standIn) => this.#traces.notCall(standIn);
    this.#served = served;
    this.#inject = options.injectTraceparent ?? false;
  }

  /** Whether `traceparent` lines are being written (asked for, and the kernel took it). */
  get injecting(): boolean {
    return this.#inject;
  }

  async add(process: ProcessInfo, pin: boolean): Promise<Instrumented<GoLocation>> {
    const exe = process.files[0];
    if (exe === undefined) return { attached: false };
    const key = `${exe.device}:${exe.inode}`;
    let found = this.#located.get(key);
    if (found === undefined) {
      found = await locateGo({ path: exe }, {
        ...this.#opts.locate,
        injectTraceparent: this.#inject,
      });
      // The path goes through /proc/PID/root: a process that exited while being read says
      // nothing about its file, which the next process may map. Not remembered, not said.
      if (!found.ok && !(await isAlive(process.pid))) return { attached: false };
      if (this.#located.size >= MAX_FILES) this.#located.delete(this.#located.keys().next().value!);
      this.#located.set(key, found);
    }
    if (!found.ok) {
      // Most processes are not Go: only a Go binary that cannot be probed is worth a line.
      return /not a Go executable/.test(found.error) ? { attached: false } : {
        attached: false,
        note: `pid ${process.pid} (${process.comm}): ${found.error}`,
      };
    }
    const loc = found.location;
    this.#sqlSystems.set(process.pid, loc.sqlSystem);
    if (loc.grpc !== undefined) this.#grpc.add(process.pid);
    const open = this.load();
    // Located before the kernel refused the writing program: its probe has nothing to run.
    const sites = this.#inject ? loc.sites : loc.sites.filter((s) => s.group !== "inject");
    const pidKey = new Uint8Array(new Uint32Array([process.pid]).buffer);
    open.obj.map("go_offsets").update(
      pidKey,
      encodeGoOffsets(loc.offsets, open.obj.structLayout("go_offsets")),
    );
    open.probes.attach(
      sites.map((s) => ({
        file: exe,
        symbol: s.symbol,
        program: s.program,
        retprobe: false, // never uretprobes on Go: probes sit on each RET instead
        offset: s.fileOffset,
        shift: s.shift,
      })),
      pin ? process.pid : -1,
    );
    const skipped = loc.skipped.length ? `; not probed: ${loc.skipped.map((s) => s.symbol)}` : "";
    const grpc = loc.grpc === undefined ? "" : `; grpc-go ${loc.grpc} calls from its bytes`;
    return {
      attached: true,
      location: loc,
      ownsHttp: true,
      rpcFromBytes: loc.grpc !== undefined,
      ownsSql: loc.sites.some((s) => s.group === "sql"),
      note: `pid ${process.pid} (${process.comm}): Go ${loc.version}, offsets from ${
        loc.offsetsSource === "dwarf" ? "its DWARF" : "the table"
      }, ${sites.length} probe sites${skipped}${grpc}`,
    };
  }

  remove(pid: number): void {
    const open = this.loaded;
    if (!open) return;
    const pidKey = new Uint8Array(new Uint32Array([pid]).buffer);
    open.obj.map("go_offsets").delete(pidKey);
    this.#sqlSystems.delete(pid);
    this.#grpc.delete(pid);
  }

  /**
   * Reads what the probes sent so far without acting on it, except that client requests'
   * offers are made at once: a server traced elsewhere may be waiting for one now (see
   * PeerLinks.refresh). Spans and servers' links wait for `consume`, in ring order.
   */
  drain(): number {
    if (this.#draining) return 0;
    this.#draining = true;
    try {
      return this.readRing(this.#onRecord);
    } finally {
      this.#draining = false;
    }
  }

  /** Made once: `drain` runs at every server request that looks for an offer. */
  readonly #onRecord = (event: GoEvent): void => {
    if (event.type === "link" && !event.server) this.#traces.link(event);
    // Joined at once, like a grpc-go handler: its children's offers read the join.
    else if (event.type === "link" && this.#traces.mayBeCall(event, this.#grpc.has(event.pid))) {
      this.#link(event);
    } else if (event.type === "handler") this.#handler(event);
    else if (event.type === "caller") this.#caller(event);
    else this.#queue.push(event);
  };

  override consume(): number {
    const read = this.drain();
    // A server's link may read the capture's ring, and that this one's: the outer call acts.
    if (this.#processing) return read;
    this.#processing = true;
    try {
      const now = performance.now();
      const held = this.#held;
      this.#held = [];
      for (const e of held) this.#span(e, now, false);
      // Taken whole: acting on one may drain the ring into a new queue (a link's refresh).
      for (let queue = this.#queue; queue.length > 0; queue = this.#queue) {
        this.#queue = [];
        const at = queue.findIndex((e) => !this.#act(e, now, true));
        if (at >= 0) {
          // A span waits for its client's offer: it and all after it, in ring order.
          this.#queue = at === 0 && this.#queue.length === 0
            ? queue
            : queue.slice(at).concat(this.#queue);
          break;
        }
      }
    } finally {
      this.#processing = false;
    }
    return read;
  }

  /** Acts on a record; false when it is a span that waits for its client's offer. */
  #act(e: GoEvent, now: number, mayWait: boolean): boolean {
    if (e.type === "link") this.#traces.link(e);
    else if (e.type === "inject") this.#sayDryRun(e);
    else if (e.type !== "handler" && e.type !== "caller") return this.#span(e, now, mayWait);
    return true;
  }

  /** Lets every waiting span go with what is known now (the run ends). */
  flush(): void {
    const held = this.#held;
    this.#held = [];
    for (const e of held) this.#span(e, Infinity, false);
    const queue = this.#queue;
    this.#queue = [];
    for (const e of queue) this.#act(e, Infinity, false);
  }

  /**
   * A span event: made now, held while its grpc-go handler's call span is not known, or
   * (false; `mayWait`) left to wait while its link's client offer may still come.
   */
  #span(e: GoHttpEvent | GoSqlEvent, nowMs: number, mayWait: boolean): boolean {
    const traces = this.#traces;
    if (traces.waits(e.ids, nowMs, STAND_IN_WAIT_MS)) {
      this.#held.push(e);
      return true;
    }
    // A mounted grpc-go call's net/http span: the call's span from the bytes is its one span.
    if (e.type === "server" && traces.replaced(e.ids)) return true;
    // Its link found no offer: looked for again, and waited for while it may still come.
    if (e.type === "server" && traces.missed(e.ids)) {
      const wait = mayWait && monotonicNs() - e.endMonoNs < OFFER_WAIT_NS;
      if (traces.retry(e.ids, wait)) return false;
    }
    const { onSpan, resource = (pid) => ({ "process.pid": pid }), toUnixNano = wallClock } =
      this.#opts;
    const sqlSystem = this.#sqlSystems.get(e.pid);
    const ids = traces.context(e.ids);
    onSpan(
      goSpan(ids === e.ids ? e : { ...e, ids }, {
        resource: resource(e.pid),
        toUnixNano,
        ...(sqlSystem ? { sqlSystem } : {}),
      }),
    );
    return true;
  }

  /**
   * Marks a served connection quiet in the probes' `server_links` (its requests then send
   * a link once a second), or loud again once a link on it adopted a client's trace. A mark
   * is not made again within half a second: the links sent before it took effect.
   */
  #quiet(e: GoLinkEvent, quiet: boolean): void {
    if (e.connKey === undefined) return;
    const id = `${e.pid}:${e.client.address}:${e.client.port}>${e.serverEnd.port}`;
    const marked = this.#quieted.get(id);
    if (quiet) {
      const now = performance.now();
      if (marked !== undefined && now - marked < 500) return;
      if (this.#quieted.size >= MAX_QUIETED) this.#quieted.clear();
      this.#quieted.set(id, now);
      this.#mark(e.connKey, serverLink(monotonicNs(), true));
    } else if (marked !== undefined) {
      this.#quieted.delete(id);
      this.#mark(e.connKey, serverLink(0n, false));
    }
  }

  /** A mark only saves work: one the kernel refuses leaves the connection as it was. */
  #mark(key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>): void {
    try {
      this.loaded?.obj.map("server_links").update(key, value);
    } catch {
      // its links keep coming, as before any mark
    }
  }

  /** A server request that may be a grpc-go call served through net/http: joined to its span. */
  #link(e: GoLinkEvent): void {
    const standIn = this.#traces.link(e, this.#grpc.has(e.pid));
    if (standIn === undefined) return;
    const conn = `${e.client.address}:${e.client.port}>${e.serverEnd.address}:${e.serverEnd.port}`;
    this.#served.handler(e.pid, conn, e.stream, standIn);
  }

  /**
   * A grpc-go client stream opened under a goroutine's context: its call's span, from the
   * bytes, takes that context's span as parent once it is settled (see GoPeerTraces.childOf).
   */
  #caller(e: GoCallerEvent): void {
    const callers = this.#opts.callers;
    if (callers === undefined) return;
    const conn = `${e.client.address}:${e.client.port}>${e.serverEnd.address}:${e.serverEnd.port}`;
    callers.caller(e.pid, conn, e.stream, () => this.#traces.childOf(e.ids, e.standIn));
  }

  /** A grpc-go handler began: its stand-in waits for its call's span (or finds it). */
  #handler(e: GoHandlerEvent): void {
    this.#traces.standIn(e.ids, performance.now());
    const conn = `${e.client.address}:${e.client.port}>${e.serverEnd.address}:${e.serverEnd.port}`;
    this.#served.handler(e.pid, conn, e.stream, e.ids);
  }

  counters(): { hits: number; drops: number } {
    const stats = this.stats();
    return { hits: probeHits(stats), drops: stats.drops };
  }

  protected readStats(obj: BpfObject | undefined): GoStats {
    if (!obj) return Object.fromEntries(Object.keys(STAT_NAMES).map((k) => [k, 0])) as GoStats;
    return readCounters(obj, "go_stats", "go_stat", STAT_NAMES);
  }

  protected decoder(obj: BpfObject) {
    return goEventDecoder(obj);
  }

  /** Not used: `consume` acts on the queue `drain` fills, in ring order. */
  protected onEvent(_event: GoEvent): void {}

  #sayDryRun(e: GoInjectEvent): void {
    if (this.#dryRuns >= DRY_RUN_LINES) return;
    this.#dryRuns++;
    this.#opts.log?.(
      `traceparent dry run: pid ${e.pid} would write ${
        JSON.stringify(e.line)
      } at byte ${e.at} of the request, after ${JSON.stringify(e.head)}`,
    );
  }

  /** The object, with the writing program only when injection is asked for and allowed. */
  protected override openObject(path: string, ring: string): LoadedObject {
    const load = (inject: boolean) =>
      loadObject(path, ring, (obj) => {
        obj.setConstants({
          inject_traceparent: inject,
          inject_dry_run: inject && (this.#opts.injectDryRun ?? false),
        });
        obj.program("go_inject_traceparent").setAutoload(inject);
      });
    if (!this.#inject) return load(false);
    try {
      return load(true);
    } catch (e) {
      // The kernel would not load a program that writes to user memory: trace without it.
      this.#inject = false;
      this.#opts.log?.(
        `traceparent injection refused: the kernel would not load bpf_probe_write_user (${
          (e as Error).message
        }); tracing without it`,
      );
      return load(false);
    }
  }
}
