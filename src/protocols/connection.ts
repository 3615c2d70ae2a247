/**
 * One traced connection, whatever it carries: both directions' reassembly, the socket
 * under its key, the opening bytes held until a protocol of the registry claims them, and
 * then that protocol's parser. The protocol-neutral half of every connection, so that a
 * protocol is only a sniffer and a parser (see `protocol.ts`).
 *
 * Choosing: every candidate protocol judges each direction's opening bytes; the first to
 * say "client" or "server" takes the connection, with the held bytes of both directions
 * replayed to it (the client's side first, so that answers find their requests). A
 * protocol that has said "no" to 8 openings drops out; when none is left the connection
 * is given up and the owner told, so the capture can stop sending its bytes.
 *
 * Handing over: a parser that sees its connection switch protocols names the registry's
 * protocol that continues it; that protocol's `resume` parser takes the parser's place
 * with the bytes from the switch on (see `protocol.ts`).
 *
 * @module
 */
import type { Direction, SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import type { Span } from "../model/span.ts";
import {
  type ReassemblyCounters,
  StreamReassembler,
  type StreamReassemblerOptions,
  type StreamSink,
} from "../streams/reassembler.ts";
import type {
  ConnectionParser,
  HeldBytes,
  ParserConnection,
  Protocol,
  ProtocolCounters,
  ProtocolEnv,
  ProtocolFamily,
} from "./protocol.ts";

/** Settings shared by all connections of one span stage. */
export interface ConnectionConfig {
  /** Candidate protocols, in the order they are asked. */
  protocols: readonly Protocol[];
  /** What parsers share. */
  env: ProtocolEnv;
  /** Reassembly limits. */
  reassembly?: Omit<StreamReassemblerOptions, "counters">;
  /** Where a family's connections count; `undefined`: before any protocol has claimed. */
  counters(family: ProtocolFamily | undefined): ProtocolCounters;
  /**
   * Whether a process's spans of a family come from elsewhere (its own probes): a
   * connection claimed by such a protocol is given up at once. Default: never.
   */
  elsewhere?(pid: number, family: ProtocolFamily, conn: string): boolean;
  /**
   * Where the spans of a connection claimed by a protocol of `family` are held rather
   * than emitted (until the process's library probes could have named the connection as
   * theirs); `undefined`: emitted at once. Default: never held.
   */
  holdSpans?(pid: number, family: ProtocolFamily): ((conn: string, span: Span) => void) | undefined;
  /**
   * Whether a process whose spans come from elsewhere still makes RPC calls its probes do
   * not see (grpc-go): its connections claimed by a protocol that carries RPC calls are
   * then parsed, for those calls only. Default: never.
   */
  rpcFromBytes?(pid: number): boolean;
  /** Every protocol of a family has given a connection up (for counting). */
  onFamilyGaveUp?(family: ProtocolFamily): void;
  /** The connection is given up: nothing will parse its bytes. */
  onGiveUp?(pid: number, conn: string): void;
}

/** Where a connection stands. */
export type ConnectionState = "sniffing" | "parsing" | "given-up";

type Dir = 0 | 1;
const INGRESS: Dir = 0;
const EGRESS: Dir = 1;
const DIRECTION: readonly [Direction, Direction] = ["ingress", "egress"];
/** Openings a protocol may judge "no" before it drops out. */
const MAX_SNIFF_MISSES = 8;
/** Bytes of an opening held while some protocol says "more". */
const MAX_SNIFF_BYTES = 64;

/** The live view a parser gets of its connection. */
interface View extends ParserConnection {
  role: "client" | "server";
  rpcOnly: boolean;
  secure: boolean;
  socket: SocketInfo | undefined;
  counters: ProtocolCounters;
  env: ProtocolEnv;
}

/**
 * One connection of one process.
 *
 * @example
 * ```ts ignore
 * const c = new Connection(pid, "0x7f00...", config);
 * c.push(chunk); // StreamChunk of this connection, either direction
 * c.setSocket(info);
 * c.tick(nowMonoNs);
 * c.close(); // connection gone or end of run
 * ```
 */
export class Connection {
  /** Host pid (tgid) of the process. */
  readonly pid: number;
  /** Connection key within the process. */
  readonly conn: string;
  /** Monotonic time of the latest activity, kept by the owner for idle eviction. */
  lastSeenMonoNs = 0n;
  readonly #cfg: ConnectionConfig;
  readonly #streams: [StreamReassembler, StreamReassembler];
  readonly #view: View;
  #state: ConnectionState = "sniffing";
  #protocol: Protocol | null = null;
  #parser: ConnectionParser | null = null;
  /** Whether each direction has carried anything since the connection (re)started. */
  #seen: [boolean, boolean] = [false, false];
  /** Socket info arrived after the last chunk (so it belongs to any new connection). */
  #socketFresh = false;
  // Choosing, per candidate protocol and per direction.
  #live: boolean[];
  #misses: number[];
  /** Protocols that have judged each direction's held opening "no". */
  #rejected: [boolean[], boolean[]];
  #sniffBuf: [Uint8Array | null, Uint8Array | null] = [null, null];
  #sniffMonoNs: [bigint, bigint] = [0n, 0n];
  #sniffTid: [number, number] = [0, 0];
  /** The direction's start was not seen (a gap or an unclaimed opening). */
  #lostStart: [boolean, boolean] = [false, false];

  /** Starts tracking one connection; `config` is shared and not copied. */
  constructor(pid: number, conn: string, config: ConnectionConfig) {
    this.pid = pid;
    this.conn = conn;
    this.#cfg = config;
    this.#view = {
      pid,
      conn,
      role: "client",
      rpcOnly: false,
      secure: false,
      socket: undefined,
      counters: config.counters(undefined),
      env: config.env,
      handOver: (name, carry, rest) => this.#handOver(name, carry, rest),
    };
    const n = config.protocols.length;
    this.#live = new Array<boolean>(n).fill(true);
    this.#misses = new Array<number>(n).fill(0);
    this.#rejected = [new Array<boolean>(n).fill(false), new Array<boolean>(n).fill(false)];
    const view = this.#view;
    // The reassemblers count into whichever counters the connection has at the time.
    const counters: ReassemblyCounters = {
      get duplicateChunks() {
        return view.counters.duplicateChunks;
      },
      set duplicateChunks(v) {
        view.counters.duplicateChunks = v;
      },
      get outOfOrderChunks() {
        return view.counters.outOfOrderChunks;
      },
      set outOfOrderChunks(v) {
        view.counters.outOfOrderChunks = v;
      },
    };
    const opts = { ...config.reassembly, counters };
    this.#streams = [
      new StreamReassembler(this.#sink(INGRESS), opts),
      new StreamReassembler(this.#sink(EGRESS), opts),
    ];
  }

  /** Sniffing, parsing (with `protocol`) or given up. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The protocol that claimed the connection, once one has. */
  get protocol(): string | undefined {
    return this.#protocol?.name;
  }

  /** Which end the traced process is, once a protocol has claimed the connection. */
  get role(): "unknown" | "client" | "server" {
    return this.#parser === null ? "unknown" : this.#view.role;
  }

  /** The socket under the connection, once known. */
  get socket(): SocketInfo | undefined {
    return this.#view.socket;
  }

  /** The claiming protocol's parser, once there is one (for its own counters in tests). */
  get parser(): ConnectionParser | null {
    return this.#parser;
  }

  /** Takes a chunk of either direction. */
  push(chunk: StreamChunk): void {
    this.#view.secure = chunk.secure;
    this.#streams[chunk.direction === "ingress" ? INGRESS : EGRESS].push(chunk);
    this.#socketFresh = false;
  }

  /**
   * Records the socket under the key. Another socket for a key that has carried data
   * means the key now names a new connection. Learnt before any byte, its ports may
   * narrow the candidate protocols.
   */
  setSocket(info: SocketInfo): void {
    const view = this.#view;
    const old = view.socket;
    if (old !== undefined && old.socket !== info.socket) this.#switchSocket(info.callMonoNs);
    view.socket = info;
    this.#socketFresh = true;
    if (this.#state === "sniffing" && !this.#anySeen()) this.#narrowByPort(info);
    this.#parser?.socket(info);
  }

  /** Declares overdue holes lost and lets the parser drop what waited too long. */
  tick(nowMonoNs: bigint): void {
    this.#streams[INGRESS].tick(nowMonoNs);
    this.#streams[EGRESS].tick(nowMonoNs);
    this.#parser?.tick(nowMonoNs);
  }

  /** A library's probes give this connection's spans: nothing here parses it further. */
  yieldToLibrary(): void {
    if (this.#state === "given-up") return;
    this.#parser = null;
    this.#protocol = null;
    this.#giveUp();
  }

  /** The connection is gone (or the run ends): passes on what is held and ends the parser. */
  close(): void {
    this.#streams[INGRESS].flush();
    this.#streams[EGRESS].flush();
    this.#parser?.end();
  }

  #anySeen(): boolean {
    return this.#seen[INGRESS] || this.#seen[EGRESS] || this.#sniffBuf[INGRESS] !== null ||
      this.#sniffBuf[EGRESS] !== null;
  }

  /** A database's port, say, leaves only the protocols that list it. */
  #narrowByPort(info: SocketInfo): void {
    const protocols = this.#cfg.protocols;
    const listed = (p: Protocol) =>
      p.ports.includes(info.peerPort) || p.ports.includes(info.localPort);
    if (!protocols.some(listed)) return;
    for (let i = 0; i < protocols.length; i++) this.#live[i] = listed(protocols[i]!);
  }

  #sink(dir: Dir): StreamSink {
    return {
      data: (bytes, monoNs, tid) => {
        if (!this.#seen[dir]) {
          const other = dir === INGRESS ? EGRESS : INGRESS;
          if (this.#seen[other] && this.#parser?.contradicts?.(DIRECTION[dir], bytes)) {
            this.#reset(dir);
          }
          this.#seen[dir] = true;
        }
        const parser = this.#parser;
        if (parser !== null) parser.data(DIRECTION[dir], bytes, monoNs, tid);
        else if (this.#state === "sniffing") this.#sniff(dir, bytes, monoNs, tid);
      },
      gap: (size, monoNs, lost) => {
        const c = this.#view.counters;
        c.gaps++;
        c.gapBytes += size;
        if (lost) c.lostGaps++;
        this.#seen[dir] = true;
        const parser = this.#parser;
        if (parser !== null) parser.gap(DIRECTION[dir], size, monoNs, lost);
        else this.#dropOpening(dir);
      },
      reset: () => this.#reset(dir),
    };
  }

  /**
   * The key has moved to another socket whose first call began at `since`. A parser that
   * can sort old messages from new keeps going; otherwise the connection starts afresh.
   */
  #switchSocket(since: bigint): void {
    this.#view.counters.connectionResets++;
    const parser = this.#parser;
    if (parser?.switchSocket !== undefined) {
      parser.switchSocket(since);
      return;
    }
    this.#sniffBuf = [null, null];
    if (parser === null && this.#state === "sniffing") return;
    parser?.end();
    this.#restart();
    this.#streams[INGRESS].reset();
    this.#streams[EGRESS].reset();
  }

  /**
   * The key now names a new connection: ends the old one's parser and forgets it. `keep`
   * is the direction whose reassembler detected the reuse and has already reset itself.
   */
  #reset(keep: Dir): void {
    this.#view.counters.connectionResets++;
    this.#parser?.end();
    if (keep !== EGRESS) this.#streams[EGRESS].reset();
    if (keep !== INGRESS) this.#streams[INGRESS].reset();
    if (!this.#socketFresh) this.#view.socket = undefined;
    this.#restart();
  }

  /** Back to choosing among every protocol, as for a connection never seen. */
  #restart(): void {
    this.#view.env = this.#cfg.env;
    this.#state = "sniffing";
    this.#protocol = null;
    this.#parser = null;
    this.#view.counters = this.#cfg.counters(undefined);
    this.#seen = [false, false];
    this.#live.fill(true);
    this.#misses.fill(0);
    this.#rejected[INGRESS].fill(false);
    this.#rejected[EGRESS].fill(false);
    this.#sniffBuf = [null, null];
    this.#lostStart = [false, false];
  }

  /** A direction's opening went by unclaimed (judged "no", or a gap in it). */
  #dropOpening(dir: Dir): void {
    this.#sniffBuf[dir] = null;
    this.#lostStart[dir] = true;
    this.#rejected[dir].fill(false);
  }

  /** Asks the candidates about a direction's opening bytes until one claims them. */
  #sniff(dir: Dir, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    const prev = this.#sniffBuf[dir];
    const probe = prev === null ? bytes : concat(prev, bytes.subarray(0, MAX_SNIFF_BYTES));
    const protocols = this.#cfg.protocols;
    const rejected = this.#rejected[dir];
    const direction = DIRECTION[dir];
    let holding = false;
    for (let i = 0; i < protocols.length; i++) {
      if (!this.#live[i] || rejected[i]) continue;
      let verdict = protocols[i]!.sniff(probe, direction);
      if (verdict === "more" && probe.length > MAX_SNIFF_BYTES) verdict = "no";
      if (verdict === "client" || verdict === "server") {
        const clientDir = verdict === "client" ? dir : dir === INGRESS ? EGRESS : INGRESS;
        this.#claim(protocols[i]!, clientDir, dir, prev, bytes, monoNs, tid);
        return;
      }
      if (verdict === "more") holding = true;
      else {
        rejected[i] = true;
        if (++this.#misses[i]! >= MAX_SNIFF_MISSES) this.#dropOut(i);
        if (this.#state !== "sniffing") return;
      }
    }
    if (!holding) {
      this.#dropOpening(dir);
      return;
    }
    if (prev === null) {
      this.#sniffMonoNs[dir] = monoNs;
      this.#sniffTid[dir] = tid;
    }
    this.#sniffBuf[dir] = prev === null ? bytes.slice() : probe;
  }

  /** A protocol drops out; the last of its family, or of all, says so. */
  #dropOut(i: number): void {
    this.#live[i] = false;
    const protocols = this.#cfg.protocols;
    const family = protocols[i]!.family;
    if (!protocols.some((p, j) => this.#live[j] && p.family === family)) {
      this.#cfg.onFamilyGaveUp?.(family);
    }
    if (!this.#live.includes(true)) this.#giveUp();
  }

  #giveUp(): void {
    this.#state = "given-up";
    this.#sniffBuf = [null, null];
    this.#cfg.onGiveUp?.(this.pid, this.conn);
  }

  /** `protocol` takes the connection: the held bytes go to its parser, the client's first. */
  #claim(
    protocol: Protocol,
    clientDir: Dir,
    dir: Dir,
    prev: Uint8Array | null,
    bytes: Uint8Array,
    monoNs: bigint,
    tid: number,
  ): void {
    this.#view.role = clientDir === EGRESS ? "client" : "server";
    const parser = this.#take(protocol, (view) => protocol.open(view));
    if (parser === null) return;
    for (const d of [clientDir, clientDir === INGRESS ? EGRESS : INGRESS] as const) {
      const direction = DIRECTION[d];
      if (this.#lostStart[d]) parser.gap(direction, 0, monoNs, false);
      if (d !== dir) {
        const held = this.#sniffBuf[d];
        if (held !== null) parser.data(direction, held, this.#sniffMonoNs[d], this.#sniffTid[d]);
        continue;
      }
      if (prev !== null) parser.data(direction, prev, this.#sniffMonoNs[d], this.#sniffTid[d]);
      parser.data(direction, bytes, monoNs, tid);
    }
    this.#sniffBuf = [null, null];
    this.#lostStart = [false, false];
  }

  /**
   * `protocol` parses the connection from here (`open` makes its parser), unless the
   * process's spans of its family come from elsewhere: then the connection is given up.
   */
  #take(
    protocol: Protocol,
    open: (view: ParserConnection) => ConnectionParser,
  ): ConnectionParser | null {
    const elsewhere = this.#cfg.elsewhere?.(this.pid, protocol.family, this.conn) ?? false;
    const rpcOnly = elsewhere && protocol.carriesRpc === true &&
      (this.#cfg.rpcFromBytes?.(this.pid) ?? false);
    if (elsewhere && !rpcOnly) {
      this.#parser = null;
      this.#giveUp();
      return null;
    }
    const view = this.#view;
    view.rpcOnly = rpcOnly;
    view.counters = this.#cfg.counters(protocol.family);
    const hold = this.#cfg.holdSpans?.(this.pid, protocol.family);
    view.env = hold ? { ...this.#cfg.env, onSpan: (span) => hold(this.conn, span) } : this.#cfg.env;
    this.#state = "parsing";
    this.#protocol = protocol;
    const parser = open(view);
    this.#parser = parser;
    return parser;
  }

  /** The parser says the connection continues as the protocol named `name`. */
  #handOver(name: string, carry: unknown, rest: readonly HeldBytes[]): boolean {
    const protocol = this.#cfg.protocols.find((p) => p.name === name);
    const resume = protocol?.resume;
    if (protocol === undefined || resume === undefined || this.#parser === null) return false;
    const parser = this.#take(protocol, (view) => resume(view, carry));
    if (parser === null) return true;
    for (const h of rest) parser.data(h.direction, h.bytes, h.monoNs, h.tid);
    return true;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
