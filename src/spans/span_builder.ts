/**
 * The span stage: plaintext stream chunks and socket facts in, one OpenTelemetry span per
 * exchange out, for every protocol in the registry (HTTP/1.x, PostgreSQL, MySQL/MariaDB).
 * Each connection goes to the protocol its opening bytes (or a well-known port) announce;
 * one that carries none of them is given up, and the capture is told to stop sending it.
 *
 * @module
 */
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import type { Attributes, Span } from "../model/span.ts";
import { type IdGenerator, RandomIdGenerator } from "../model/ids.ts";
import { OFFER_WAIT_NS, PeerLinks } from "../context/peer_links.ts";
import { ReceivedHeaders } from "../context/received_headers.ts";
import { ThreadRequests } from "../context/thread_requests.ts";
import type { ServedStreams } from "../context/served_streams.ts";
import type { CallerStreams } from "../context/caller_streams.ts";
import type { OfferWaiter, Protocol, ProtocolFamily } from "../protocols/protocol.ts";
import { PROTOCOLS } from "./registry.ts";
import { Connection, type ConnectionConfig } from "../protocols/connection.ts";
import { type HttpCounters, newHttpCounters } from "../protocols/http1/parser.ts";
import { newSqlCounters, type SqlCounters } from "../protocols/sql/wire_parser.ts";

/** Options for {@linkcode SpanBuilder}. */
export interface SpanBuilderOptions {
  /** Converts kernel monotonic nanoseconds to Unix nanoseconds. */
  toUnixNano(monoNs: bigint): bigint;
  /** The resource attributes of a process (`service.name`, `process.pid`, ...). */
  resource(pid: number): Attributes;
  /** Receives each finished span. */
  onSpan(span: Span): void;
  /** Connections tracked at once; beyond it the least recently active are closed. Default 10 000. */
  maxConnections?: number;
  /** A connection quiet for this long is closed by `tick`. Default 60 s. */
  idleTimeoutNs?: bigint;
  /** A request without a response for this long is dropped by `tick`. Default 60 s. */
  requestTimeoutNs?: bigint;
  /** How long a chunk waits for an earlier one before the hole is declared lost. Default 50 ms. */
  reorderWaitNs?: bigint;
  /** Bytes held per direction waiting for earlier ones. Default 1 MiB. */
  maxPendingBytes?: number;
  /** Chunks held per direction waiting for earlier ones. Default 64. */
  maxPendingChunks?: number;
  /** How long a finished exchange waits for its socket's addresses. Default 50 ms. */
  socketWaitNs?: bigint;
  /**
   * How long a server's exchange whose request found no offer from a traced client on this
   * host waits for one (a client's write is recorded as its syscall ends, which the server
   * may beat). Default 30 ms.
   */
  offerWaitNs?: bigint;
  /** Largest header block accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Requests in flight per connection; beyond it the oldest is dropped. Default 64. */
  maxPipelined?: number;
  /** Trace and span ids for new spans. Default: {@linkcode RandomIdGenerator}. */
  ids?: IdGenerator;
  /** Told when a connection is found to carry nothing parsed, so its bytes can stop coming. */
  onNotParsed?: (pid: number, conn: string) => void;
  /** Put SQL statements in `db.query.text` as sent, literals included. Default false. */
  fullQueryText?: boolean;
  /**
   * Whether a process's SQL spans come from elsewhere (its client library's probes): its
   * database connections are then given up here rather than parsed twice. Default: never.
   */
  sqlByLibrary?: (pid: number) => boolean;
  /**
   * Whether a process's SQL library probes name the connections that are theirs
   * ({@linkcode SpanBuilder.libraryConnection}): its other database connections are parsed,
   * and their spans held until {@linkcode SpanBuilder.releaseHeld} (after the library's
   * events up to now were read), so that a connection named late makes no second span.
   */
  sqlByConnection?: (pid: number) => boolean;
  /**
   * Whether a process's HTTP spans come from elsewhere (its own probes, as Go's net/http):
   * its HTTP connections are then given up here. Default: never.
   */
  httpByProbes?: (pid: number) => boolean;
  /**
   * Whether such a process still makes gRPC calls its probes do not see (grpc-go's own
   * HTTP/2 transport): its HTTP/2 connections are parsed for those calls only. Default:
   * never.
   */
  rpcFromBytes?: (pid: number) => boolean;
  /** Requests in progress by thread, shared with other span stages. Default: a new one. */
  threads?: ThreadRequests;
  /** Client requests' offers by connection, shared with Go's probes. Default: a new one. */
  peers?: PeerLinks;
  /** Calls served here whose handlers' goroutines Go's probes see (grpc-go). Default: none. */
  served?: ServedStreams;
  /** Calls made here whose callers' goroutines Go's probes see (grpc-go). Default: none. */
  callers?: CallerStreams;
  /** The protocols to parse, first asked first. Default: every one in the registry. */
  protocols?: readonly Protocol[];
}

/** What the stage has seen and done; read at any time. */
export interface SpanBuilderStats extends HttpCounters {
  /** Chunks taken. */
  chunks: number;
  /** Captured bytes taken. */
  bytes: number;
  /** Socket infos taken. */
  socketInfos: number;
  /** Connections tracked now. */
  connections: number;
  /** Connections closed because they were idle or to make room. */
  connectionsEvicted: number;
  /** SQL connections' counters. */
  sql: SqlCounters;
}

/**
 * Builds spans from the plaintext of traced connections, one per exchange of any protocol
 * in the registry (`registry.ts`).
 *
 * Feed it every {@linkcode StreamChunk} and {@linkcode SocketInfo} in arrival order, call
 * `tick` every few tens of milliseconds with the current monotonic time, and `flush` at the
 * end. Socket info may come before or after a connection's first chunk.
 *
 * @example
 * ```ts
 * import { SpanBuilder } from "./span_builder.ts";
 * const builder = new SpanBuilder({
 *   toUnixNano: (monoNs) => monoNs + 1_700_000_000_000_000_000n,
 *   resource: (pid) => ({ "process.pid": pid }),
 *   onSpan: (span) => console.log(span.name, span.attributes["http.response.status_code"]),
 * });
 * const chunk = (direction: "ingress" | "egress", text: string, pos: number, monoNs: bigint) => {
 *   const data = new TextEncoder().encode(text);
 *   return { pid: 42, tid: 43, conn: "0x1", secure: true, direction, pos, data, callEnd: pos + data.length, last: true, monoNs };
 * };
 * builder.chunk(chunk("ingress", "GET /hi HTTP/1.1\r\nHost: api\r\n\r\n", 0, 1000n));
 * builder.chunk(chunk("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 2000n));
 * // logs: GET /hi 200
 * builder.flush();
 * ```
 */
export class SpanBuilder {
  /** Live counters. */
  readonly stats: SpanBuilderStats;
  readonly #byPid = new Map<number, Map<string, Connection>>();
  /** pid -> its sockets a SQL library said are its own (libpq's). */
  readonly #libraryConns = new Map<number, Set<string>>();
  /** Spans of connections no library has named yet, until {@linkcode releaseHeld}. */
  readonly #held: { pid: number; conn: string; span: Span }[] = [];
  readonly #config: ConnectionConfig;
  readonly #offerWaiters = new Set<OfferWaiter>();
  readonly #maxConnections: number;
  readonly #idleTimeoutNs: bigint;
  #clock = 0n;

  /** Makes a builder; see {@linkcode SpanBuilderOptions}. */
  constructor(options: SpanBuilderOptions) {
    const stats: SpanBuilderStats = {
      ...newHttpCounters(),
      chunks: 0,
      bytes: 0,
      socketInfos: 0,
      connections: 0,
      connectionsEvicted: 0,
      sql: newSqlCounters(),
    };
    this.stats = stats;
    const sqlByLibrary = options.sqlByLibrary ?? (() => false);
    const sqlByConnection = options.sqlByConnection ?? (() => false);
    const libraryConns = this.#libraryConns;
    const held = this.#held;
    const httpByProbes = options.httpByProbes ?? (() => false);
    this.#config = {
      protocols: options.protocols ?? PROTOCOLS,
      env: {
        toUnixNano: options.toUnixNano,
        resource: options.resource,
        onSpan: options.onSpan,
        ids: options.ids ?? new RandomIdGenerator(),
        peers: options.peers ?? new PeerLinks(),
        ...(options.served === undefined ? {} : { served: options.served }),
        ...(options.callers === undefined ? {} : { callers: options.callers }),
        threads: options.threads ?? new ThreadRequests(),
        received: new ReceivedHeaders(),
        offerWaiters: this.#offerWaiters,
        limits: {
          maxHeaderBytes: options.maxHeaderBytes ?? 65536,
          maxPipelined: options.maxPipelined ?? 64,
          requestTimeoutNs: options.requestTimeoutNs ?? 60_000_000_000n,
          socketWaitNs: options.socketWaitNs ?? 50_000_000n,
          offerWaitNs: options.offerWaitNs ?? OFFER_WAIT_NS,
          fullQueryText: options.fullQueryText,
        },
      },
      reassembly: {
        maxWaitNs: options.reorderWaitNs ?? 50_000_000n,
        maxPendingBytes: options.maxPendingBytes ?? 1 << 20,
        maxPendingChunks: options.maxPendingChunks ?? 64,
      },
      // Until a protocol claims a connection, what it costs counts as HTTP's.
      counters: (family) => family === "sql" ? stats.sql : stats,
      elsewhere: (pid, family, conn) =>
        family === "sql"
          ? sqlByLibrary(pid) || libraryConns.get(pid)?.has(conn) === true
          : httpByProbes(pid),
      holdSpans: (pid, family) =>
        family === "sql" && sqlByConnection(pid)
          ? (conn, span) => held.push({ pid, conn, span })
          : undefined,
      rpcFromBytes: options.rpcFromBytes,
      onFamilyGaveUp: (family: ProtocolFamily) => {
        if (family === "sql") stats.sql.nonSqlConnections++;
        else stats.nonHttpConnections++;
      },
      onGiveUp: options.onNotParsed,
    };
    this.#maxConnections = Math.max(1, options.maxConnections ?? 10_000);
    this.#idleTimeoutNs = options.idleTimeoutNs ?? 60_000_000_000n;
  }

  /** Takes one chunk of plaintext. */
  chunk(c: StreamChunk): void {
    const stats = this.stats;
    stats.chunks++;
    stats.bytes += c.data.length;
    if (c.monoNs > this.#clock) this.#clock = c.monoNs;
    const conn = this.#connection(c.pid, c.conn);
    if (c.monoNs > conn.lastSeenMonoNs) conn.lastSeenMonoNs = c.monoNs;
    conn.push(c);
  }

  /** Takes the addresses of a connection's socket. */
  socket(info: SocketInfo): void {
    this.stats.socketInfos++;
    // The socket may be the first thing seen of a connection (and of the whole run): its
    // own time keeps a fresh connection from looking idle since boot.
    if (info.monoNs > this.#clock) this.#clock = info.monoNs;
    const conn = this.#connection(info.pid, info.conn);
    if (info.monoNs > conn.lastSeenMonoNs) conn.lastSeenMonoNs = info.monoNs;
    conn.setSocket(info);
  }

  /**
   * A SQL library's probe sent a statement on this connection: it is the library's, its
   * bytes make no spans here (the library's probes give them).
   */
  libraryConnection(pid: number, key: string): void {
    let keys = this.#libraryConns.get(pid);
    if (keys === undefined) this.#libraryConns.set(pid, keys = new Set());
    if (keys.has(key)) return;
    if (keys.size >= this.#maxConnections) keys.clear();
    keys.add(key);
    this.#byPid.get(pid)?.get(key)?.yieldToLibrary();
  }

  /**
   * Emits the held spans of connections no library has named, drops the others. Call it
   * after reading the libraries' events that were written before the held spans' bytes.
   */
  releaseHeld(): void {
    const held = this.#held.splice(0);
    for (const h of held) {
      if (!this.#libraryConns.get(h.pid)?.has(h.conn)) this.#config.env.onSpan(h.span);
    }
  }

  /** The connection is over (its socket was closed): completes and forgets it. */
  close(pid: number, key: string): void {
    const own = this.#libraryConns.get(pid);
    if (own?.delete(key) && own.size === 0) this.#libraryConns.delete(pid);
    const conns = this.#byPid.get(pid);
    const conn = conns?.get(key);
    if (conns === undefined || conn === undefined) return;
    conns.delete(key);
    if (conns.size === 0) this.#byPid.delete(pid);
    this.stats.connections--;
    conn.close();
  }

  /**
   * Lets time pass: declares overdue stream holes lost, drops requests that waited too long
   * and closes idle connections (completing responses read until close).
   */
  tick(nowMonoNs: bigint): void {
    if (nowMonoNs > this.#clock) this.#clock = nowMonoNs;
    for (const [pid, conns] of this.#byPid) {
      for (const [key, conn] of conns) {
        conn.tick(nowMonoNs);
        if (nowMonoNs - conn.lastSeenMonoNs > this.#idleTimeoutNs) {
          conns.delete(key);
          this.#evicted(conn);
        }
      }
      if (conns.size === 0) this.#byPid.delete(pid);
    }
  }

  /**
   * Right after a read of the rings: the exchanges that wait for their traced client's offer
   * look for it again, and those that waited long enough go (a tick walks every connection).
   */
  lookForOffers(nowMonoNs: bigint): void {
    for (const w of this.#offerWaiters) if (!w.lookAgain(nowMonoNs)) this.#offerWaiters.delete(w);
  }

  /** End of the run: closes every connection, emitting every span that can still be made. */
  flush(): void {
    for (const conns of this.#byPid.values()) {
      for (const conn of conns.values()) conn.close();
    }
    this.releaseHeld();
    this.#byPid.clear();
    this.stats.connections = 0;
  }

  #connection(pid: number, key: string): Connection {
    const found = this.#byPid.get(pid)?.get(key);
    if (found !== undefined) return found;
    if (this.stats.connections >= this.#maxConnections) this.#makeRoom();
    let conns = this.#byPid.get(pid);
    if (conns === undefined) {
      conns = new Map();
      this.#byPid.set(pid, conns);
    }
    const conn = new Connection(pid, key, this.#config);
    conn.lastSeenMonoNs = this.#clock;
    conns.set(key, conn);
    this.stats.connections++;
    return conn;
  }

  /** Closes the least recently active eighth of the connections. */
  #makeRoom(): void {
    const all: Connection[] = [];
    for (const conns of this.#byPid.values()) for (const c of conns.values()) all.push(c);
    all.sort((a, b) =>
      a.lastSeenMonoNs < b.lastSeenMonoNs ? -1 : a.lastSeenMonoNs > b.lastSeenMonoNs ? 1 : 0
    );
    const count = Math.max(1, all.length >> 3);
    for (let i = 0; i < count; i++) {
      const c = all[i]!;
      const conns = this.#byPid.get(c.pid)!;
      conns.delete(c.conn);
      if (conns.size === 0) this.#byPid.delete(c.pid);
      this.#evicted(c);
    }
  }

  #evicted(conn: Connection): void {
    this.stats.connections--;
    this.stats.connectionsEvicted++;
    conn.close();
  }
}
