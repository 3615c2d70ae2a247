/**
 * The processes being traced. Adding one finds what to probe in it (OpenSSL, through the
 * TLS instrumentation; Go and SQL client libraries, through theirs), attaches what its
 * files still need -- once per file, so the hundredth process sharing a library costs a map
 * update, not an attach -- and lets the capture see it through the traced-pid map (unless
 * an instrumentation sees its traffic itself). Removing one clears its entries.
 *
 * @module
 */
import type { TracedPids } from "./capture/traced_pids.ts";
import {
  childrenOf,
  inspectProcess,
  isAlive,
  MappedFileError,
  type ProcessInfo,
} from "./discovery/mod.ts";
import type { ProbeSet } from "./probe_set.ts";
import { processResource } from "./resource.ts";
import type { Attributes } from "./model/span.ts";
import { locateTls, type ProbeSite, TLS_LIBRARIES } from "./tls/mod.ts";
import { LOADER, loaderSites } from "./capture/loader.ts";
import type { Instrumentation } from "./instrumentation.ts";

const INSPECT_AT_ONCE = 32;
/** How many exited processes keep their resource for spans completed after the exit. */
const EXITED_KEPT = 256;
/** The TLS libraries a process may load after it started. */
const LOADED_LATE = TLS_LIBRARIES.filter((l) => l.loadedLate);

/** What adding a process came to. */
export type AddResult =
  | { ok: true; process: ProcessInfo; tls: boolean }
  | { ok: false; reason: string; message: string };

/** Options for {@linkcode TracedProcesses}. */
export interface TracedProcessesOptions {
  /** The capture's traced processes. */
  traced: TracedPids;
  /** Its value for a traced process. */
  flags: number;
  /** The flag in `flags` that turns on the socket capture. */
  socketsFlag: number;
  /** Instrumentations with their own objects, asked about every process. Default none. */
  instrumentations?: Instrumentation[];
  /** Where probes are attached. */
  probes: ProbeSet;
  /** Status lines. */
  log: (line: string) => void;
  /**
   * The set of processes is fixed: a file only one of them maps is probed for that process
   * alone, so that the others on the host that map it pay no breakpoint. Otherwise every
   * probe fires in every process and the traced-pid map filters.
   */
  pin: boolean;
  /**
   * A process ended, or its file changed, while being probed: counted by the caller (under
   * `--all` such races are many and expected) instead of a line each. Default: a line.
   */
  onRace?: () => void;
}

interface Traced {
  info: ProcessInfo;
  resource: Attributes;
  tls: boolean;
  /** A library probe gives its SQL spans: the wire parsers leave its connections alone. */
  sqlByLibrary: boolean;
  /** A library probe says which of its sockets are its own (libpq): see `sqlByConnection`. */
  sqlByConnection: boolean;
  /** Its own probes give its HTTP spans (Go's net/http): its TLS plaintext makes none. */
  httpByProbes: boolean;
  /** Except gRPC calls its probes do not see (grpc-go), which its bytes still give. */
  rpcFromBytes: boolean;
  /** What the instrumentations said of it, so a library load repeats none of it. */
  notes: Set<string>;
  /**
   * Looks left for an OpenSSL loaded late, once a second: one where its loader's probe tells
   * of later loads (for a load before the probe was in place), else no end.
   */
  tlsLooks: number;
}

/** Processes upspan traces now, by pid. */
export class TracedProcesses {
  readonly #opts: TracedProcessesOptions;
  readonly #procs = new Map<number, Traced>();
  /**
   * Resources of processes that exited lately: a connection's last span is often completed
   * after its process's exit was told (a worker forked per connection exits as it answers).
   */
  readonly #exited = new Map<number, Attributes>();

  constructor(options: TracedProcessesOptions) {
    this.#opts = options;
  }

  /** Pids traced now. */
  get pids(): number[] {
    return [...this.#procs.keys()];
  }

  /** How many processes are traced. */
  get size(): number {
    return this.#procs.size;
  }

  has(pid: number): boolean {
    return this.#procs.has(pid);
  }

  info(pid: number): ProcessInfo | undefined {
    return this.#procs.get(pid)?.info;
  }

  /** The resource attributes of a traced process's spans. */
  resource(pid: number): Attributes | undefined {
    return this.#procs.get(pid)?.resource ?? this.#exited.get(pid);
  }

  /** Whether a process's HTTP spans come from its own probes (Go's net/http). */
  httpByProbes(pid: number): boolean {
    return this.#procs.get(pid)?.httpByProbes ?? false;
  }

  /** Whether such a process's gRPC calls still come from its bytes (grpc-go). */
  rpcFromBytes(pid: number): boolean {
    return this.#procs.get(pid)?.rpcFromBytes ?? false;
  }

  /** Whether a process's SQL spans come from a client library's probes. */
  sqlByLibrary(pid: number): boolean {
    return this.#procs.get(pid)?.sqlByLibrary ?? false;
  }

  /** Whether a process's library probes name the connections whose SQL spans they give. */
  sqlByConnection(pid: number): boolean {
    return this.#procs.get(pid)?.sqlByConnection ?? false;
  }

  /**
   * Traced processes in which no OpenSSL was found (yet), to be looked at again: it may be
   * loaded later. Not those whose loader is probed (a `dlopen` is told), after a first look.
   */
  get withoutTls(): number[] {
    return [...this.#procs].filter(([, p]) => !p.tls && p.tlsLooks > 0).map(([pid]) => pid);
  }

  /**
   * Inspects processes and attaches what they need, then lets the capture see all of them
   * at once: had one process's writes been captured while its read probes were still being
   * placed, a response missed that way would pair with the next request.
   */
  async addAll(pids: number[]): Promise<AddResult[]> {
    const found: { info: ProcessInfo; sites?: ProbeSite[] }[] = [];
    const results: AddResult[] = [];
    // A few at a time: /proc reads are many small waits (a thousand processes under --all).
    for (let i = 0; i < pids.length; i += INSPECT_AT_ONCE) {
      const batch = pids.slice(i, i + INSPECT_AT_ONCE);
      const say = pids.length <= 8 ? "all" : "none";
      for (const r of await Promise.all(batch.map((pid) => this.#inspect(pid, say)))) {
        results.push(r.result);
        if (r.result.ok) found.push({ info: r.result.process, sites: r.sites });
      }
    }
    if (pids.length > 8) {
      const tls = found.filter((f) => f.sites !== undefined).length;
      this.#opts.log(
        `tracing ${found.length} processes: ${tls} through OpenSSL and plain sockets, ` +
          `${found.length - tls} through plain sockets only`,
      );
    }
    const byFile = new Map<string, { sites: ProbeSite[]; pids: number[] }>();
    for (const { info, sites } of found) {
      if (!sites?.length) continue;
      const key = `${sites[0]!.file.device}:${sites[0]!.file.inode}`;
      const entry = byFile.get(key) ?? { sites, pids: [] };
      entry.pids.push(info.pid);
      byFile.set(key, entry);
    }
    const gone = new Set<number>();
    for (const { sites, pids: sharing } of byFile.values()) {
      const pin = this.#opts.pin && sharing.length === 1;
      for (const pid of await this.#attachThrough(sites, sharing, pin)) gone.add(pid);
    }
    for (const { info, sites } of found) {
      if (!gone.has(info.pid)) await this.#enter(info, sites !== undefined, pids.length <= 8);
    }
    return results.map((r) =>
      r.ok && gone.has(r.process.pid) ? exitedWhileAttaching(r.process.pid) : r
    );
  }

  /**
   * Adds one process (a new one, or one that executed another program). `quiet`: no line
   * for what was found in it (a fork, whose parent's line said it).
   */
  async add(pid: number, quiet = false): Promise<AddResult> {
    const r = await this.#inspect(pid, quiet ? "none" : this.#opts.pin ? "all" : "tls");
    if (!r.result.ok) return r.result;
    if (r.sites && (await this.#attachThrough(r.sites, [pid], this.#opts.pin)).length > 0) {
      return exitedWhileAttaching(pid);
    }
    await this.#enter(r.result.process, r.sites !== undefined, !quiet);
    return r.result;
  }

  /**
   * A traced process's loader changed its libraries (a `dlopen`: Python importing `ssl` or
   * `psycopg2`): what is newly mapped is probed now -- OpenSSL, libpq, the MySQL client
   * library, SQLite -- before the process gets far with it.
   */
  async loaded(pid: number): Promise<void> {
    const p = this.#procs.get(pid);
    if (p === undefined) return;
    const r = await inspectProcess(pid);
    if (!r.ok) return;
    const known = new Set(p.info.files.map((f) => `${f.device}:${f.inode}`));
    if (r.process.files.every((f) => known.has(`${f.device}:${f.inode}`))) return;
    p.info = r.process;
    if (!p.tls) await this.recheck(pid);
    for (const inst of this.#opts.instrumentations ?? []) {
      const found = await inst.add(r.process, this.#opts.pin).catch(() => undefined);
      if (!found?.attached) continue;
      if (found.ownsSql) p.sqlByLibrary = true;
      if (found.sqlByConnection) p.sqlByConnection = true;
      if (found.note && !p.notes.has(found.note)) {
        p.notes.add(found.note);
        this.#opts.log(`${found.note} (loaded after start)`);
      }
    }
  }

  /** Looks again for a TLS library loaded since (a program that imports `ssl` late). */
  async recheck(pid: number): Promise<boolean> {
    const p = this.#procs.get(pid);
    if (p === undefined || p.tls) return false;
    p.tlsLooks--;
    const r = await inspectProcess(pid);
    if (!r.ok) return false;
    const where = await locateTls(r.process, LOADED_LATE);
    if (!where.ok) return false;
    if ((await this.#attachThrough(where.sites, [pid], this.#opts.pin)).length > 0) return false;
    p.info = r.process;
    p.tls = true;
    // Said once its probes are in place: from this line on, its TLS traffic is seen.
    this.#opts.log(
      `pid ${pid} (${r.process.comm}): ${where.library.name} loaded, in ${where.file.path}`,
    );
    return true;
  }

  /**
   * Children of traced processes not traced yet: forked workers of a pre-forking server
   * (nginx, gunicorn) run the same program without an exec to reveal them.
   */
  async untracedChildren(): Promise<number[]> {
    const out: number[] = [];
    for (const pid of this.#procs.keys()) {
      for (const child of await childrenOf(pid)) {
        if (!this.#procs.has(child) && !out.includes(child)) out.push(child);
      }
    }
    return out;
  }

  /**
   * A traced process forked `child`, which the capture already traces: it is known at
   * once as a copy of its parent (same program, files and environment), so its first
   * spans carry its resource; {@link add} then looks at it properly. False if the parent
   * is not traced.
   */
  adopt(parent: number, child: number): boolean {
    const p = this.#procs.get(parent);
    if (p === undefined || this.#procs.has(child)) return false;
    const root = new RegExp(`^/proc/${parent}/`);
    const info: ProcessInfo = {
      ...p.info,
      pid: child,
      nsPid: p.info.nsPid === parent ? child : undefined,
      files: p.info.files.map((f) => ({
        ...f,
        hostPath: f.hostPath.replace(root, `/proc/${child}/`),
      })),
    };
    this.#procs.set(child, {
      ...p,
      info,
      resource: processResource(info),
      notes: new Set(p.notes),
    });
    return true;
  }

  /** Stops tracing a process (it exited, or is no longer wanted). */
  remove(pid: number): void {
    const p = this.#procs.get(pid);
    if (p === undefined) return;
    this.#procs.delete(pid);
    this.#exited.delete(pid);
    this.#exited.set(pid, p.resource);
    if (this.#exited.size > EXITED_KEPT) this.#exited.delete(this.#exited.keys().next().value!);
    for (const inst of this.#opts.instrumentations ?? []) inst.remove(pid);
    this.#opts.traced.delete(pid); // false when the capture forgot it at its exit
  }

  /**
   * Attaches `sites` (a file, as one of `pids` maps it) through the first of `pids` still
   * running; returns the pids found to have exited on the way. A process that exits between
   * discovery and attach takes its /proc/PID/root path with it: that ends its tracing, not
   * the run. So does a file its process no longer maps at its path (a container that
   * swapped it): said, not probed. Any other failure is thrown.
   */
  async #attachThrough(sites: ProbeSite[], pids: number[], pin: boolean): Promise<number[]> {
    const gone: number[] = [];
    for (const pid of pids) {
      const via = sites.map((s) => ({
        ...s,
        file: { ...s.file, hostPath: s.file.hostPath.replace(/^\/proc\/\d+\//, `/proc/${pid}/`) },
      }));
      try {
        this.#opts.probes.attach(via, pin ? pid : -1);
        return gone;
      } catch (e) {
        if (e instanceof MappedFileError) {
          if (this.#opts.onRace) this.#opts.onRace();
          else this.#opts.log(`pid ${pid}: ${e.message}`);
          return gone;
        }
        if (await isAlive(pid)) throw e;
        gone.push(pid);
      }
    }
    return gone;
  }

  /**
   * Probes the process's loader, for every process at once (a `dlopen` is rare, and the
   * traced-pid map filters): its library loads are told as they happen. A static
   * executable has none; a probe that cannot be placed leaves the once-a-second recheck.
   * Whether the probe is in place.
   */
  async #watchLoads(info: ProcessInfo): Promise<boolean> {
    const sites = await loaderSites(info);
    if (sites.length === 0) return false;
    try {
      return (await this.#attachThrough(sites, [info.pid], false)).length === 0;
    } catch (e) {
      this.#opts.log(`pid ${info.pid}: ${LOADER.name} not probed: ${(e as Error).message}`);
      return false;
    }
  }

  /** `say`: a line per process (a few named ones), or only for those with OpenSSL. */
  async #inspect(
    pid: number,
    say: "all" | "tls" | "none",
  ): Promise<{ result: AddResult; sites?: ProbeSite[] }> {
    const r = await inspectProcess(pid);
    if (!r.ok) return { result: { ok: false, reason: r.reason, message: r.message } };
    const where = await locateTls(r.process);
    const name = `pid ${pid} (${r.process.comm})`;
    if (!where.ok) {
      if (say === "all") this.#opts.log(`${name} ${where.message}: tracing its plain sockets only`);
      return { result: { ok: true, process: r.process, tls: false } };
    }
    if (say !== "none") this.#opts.log(`${name}: ${where.library.name} in ${where.file.path}`);
    return { result: { ok: true, process: r.process, tls: true }, sites: where.sites };
  }

  /** Asks the other instrumentations, then lets the capture see the process. */
  async #enter(info: ProcessInfo, tls: boolean, say: boolean): Promise<void> {
    let flags = this.#opts.flags;
    let sqlByLibrary = false;
    let sqlByConnection = false;
    let httpByProbes = false;
    let rpcFromBytes = false;
    const notes = new Set<string>();
    const tlsLooks = await this.#watchLoads(info) ? 1 : Infinity;
    for (const inst of this.#opts.instrumentations ?? []) {
      let r;
      try {
        r = await inst.add(info, this.#opts.pin);
      } catch (e) {
        r = { attached: false, note: `pid ${info.pid}: ${inst.name}: ${(e as Error).message}` };
      }
      if (r.note) notes.add(r.note);
      // What could not be probed in a process that has already ended is a race, not news.
      if (r.note && (r.attached || (say && await isAlive(info.pid)))) this.#opts.log(r.note);
      // Its probes make the spans: none from the sockets, none for HTTP from TLS plaintext
      // -- except gRPC calls its probes cannot see, which still come from the bytes.
      if (r.ownsHttp) {
        if (!r.rpcFromBytes) flags &= ~this.#opts.socketsFlag;
        httpByProbes = true;
        rpcFromBytes ||= r.rpcFromBytes === true;
      }
      if (r.ownsSql) sqlByLibrary = true;
      if (r.sqlByConnection) sqlByConnection = true;
    }
    this.#procs.set(info.pid, {
      info,
      resource: processResource(info),
      tls,
      sqlByLibrary,
      sqlByConnection,
      httpByProbes,
      rpcFromBytes,
      notes,
      tlsLooks,
    });
    this.#opts.traced.set(info.pid, flags);
  }
}

function exitedWhileAttaching(pid: number): AddResult {
  return {
    ok: false,
    reason: "gone",
    message: `Process ${pid} exited while upspan was attaching to it.`,
  };
}
