/**
 * One traced connection carrying SQL: both directions' reassembly, which protocol it is
 * (PostgreSQL or MySQL/MariaDB, told from the opening bytes), which end the traced
 * process is, and one span per executed statement — the SQL counterpart of
 * `HttpConnection` in `src/spans/http_exchange.ts`, with the same methods.
 *
 * Role: a direction whose first bytes are a PostgreSQL StartupMessage/SSLRequest or a
 * frontend message, or a MySQL command, is the client's; a MySQL greeting is the server's.
 * A process that writes the client's bytes is the CLIENT of the connection (spans of kind
 * CLIENT); one that reads them is the database itself (kind SERVER).
 *
 * @module
 */
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import type { Attributes, Span } from "../model/span.ts";
import type { IdGenerator } from "../model/ids.ts";
import {
  type ReassemblyCounters,
  StreamReassembler,
  type StreamReassemblerOptions,
  type StreamSink,
} from "../streams/reassembler.ts";
import { PostgresWireParser, sniffPostgres } from "./postgres_wire.ts";
import { MysqlWireParser, sniffMysql } from "./mysql_wire.ts";
import type { SqlExchange } from "./sql_exchange.ts";
import type { TraceContext } from "../model/trace_context.ts";
import { sqlExchangeSpan, type SqlSystem } from "./sql_semconv.ts";

/** Counters shared by all SQL connections of one span builder. */
export interface SqlCounters extends ReassemblyCounters {
  /** Gaps passed to the parsers. */
  gaps: number;
  /** Bytes covered by those gaps. */
  gapBytes: number;
  /** Connection keys reused by a new connection. */
  connectionResets: number;
  /** Spans produced. */
  spans: number;
  /** Protocol problems the parsers reported (each one makes them resynchronise or drop). */
  parseErrors: number;
  /** Connections given up on as neither PostgreSQL nor MySQL. */
  nonSqlConnections: number;
}

/** Fresh zeroed counters. */
export function newSqlCounters(): SqlCounters {
  return {
    duplicateChunks: 0,
    outOfOrderChunks: 0,
    gaps: 0,
    gapBytes: 0,
    connectionResets: 0,
    spans: 0,
    parseErrors: 0,
    nonSqlConnections: 0,
  };
}

/** Settings shared by all SQL connections of one span builder. */
export interface SqlConnectionConfig {
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  /** Resource attributes of a process. */
  resource(pid: number): Attributes;
  /** Receives each span. */
  onSpan(span: Span): void;
  /** Ids for new spans. */
  ids: IdGenerator;
  /** Where to count. */
  counters: SqlCounters;
  /** Reassembly limits. */
  reassembly?: StreamReassemblerOptions;
  /** Put statements in `db.query.text` as sent, literals included. Default false. */
  fullQueryText?: boolean;
  /** Most bytes of statement text kept per statement. Default 64 KiB. */
  maxTextBytes?: number;
  /** The request a thread is serving at a time, if any: a client's statements are its children. */
  parentOf?: (pid: number, tid: number, monoNs: bigint) => TraceContext | undefined;
}

/** Which protocol a connection carries, once known. */
export type SqlProtocol = "unknown" | "postgresql" | "mysql" | "not-sql";

type Dir = 0 | 1;
const INGRESS: Dir = 0;
const EGRESS: Dir = 1;
const MAX_SNIFF_BYTES = 64;
const MAX_SNIFF_MISSES = 8;

/**
 * One connection of one process.
 *
 * @example
 * ```ts ignore
 * const c = new SqlConnection(pid, "0x7f00…", config);
 * c.push(chunk); // StreamChunk of this connection, either direction
 * c.setSocket(info);
 * c.tick(nowMonoNs);
 * c.close(); // connection gone or end of run
 * ```
 */
export class SqlConnection {
  /** Host pid (tgid) of the process. */
  readonly pid: number;
  /** Connection key within the process. */
  readonly conn: string;
  /** Monotonic time of the latest activity, kept by the owner for idle eviction. */
  lastSeenMonoNs = 0n;
  readonly #cfg: SqlConnectionConfig;
  readonly #streams: [StreamReassembler, StreamReassembler];
  #protocol: SqlProtocol = "unknown";
  /** The traced process wrote the client's bytes. */
  #client = true;
  #pg: PostgresWireParser | null = null;
  #my: MysqlWireParser | null = null;
  /** Parser sides by direction once the protocol is known. */
  #sides: [StreamSink, StreamSink] | null = null;
  #socket: SocketInfo | undefined;
  #sniffBuf: [Uint8Array | null, Uint8Array | null] = [null, null];
  #sniffMonoNs: [bigint, bigint] = [0n, 0n];
  #sniffTid: [number, number] = [0, 0];
  #sniffMisses = 0;
  #problemsSeen = 0;

  /** Starts tracking one connection; `config` is shared and not copied. */
  constructor(pid: number, conn: string, config: SqlConnectionConfig) {
    this.pid = pid;
    this.conn = conn;
    this.#cfg = config;
    const opts = { ...config.reassembly, counters: config.counters };
    this.#streams = [
      new StreamReassembler(this.#sink(INGRESS), opts),
      new StreamReassembler(this.#sink(EGRESS), opts),
    ];
  }

  /** The protocol, once the opening bytes have told. */
  get protocol(): SqlProtocol {
    return this.#protocol;
  }

  /** Which end the traced process is, once the protocol is known. */
  get role(): "unknown" | "client" | "server" {
    if (this.#sides === null) return "unknown";
    return this.#client ? "client" : "server";
  }

  /** The socket under the connection, once known. */
  get socket(): SocketInfo | undefined {
    return this.#socket;
  }

  /** Takes a chunk of either direction. */
  push(chunk: StreamChunk): void {
    this.#streams[chunk.direction === "ingress" ? INGRESS : EGRESS].push(chunk);
  }

  /** Not to be parsed: its statements are reported elsewhere (by a client library's probes). */
  giveUp(): void {
    this.#protocol = "not-sql";
  }

  /** Takes over a connection mid-stream: its bytes before these positions went elsewhere. */
  resumeAt([ingress, egress]: [number, number]): void {
    this.#streams[INGRESS].skipTo(ingress);
    this.#streams[EGRESS].skipTo(egress);
  }

  /** Records the socket under the key; another socket means a new connection. */
  setSocket(info: SocketInfo): void {
    const old = this.#socket;
    if (old !== undefined && old.socket !== info.socket) {
      this.#cfg.counters.connectionResets++;
      this.#forget();
      this.#streams[INGRESS].reset();
      this.#streams[EGRESS].reset();
    }
    this.#socket = info;
  }

  /** Declares overdue holes lost. */
  tick(nowMonoNs: bigint): void {
    this.#streams[INGRESS].tick(nowMonoNs);
    this.#streams[EGRESS].tick(nowMonoNs);
  }

  /** The connection is gone (or the run ends): passes on what is held and ends the parser. */
  close(): void {
    this.#streams[INGRESS].flush();
    this.#streams[EGRESS].flush();
    this.#pg?.end();
    this.#my?.end();
    this.#countProblems();
  }

  #sink(dir: Dir): StreamSink {
    return {
      data: (bytes, monoNs, tid) => {
        const sides = this.#sides;
        if (sides !== null) {
          sides[dir].data(bytes, monoNs, tid);
          this.#countProblems();
        } else if (this.#protocol === "unknown") this.#sniff(dir, bytes, monoNs, tid);
      },
      gap: (size, monoNs, lost) => {
        const c = this.#cfg.counters;
        c.gaps++;
        c.gapBytes += size;
        const sides = this.#sides;
        if (sides !== null) {
          sides[dir].gap(size, monoNs, lost);
          this.#countProblems();
        } else this.#sniffBuf[dir] = null;
      },
      reset: () => {
        this.#cfg.counters.connectionResets++;
        this.#forget();
        this.#streams[dir === INGRESS ? EGRESS : INGRESS].reset();
      },
    };
  }

  /** Forgets the protocol and parser state: the key names a new connection. */
  #forget(): void {
    this.#pg?.end();
    this.#my?.end();
    this.#countProblems();
    this.#pg = null;
    this.#my = null;
    this.#sides = null;
    this.#protocol = "unknown";
    this.#sniffBuf = [null, null];
    this.#sniffMisses = 0;
    this.#problemsSeen = 0;
  }

  #countProblems(): void {
    const p = (this.#pg?.problems ?? 0) + (this.#my?.problems ?? 0);
    if (p > this.#problemsSeen) {
      this.#cfg.counters.parseErrors += p - this.#problemsSeen;
      this.#problemsSeen = p;
    }
  }

  /** Looks at a direction's opening bytes until they say which protocol and side. */
  #sniff(dir: Dir, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    const prev = this.#sniffBuf[dir];
    const probe = prev === null ? bytes : concat(prev, bytes.subarray(0, MAX_SNIFF_BYTES));
    const pg = sniffPostgres(probe);
    const my = sniffMysql(probe);
    let clientDir: Dir | undefined;
    let protocol: "postgresql" | "mysql" | undefined;
    if (pg === "startup" || pg === "frontend") {
      protocol = "postgresql";
      clientDir = dir;
    } else if (my === "greeting" || my === "command") {
      protocol = "mysql";
      clientDir = my === "command" ? dir : dir === INGRESS ? EGRESS : INGRESS;
    }
    if (protocol === undefined || clientDir === undefined) {
      const undecided = (pg === "more" || my === "more") && probe.length <= MAX_SNIFF_BYTES;
      if (undecided) {
        if (prev === null) {
          this.#sniffMonoNs[dir] = monoNs;
          this.#sniffTid[dir] = tid;
        }
        this.#sniffBuf[dir] = prev === null ? bytes.slice() : probe;
        return;
      }
      this.#sniffBuf[dir] = null;
      if (++this.#sniffMisses >= MAX_SNIFF_MISSES) {
        this.#protocol = "not-sql";
        this.#sniffBuf = [null, null];
        this.#cfg.counters.nonSqlConnections++;
      }
      return;
    }
    this.#begin(protocol, clientDir);
    // Feed what was held back, the client's side first so that answers find requests.
    const sides = this.#sides!;
    for (const d of [clientDir, clientDir === INGRESS ? EGRESS : INGRESS] as const) {
      const held = this.#sniffBuf[d];
      if (d !== dir) {
        if (held !== null) sides[d].data(held, this.#sniffMonoNs[d], this.#sniffTid[d]);
        continue;
      }
      if (prev !== null) sides[d].data(prev, this.#sniffMonoNs[d], this.#sniffTid[d]);
      sides[d].data(bytes, monoNs, tid);
    }
    this.#sniffBuf = [null, null];
    this.#countProblems();
  }

  #begin(protocol: "postgresql" | "mysql", clientDir: Dir): void {
    this.#protocol = protocol;
    this.#client = clientDir === EGRESS;
    const sink = {
      onExchange: (e: SqlExchange) => this.#emit(e),
    };
    const options = { maxTextBytes: this.#cfg.maxTextBytes };
    let client: StreamSink;
    let server: StreamSink;
    if (protocol === "postgresql") {
      const pg = new PostgresWireParser(sink, options);
      this.#pg = pg;
      client = pg.frontend;
      server = pg.backend;
    } else {
      const my = new MysqlWireParser(sink, options);
      this.#my = my;
      client = my.client;
      server = my.server;
    }
    this.#sides = clientDir === INGRESS ? [client, server] : [server, client];
  }

  #emit(e: SqlExchange): void {
    let system: SqlSystem = "postgresql";
    let namespace: string | undefined;
    if (this.#pg !== null) namespace = this.#pg.facts.database;
    else if (this.#my !== null) {
      system = this.#my.facts.system ?? "mysql";
      namespace = this.#my.facts.database;
    }
    const cfg = this.#cfg;
    const parent = this.#client ? cfg.parentOf?.(this.pid, e.tid, e.startMonoNs) : undefined;
    const context = parent && {
      traceId: parent.traceId,
      spanId: cfg.ids.spanId(),
      parentSpanId: parent.spanId,
      sampled: parent.sampled,
    };
    const span = sqlExchangeSpan(e, {
      system,
      kind: this.#client ? "CLIENT" : "SERVER",
      namespace,
      socket: this.#socket,
      resource: cfg.resource(this.pid),
      toUnixNano: cfg.toUnixNano,
      ids: cfg.ids,
      fullQueryText: cfg.fullQueryText,
    }, context);
    cfg.counters.spans++;
    cfg.onSpan(span);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
