/**
 * Go programs as the engine traces them: for each Go process, its probe sites (entry and
 * every RET of net/http's and database/sql's functions) and struct offsets, loaded into
 * `go.bpf.o` — opened the first time a Go process turns up — and its events turned into
 * spans. Binaries are read once per file; processes of one binary share its probes.
 *
 * @module
 */
import { readCounters } from "../../ffi/mod.ts";
import { isAlive, type ProcessInfo } from "../discovery/mod.ts";
import {
  closeObject,
  type Instrumentation,
  type Instrumented,
  type LoadedObject,
  loadObject,
  wallClock,
} from "../instrumentation.ts";
import type { Attributes, Span } from "../model/span.ts";
import type { SqlSystem } from "../protocols/sql/semconv.ts";
import { type GoEventDecoder, goEventDecoder } from "./events.ts";
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
  | "newprocRet"
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
  newprocRet: "GO_STAT_NEWPROC_RET",
  events: "GO_STAT_EVENTS",
  drops: "GO_STAT_DROPS",
};

/** Total probe hits in `stats` (every entry and return program run). */
export function probeHits(stats: GoStats): number {
  return stats.serverEntry + stats.serverRet + stats.clientEntry + stats.clientRet +
    stats.sqlEntry + stats.sqlRet + stats.newprocRet;
}

/** Options for {@linkcode GoInstrumentation}. */
export interface GoInstrumentationOptions {
  onSpan(span: Span): void;
  /** Default: by the clocks' offset at each span ({@linkcode wallClock}). */
  toUnixNano?(monoNs: bigint): bigint;
  /** Default: `process.pid` alone. */
  resource?(pid: number): Attributes;
  /** Passed to {@linkcode locateGo} (a version override, DWARF ignored, …). */
  locate?: LocateGoOptions;
  /** Default {@linkcode GO_BPF_OBJECT}. */
  objectPath?: string;
}

const MAX_FILES = 1024;

/** Go's net/http and database/sql probes for the engine. */
export class GoInstrumentation implements Instrumentation<GoStats, GoLocation> {
  readonly name = "Go";
  readonly #opts: GoInstrumentationOptions;
  /** What each executable held, by file identity. */
  readonly #located = new Map<string, GoLocateResult>();
  /** The database each traced process's driver talks to. */
  readonly #sqlSystems = new Map<number, SqlSystem>();
  #open?: LoadedObject & { decode: GoEventDecoder };
  #badRecords = 0;

  constructor(options: GoInstrumentationOptions) {
    this.#opts = options;
  }

  get uprobes(): number {
    return this.#open?.probes.uprobes ?? 0;
  }

  get badRecords(): number {
    return this.#badRecords;
  }

  async add(process: ProcessInfo, pin: boolean): Promise<Instrumented<GoLocation>> {
    const exe = process.files[0];
    if (exe === undefined) return { attached: false };
    const key = `${exe.device}:${exe.inode}`;
    let found = this.#located.get(key);
    if (found === undefined) {
      found = await locateGo({ path: exe }, this.#opts.locate);
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
    const open = this.#load();
    const pidKey = new Uint8Array(new Uint32Array([process.pid]).buffer);
    open.obj.map("go_offsets").update(
      pidKey,
      encodeGoOffsets(loc.offsets, open.obj.structLayout("go_offsets")),
    );
    open.obj.map("go_traced").update(pidKey, new Uint8Array(new Uint32Array([1]).buffer));
    open.probes.attach(
      loc.sites.map((s) => ({
        file: exe,
        symbol: s.symbol,
        program: s.program,
        retprobe: false, // never uretprobes on Go: probes sit on each RET instead
        offset: s.fileOffset,
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
      }, ${loc.sites.length} probe sites${skipped}${grpc}`,
    };
  }

  remove(pid: number): void {
    if (!this.#open) return;
    const pidKey = new Uint8Array(new Uint32Array([pid]).buffer);
    this.#open.obj.map("go_traced").delete(pidKey);
    this.#open.obj.map("go_offsets").delete(pidKey);
    this.#sqlSystems.delete(pid);
  }

  consume(): number {
    const open = this.#open;
    if (!open) return 0;
    const { onSpan, resource = (pid) => ({ "process.pid": pid }), toUnixNano = wallClock } =
      this.#opts;
    return open.ring.consume((bytes, view, at, length) => {
      const r = open.decode(bytes, view, at, length);
      if (!r.ok) {
        this.#badRecords++;
        return;
      }
      const pid = r.event.pid;
      const sqlSystem = this.#sqlSystems.get(pid);
      onSpan(
        goSpan(r.event, {
          resource: resource(pid),
          toUnixNano,
          ...(sqlSystem ? { sqlSystem } : {}),
        }),
      );
    });
  }

  counters(): { hits: number; drops: number } {
    const stats = this.stats();
    return { hits: probeHits(stats), drops: stats.drops };
  }

  stats(): GoStats {
    const open = this.#open;
    if (!open) return Object.fromEntries(Object.keys(STAT_NAMES).map((k) => [k, 0])) as GoStats;
    return readCounters(open.obj, "go_stats", "go_stat", STAT_NAMES);
  }

  async close(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open) await closeObject(open);
  }

  #load() {
    if (this.#open) return this.#open;
    const loaded = loadObject(this.#opts.objectPath ?? GO_BPF_OBJECT, "go_events");
    this.#open = { ...loaded, decode: goEventDecoder(loaded.obj) };
    return this.#open;
  }
}
