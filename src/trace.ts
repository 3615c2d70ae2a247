/**
 * The engine: the loop that runs the instrumentations. It lets processes in (discovery, then
 * each instrumentation's symbols and probes), reads what their probes send -- the capture's
 * TLS and plain-socket conversations, Go's and the SQL libraries' events -- and hands every
 * span to one pipeline (routes, sampling, metrics), until stopped. The command line and
 * library users both run this.
 *
 * @module
 */
import { BpfError, BpfObject, monotonicNs, realtimeNs, setLogSink, WakeupSet } from "../ffi/mod.ts";
import { inspectProcess, isAlive, type ProcessInfo, withDescendants } from "./discovery/mod.ts";
import { TracedProcesses } from "./traced_processes.ts";
import type { Instrumentation } from "./instrumentation.ts";
import { GoInstrumentation } from "./golang/instrumentation.ts";
import { SQLLIB_BPF_OBJECT, SqlLibInstrumentation } from "./sqllib/instrumentation.ts";
import { ThreadRequests } from "./context/thread_requests.ts";
import { PeerLinks } from "./context/peer_links.ts";
import { ServedStreams } from "./context/served_streams.ts";
import { CallerStreams } from "./context/caller_streams.ts";
import { injectionRefusal } from "./golang/injection.ts";
import { watchProcesses } from "./discovery/watch.ts";
import { UpspanError } from "./errors.ts";
import { preflight, requirePrivileges } from "./preflight.ts";
import { SpanPipeline, type SpanRecorder } from "./span_pipeline.ts";
import { warmUp } from "./warm_up.ts";
import type { Span } from "./model/span.ts";
import type { SocketInfo, StreamChunk } from "./model/stream_chunk.ts";
import {
  CAPTURE_OBJECT,
  CaptureInstrumentation,
  type ProcessEvent,
  type ProcessEventType,
  type SyscallAttach,
  syscallAttachOrder,
} from "./capture/mod.ts";

/** How often traced processes are looked for in /proc when the exit tracepoint tells of ends. */
const EXIT_SWEEP_MS = 10_000;
/** Under --all, how often at most the processes that came and went are summed up. */
const LIFE_LINE_MS = 10_000;

/**
 * How long the agent sleeps between reads of the rings: long enough that a read finds about
 * {@link RECORDS_PER_READ} records, within these bounds. Each sleep and wake-up costs the agent
 * 100-200 µs of CPU on a VM whatever wakes it (`deno run -A scripts/bench_wakeups.ts`), what a
 * dozen spans cost: at 1,000 requests a second, 20 wake-ups a second were a quarter of its CPU.
 * A burst still wakes it early (the kernel's wake-up once a ring is a quarter full), and an
 * exec, a fork or a library load at once.
 */
const POLL_MS = 10;
const QUIET_POLL_MS = 200;
const RECORDS_PER_READ = 2048;
/** Most records read before yielding to the event loop (signals, timers, output). */
const BATCH = 4096;

/** Options for {@link trace}. */
export interface TraceOptions {
  /** Processes to trace. */
  pids: number[];
  /**
   * Receives each finished span the sampler keeps, with its `http.route` (derived from the
   * path where the framework's route is unknown) -- the spans the command line prints.
   */
  onSpan?: (span: Span) => void;
  /** The share of traces handed to `onSpan`, 0 to 1 (parent-based); default 1, all. */
  sampleRatio?: number;
  /** Measures every finished span, before sampling (the RED metrics); default none. */
  metrics?: SpanRecorder;
  /**
   * Makes what receives the spans of synthetic traffic run through the span path before
   * the probes go on (`warm_up.ts`), so that V8 has compiled it when the first real
   * events come: it should serialize them as `onSpan`'s are and throw the result away (it
   * is let go after). Default: no warm-up.
   */
  warmUp?: () => (span: Span) => void;
  /** Receives each captured plaintext chunk (for a dump), with its process and socket. */
  onChunk?: (
    chunk: StreamChunk,
    process: ProcessInfo | undefined,
    socket: SocketInfo | undefined,
  ) => void;
  /** Called once, when the probes are attached. */
  onReady?: (ready: ReadyInfo) => void;
  /** Status lines (what was found, what exited); default: none. */
  log?: (line: string) => void;
  /** libbpf's own log lines; default: none. */
  debugLog?: (line: string) => void;
  /** Stop after this many seconds; default: run until `signal` aborts. */
  durationSeconds?: number;
  /** Stops tracing when aborted: pending spans are flushed and probes detached. */
  signal?: AbortSignal;
  /** Most plaintext bytes captured per SSL call (1 to 65536); default 16384. */
  captureBytes?: number;
  /** The BPF object; default {@link CAPTURE_OBJECT}. */
  objectPath?: string;
  /**
   * How to hook socket reads and writes: `socket` (the socket layer's tracepoints: untraced
   * processes' syscalls run nothing), `tp_btf` (BTF raw sys_enter/sys_exit), `tracepoint`
   * (one per syscall) or `auto`; default `UPSPAN_SYSCALL_ATTACH`, else `auto` (in that
   * order, the first the kernel accepts).
   */
  syscallAttach?: string;
  /**
   * Processes to find besides `pids`, now and as they start (`--exe`, `--port`, `--all`,
   * `--container`). Default: none, only `pids`; the run ends when they have all exited.
   */
  watch?: ProcessWatch;
  /**
   * Where a watch learns of new processes: the scheduler's exec and exit tracepoints
   * (default; /proc polling if they cannot be attached), or /proc polling alone.
   */
  processEvents?: "tracepoints" | "proc";
  /**
   * Write a W3C `traceparent` into the requests Go's net/http clients send (the client
   * span's ids), so a server on another host continues the trace. Needs a kernel that
   * allows `bpf_probe_write_user`; refused, it is one log line and tracing goes on without.
   * Default `UPSPAN_INJECT_TRACEPARENT` (1/true), else false.
   */
  injectTraceparent?: boolean;
  /** Called about once a second with the run's counters so far (for `/metrics`). */
  onStats?: (stats: TraceStats) => void;
}

/** The run's counters so far, for the agent's own metrics. */
export interface TraceStats {
  events: number;
  dropped: number;
  /** Spans finished, and those of them the sampler withheld from `onSpan`. */
  spans: number;
  spansSampledOut: number;
  /** Connections followed now, and those forgotten by the age and size limits. */
  connections: number;
  connectionsEvicted: number;
  /** Requests given up on (no response in time, too many waiting). */
  requestsDropped: number;
}

/** Chooses processes to trace besides fixed pids. */
export interface ProcessWatch {
  /** Pids to trace from the start. */
  initial(): Promise<number[]>;
  /** Whether a process that just executed a program is wanted: why, or undefined. */
  matches(pid: number): Promise<string | undefined>;
  /** Called about once a second: pids that match now by what an exec does not show
   * (a port listened on later); usually none. */
  rescan(): Promise<number[]>;
  /**
   * It matches processes by the hundred (`--all`): their exits, forks and races are summed
   * up in a line now and then instead of a line each. Default false.
   */
  readonly many?: boolean;
}

/** What {@link TraceOptions.onReady} is told. */
export interface ReadyInfo {
  processes: ProcessInfo[];
  /** Uprobes placed. */
  probes: number;
  /** Syscall tracepoints placed. */
  tracepoints: number;
  /** How the syscalls are hooked. */
  syscallAttach: SyscallAttach;
}

/** Counters of one run. */
export interface TraceSummary {
  /** Spans finished (sampled out ones included). */
  spans: number;
  /** Spans the sampler withheld from `onSpan`. */
  spansSampledOut: number;
  /** Ring-buffer records read. */
  events: number;
  /** Probe hits, by probe, as counted by the BPF programs (Go's and SQL libraries' summed). */
  probeHits: { write: number; readEntry: number; readReturn: number; libraries: number };
  /** Socket syscalls of traced processes that the capture looked at. */
  socketSyscalls: number;
  /** Plain-socket bytes not shipped to user space (ciphertext, protocols not parsed). */
  ignoredBytes: number;
  /** Records the kernel could not queue because the ring buffer was full. */
  dropped: number;
}

/**
 * Traces the HTTPS traffic of running processes until stopped, calling `onSpan` for each
 * finished HTTP exchange.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const summary = await trace({ pids: [1234], onSpan: (s) => console.log(s.name), signal: ac.signal });
 * ```
 */
export async function trace(opts: TraceOptions): Promise<TraceSummary> {
  const log = opts.log ?? (() => {});
  const objectPath = opts.objectPath ?? CAPTURE_OBJECT;
  const pids = [...new Set(opts.pids)];
  const watch = opts.watch;
  if (pids.length === 0 && watch === undefined) {
    throw new UpspanError("No process to trace; name one with --pid N.", 2);
  }
  await requirePrivileges();
  // Named processes must exist before anything is loaded.
  for (const pid of pids) {
    const r = await inspectProcess(pid);
    if (!r.ok) throw new UpspanError(r.message);
  }
  const syscallOrder = syscallAttachOrder(
    opts.syscallAttach ?? Deno.env.get("UPSPAN_SYSCALL_ATTACH"),
  );
  if (typeof syscallOrder === "string") throw new UpspanError(syscallOrder, 2);
  await preflight(objectPath, log);
  let inject = opts.injectTraceparent ?? /^(1|true|yes)$/i.test(
    Deno.env.get("UPSPAN_INJECT_TRACEPARENT") ?? "",
  );
  // A dry run writes nothing: the kernel's leave is not needed (the write is dead code to it).
  const dryRun = inject && /^(1|true|yes)$/i.test(Deno.env.get("UPSPAN_INJECT_DRY_RUN") ?? "");
  if (dryRun) log("traceparent injection: a dry run (UPSPAN_INJECT_DRY_RUN), nothing is written");
  else if (inject) {
    const refused = await injectionRefusal();
    if (refused !== undefined) {
      log(`traceparent injection refused: ${refused}; tracing without it`);
      inject = false;
    }
  }

  // Every span, whichever instrumentation made it, is routed, measured and sampled here.
  const onSpan = opts.onSpan;
  const pipeline = onSpan &&
    new SpanPipeline({ onSpan, sampleRatio: opts.sampleRatio, metrics: opts.metrics });
  const emit = (span: Span) => pipeline!.push(span);
  // Kernel monotonic time becomes wall time.
  let clockOffset = realtimeNs() - monotonicNs();
  const toUnixNano = (mono: bigint) => mono + clockOffset;
  let traced: TracedProcesses | undefined;
  const resource = (pid: number) => traced?.resource(pid) ?? { "process.pid": pid };
  // The requests each thread serves, shared by every kind of span that can be their child.
  const threads = new ThreadRequests();
  // Client requests' ids by connection: offered by one instrumentation, taken by another.
  const peers = new PeerLinks();
  // grpc-go calls served (spans from the bytes) joined to their handlers' goroutines (probes).
  const served = new ServedStreams();
  // grpc-go calls made (spans from the bytes) joined to their callers' goroutines (probes).
  const callers = new CallerStreams();
  // Forks, execs and exits, handled between reads (adding a process is asynchronous).
  type Lifecycle = { type: ProcessEventType; process: ProcessEvent };
  const lifecycle: Lifecycle[] = [];

  // The span path is warmed up while the capture's object loads. Its layout is read from a
  // copy opened before the load begins: no libbpf call then runs beside the load but reads
  // of that copy's BTF.
  const makeWarmSink = onSpan && opts.warmUp;
  let warmTypes: BpfObject | undefined;
  let warmSqlTypes: BpfObject | undefined;
  try {
    warmTypes = makeWarmSink ? BpfObject.open(objectPath) : undefined;
    warmSqlTypes = makeWarmSink ? BpfObject.open(SQLLIB_BPF_OBJECT) : undefined;
  } catch (e) {
    // Harmless, as any failure of the warm-up: the span path then starts cold (or without
    // the SQL libraries' part).
    opts.debugLog?.(
      `warm-up ${warmTypes ? "of SQL statements " : ""}skipped: ${(e as Error).message}`,
    );
  }
  const whileLoading = warmTypes && makeWarmSink && (() => {
    const started = performance.now();
    try {
      const spans = warmUp(warmTypes, makeWarmSink(), warmSqlTypes ? { sql: warmSqlTypes } : {});
      opts.debugLog?.(`warm-up: ${spans} spans in ${(performance.now() - started).toFixed(0)} ms`);
    } catch (e) {
      opts.debugLog?.(`warm-up failed: ${(e as Error).message}`);
    }
  });

  // The capture (TLS and plain sockets) is loaded first: its traced-pid map lets every
  // process in. libbpf's log goes to debugLog from here on.
  const debugLog = opts.debugLog;
  if (debugLog) setLogSink((level, line) => debugLog(`libbpf ${level}: ${line}`));
  let capture: CaptureInstrumentation;
  try {
    capture = await CaptureInstrumentation.open({
      objectPath,
      captureBytes: opts.captureBytes ?? 16384,
      watchExec: watch !== undefined,
      syscallOrder,
      whileLoading,
      spans: onSpan && {
        onSpan: emit,
        toUnixNano,
        resource,
        threads,
        peers,
        served,
        callers,
        sqlByLibrary: (pid) => traced?.sqlByLibrary(pid) ?? false,
        sqlByConnection: (pid) => traced?.sqlByConnection(pid) ?? false,
        httpByProbes: (pid) => traced?.httpByProbes(pid) ?? false,
        rpcFromBytes: (pid) => traced?.rpcFromBytes(pid) ?? false,
      },
      onChunk: opts.onChunk,
      info: (pid) => traced?.info(pid),
      onProcess: (ev) => {
        // A traced process's child is traced from its start: known before its records are read.
        if (ev.type === "fork") traced?.adopt(ev.process.parent ?? 0, ev.process.pid);
        lifecycle.push(ev);
      },
      log,
    });
  } catch (e) {
    if (debugLog) setLogSink(undefined);
    if (e instanceof BpfError) throw new UpspanError(e.message + ".");
    throw e;
  } finally {
    warmTypes?.close();
    warmSqlTypes?.close();
  }
  // Beside the capture: Go's probes and the SQL client libraries', each with its own
  // object, loaded once a process needs it.
  const go = onSpan && new GoInstrumentation({
    onSpan: emit,
    toUnixNano,
    resource,
    peers,
    served,
    callers,
    injectTraceparent: inject,
    injectDryRun: dryRun,
    log,
  });
  // A server's request that found no offer: the client's may be in another ring still.
  // Go's ring is read first, then the capture's: every client write before a Go server's
  // request read so far is then read too, whichever ring either side is in. Go's is read
  // each time (what it holds is read once either way; an empty ring costs a load of its
  // position): an untraced client's request earlier in the same read must not leave a
  // later one without its Go client's offer. The capture's, once per read of it: a flood of
  // requests from untraced clients must not turn each into a read of that ring.
  let refreshed = false;
  peers.refresh = () => {
    go?.drain();
    if (refreshed) return;
    refreshed = true;
    capture.consume(BATCH);
  };
  // A grpc-go call's head that found no caller: the probe's event may be unread still.
  callers.refresh = () => go?.drain();
  const instrumentations: Instrumentation[] = onSpan && go
    ? [
      go,
      new SqlLibInstrumentation({
        onSpan: emit,
        toUnixNano,
        resource,
        parentOf: (pid, tid, monoNs) => threads.parentOf(pid, tid, monoNs),
        onConnection: (pid, conn) => capture.builder?.libraryConnection(pid, conn),
      }),
    ]
    : [];
  const builder = capture.builder;
  let pollProc: AbortController | undefined;
  let wakeups: WakeupSet | undefined;
  let forkEvents = false;
  const life = { exited: 0, forked: 0, races: 0 };
  const many = watch?.many ?? false;
  try {
    // Attach, then let the capture see the processes.
    try {
      // New and ended processes from the scheduler's tracepoints, or from /proc when they
      // cannot be had (exits are also polled below, so only a watch needs the fallback).
      let schedEvents = opts.processEvents !== "proc";
      if (schedEvents) {
        try {
          capture.watchProcesses();
          forkEvents = true;
        } catch (e) {
          if (!(e instanceof BpfError) || watch === undefined) throw e;
          log(`${e.message}; watching /proc for new processes instead`);
          schedEvents = false;
        }
      }
      if (!schedEvents && watch !== undefined) {
        pollProc = new AbortController();
        const event = (pid: number, comm: string) => ({ pid, comm, monoNs: monotonicNs() });
        watchProcesses({
          intervalMs: 250,
          initial: false,
          onExec: (p) => lifecycle.push({ type: "exec", process: event(p.pid, p.comm) }),
          onExit: (pid) => lifecycle.push({ type: "exit", process: event(pid, "") }),
          signal: pollProc.signal,
        }).catch((e) => log(`watching /proc stopped: ${(e as Error).message}`));
      }
      const tracedPids = capture.traced();
      traced = new TracedProcesses({
        traced: tracedPids.pids,
        flags: tracedPids.flags,
        socketsFlag: tracedPids.socketsFlag,
        probes: capture.probes,
        log,
        pin: watch === undefined,
        onRace: many ? () => life.races++ : undefined,
        instrumentations,
      });
      // A named process's children too (a pre-forking server's workers), before `ready`.
      const initial = await withDescendants(pids);
      if (watch) {
        for (const pid of await watch.initial()) if (!initial.includes(pid)) initial.push(pid);
      }
      const results = await traced.addAll(initial);
      for (const [i, r] of results.entries()) {
        // A child that has gone or cannot be traced is no reason to stop (it was not named).
        if (!r.ok && !pids.includes(initial[i]!) && watch === undefined) continue;
        // A named process that exited meanwhile is said once; the others go on. Under a
        // watch, processes that ended between the scan and their turn are counted.
        const race = !r.ok && (r.reason === "gone" || r.reason === "not-found");
        if (race && many) life.races++;
        else if (!r.ok && r.reason === "gone") log(`pid ${initial[i]} exited`);
        else if (!r.ok && watch === undefined) throw new UpspanError(r.message);
        else if (!r.ok) log(r.message);
      }
      if (watch === undefined && traced.size === 0) {
        const first = results.find((r) => !r.ok);
        throw new UpspanError(first && !first.ok ? first.message : "No process is left to trace.");
      }
    } catch (e) {
      if (e instanceof BpfError) throw new UpspanError(e.message + ".");
      throw e;
    }
    const uprobes = () => instrumentations.reduce((n, i) => n + i.uprobes, capture.uprobes);
    const libraryCounters = () =>
      instrumentations.reduce((sum, i) => {
        const c = i.counters();
        return { hits: sum.hits + c.hits, drops: sum.drops + c.drops };
      }, { hits: 0, drops: 0 });
    opts.onReady?.({
      processes: traced.pids.map((pid) => traced!.info(pid)!),
      probes: uprobes(),
      tracepoints: capture.tracepoints,
      syscallAttach: capture.syscallAttach,
    });

    const exited = (pid: number) => {
      if (!traced!.has(pid)) return;
      traced!.remove(pid);
      if (many) life.exited++;
      else log(`pid ${pid} exited`);
    };
    const onLifecycle = async (ev: Lifecycle) => {
      if (ev.type === "exit") return exited(ev.process.pid);
      const pid = ev.process.pid;
      if (ev.type === "load") return traced!.loaded(pid);
      if (ev.type === "fork") {
        // Traced already (adopted); its own probes where they are per process, its libraries.
        if (!traced!.has(pid)) return;
        const r = await traced!.add(pid, true);
        if (!r.ok) life.races++;
        else if (many) life.forked++;
        else log(`pid ${pid} (${r.process.comm}) forked from pid ${ev.process.parent}`);
        return;
      }
      if (traced!.has(pid)) {
        // The same process runs another program now: look at it again.
        const r = await traced!.add(pid);
        if (r.ok) log(`pid ${pid} executed ${r.process.exe}`);
        else exited(pid);
        return;
      }
      const why = watch && await watch.matches(pid);
      if (!why) return;
      const r = await traced!.add(pid);
      if (!r.ok && (r.reason === "gone" || r.reason === "not-found")) life.races++;
      // Under --all every exec matches: only those with something to probe are worth a line.
      if (r.ok && (r.tls || why !== "--all")) log(`pid ${pid} (${r.process.comm}) started: ${why}`);
    };

    const deadline = opts.durationSeconds !== undefined
      ? performance.now() + opts.durationSeconds * 1000
      : Infinity;
    let lastCheck = performance.now();
    let lifeSaid = lastCheck;
    // Under --all, processes come and go by the hundred: one line now and then says how many.
    const sayLife = () => {
      const { exited, forked, races } = life;
      if (!many || exited + forked + races === 0) return;
      log(
        `processes since the last such line: ${exited} traced exited, ${forked} forked and traced, ` +
          `${races} ended or changed while being probed (not traced)`,
      );
      life.exited = life.forked = life.races = 0;
      lifeSaid = performance.now();
    };
    let lastTick = lastCheck, lastRead = lastCheck, lastSweep = lastCheck;
    // Every ring's wake-ups (a ring a quarter full) end the wait, not only the capture's.
    wakeups = new WakeupSet();
    wakeups.add(capture.ringFd);
    let dropsReported = 0;
    let dropsSeen = 0;
    const sayDrops = () => {
      if (dropsSeen <= dropsReported) return;
      log(
        `the ring buffer was full: ${
          dropsSeen - dropsReported
        } events dropped, so some spans may be missing`,
      );
      dropsReported = dropsSeen;
    };
    while (
      !opts.signal?.aborted && performance.now() < deadline &&
      (traced.size > 0 || watch !== undefined)
    ) {
      // Read in batches on a short timer. Events wake the agent early only when the ring
      // fills up (see capture.bpf.c); waiting on the ring while it holds a few records would
      // turn into a loop of one FFI round trip per handful of events.
      refreshed = false;
      let read = capture.consume(BATCH);
      let busy = read === BATCH;
      refreshed = false; // Go's requests read next may need the capture's newer records
      for (const i of instrumentations) {
        const n = i.consume();
        read += n;
        busy ||= n >= BATCH;
        if (i.ringFd !== undefined) wakeups.add(i.ringFd);
      }
      const now = performance.now();
      const perMs = read / Math.max(1, now - lastRead);
      lastRead = now;
      // A flood keeps the short poll: the ring's room is what absorbs a slow batch.
      const poll = read >= RECORDS_PER_READ
        ? POLL_MS
        : Math.min(QUIET_POLL_MS, Math.max(POLL_MS, RECORDS_PER_READ / perMs));
      const wait = Math.max(0, Math.min(poll, deadline - now));
      // Libraries' events written before the capture's bytes were read have been read too:
      // a held wire span whose connection a library named now is a duplicate.
      builder?.releaseHeld();
      builder?.lookForOffers(monotonicNs());
      // Before sleeping: a new process's probes wait for this (a forced wake-up read it).
      while (lifecycle.length > 0) await onLifecycle(lifecycle.shift()!);
      // Busy, it still lets the event loop turn (signals, output), but through a wait that
      // returns at once: back-to-back setTimeout(0)s are held 2-4 ms each (timers' nesting
      // clamp), the ring filling meanwhile.
      await wakeups.wait(busy ? 0 : wait);
      // Ticks walk every connection: at most 50 a second, and a quiet agent's as it wakes.
      if (builder && performance.now() - lastTick > 20) {
        lastTick = performance.now();
        builder.tick(monotonicNs());
      }
      if (performance.now() - lastCheck > 1000) {
        lastCheck = performance.now();
        clockOffset = realtimeNs() - monotonicNs();
        // The exit tracepoint tells of ends (a /proc read per traced process, a hundred a
        // second under --all, was most of an idle agent's CPU); this catches the rest.
        if (!forkEvents || performance.now() - lastSweep > EXIT_SWEEP_MS) {
          lastSweep = performance.now();
          for (const pid of traced.pids) if (!(await isAlive(pid))) exited(pid);
        }
        for (const pid of traced.withoutTls) await traced.recheck(pid);
        // Forks are told by their tracepoint; without it, children are found here.
        for (const child of forkEvents ? [] : await traced.untracedChildren()) {
          const r = await traced.add(child);
          if (r.ok) log(`pid ${child} (${r.process.comm}) forked from a traced process`);
        }
        if (watch) {
          for (const pid of await watch.rescan()) {
            if (!traced.has(pid) && (await traced.add(pid)).ok) log(`pid ${pid} now matches`);
          }
        }
        if (performance.now() - lifeSaid > LIFE_LINE_MS) sayLife();
        // Said once per burst, when it is over (a second without new drops), not per event
        // or per check: the counter only grows.
        const drops = capture.stats().drops + libraryCounters().drops;
        if (drops > dropsSeen) dropsSeen = drops;
        else sayDrops();
        opts.onStats?.({
          events: capture.events,
          dropped: drops,
          spans: pipeline?.counts.spans ?? 0,
          spansSampledOut: pipeline?.counts.sampledOut ?? 0,
          connections: builder?.stats.connections ?? 0,
          connectionsEvicted: builder?.stats.connectionsEvicted ?? 0,
          requestsDropped: builder?.stats.requestsDropped ?? 0,
        });
      }
    }
    while (capture.consume() > 0);
    dropsSeen = Math.max(dropsSeen, capture.stats().drops + libraryCounters().drops);
    sayDrops();
    sayLife();
    for (const i of instrumentations) while (i.consume() > 0);
    builder?.flush();
    go?.flush();
    const s = capture.stats();
    const library = libraryCounters();
    return {
      spans: pipeline?.counts.spans ?? 0,
      spansSampledOut: pipeline?.counts.sampledOut ?? 0,
      events: capture.events,
      probeHits: {
        write: s.write,
        readEntry: s.readEntry,
        readReturn: s.readReturn,
        libraries: library.hits,
      },
      socketSyscalls: s.syscalls,
      ignoredBytes: s.ignoredBytes,
      dropped: s.drops + library.drops,
    };
  } finally {
    wakeups?.close();
    await Promise.all(instrumentations.map((i) => i.close()));
    pollProc?.abort();
    await capture.close();
    if (debugLog) setLogSink(undefined);
  }
}
