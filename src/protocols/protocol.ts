/**
 * The contract between the span stage and one application protocol (HTTP/1, PostgreSQL,
 * MySQL, ...). A protocol is a folder under `src/protocols/` whose `protocol.ts` exports one
 * {@linkcode Protocol}, listed once in the span stage's registry (`src/spans/registry.ts`);
 * nothing else names it.
 *
 * The span stage owns the connection (`connection.ts`: both directions' reassembly, socket
 * facts, key reuse, counters) and asks every protocol of the registry about the opening
 * bytes of each direction. The first to claim them gets the connection: it is told which
 * end the traced process is and opens a {@linkcode ConnectionParser}, which from then on
 * gets both directions' bytes in order and reports one span per exchange. A connection is
 * given up (and the capture told to stop sending its bytes) only when every protocol has
 * said "no" often enough.
 *
 * A connection may change protocol mid-way (HTTP/1.1's `Upgrade: h2c`): its parser, seeing
 * the switch agreed, hands the connection over ({@linkcode ParserConnection.handOver}) to
 * another protocol of the registry by name, which opens a parser from there
 * ({@linkcode Protocol.resume}) with what the first passes on and each direction's bytes
 * from where the new protocol begins. The skeleton knows no pair of protocols.
 *
 * A multiplexed protocol (HTTP/2, gRPC over it) fits the same shape: its parser keeps as
 * many exchanges in flight as the connection carries and emits each when it ends. The
 * HTTP family's exchange record and semantic-convention mapping (`src/protocols/http/`)
 * take what any version knows of a request and its response (method, target parts,
 * authority, status, body sizes, times, addresses) and the trace context from the
 * request's `traceparent`, whatever the framing; what is the protocol's own (gRPC's
 * status in trailers) it adds to the span itself.
 *
 * @module
 */
import type { Direction, SocketInfo } from "../model/stream_chunk.ts";
import type { Attributes, Span } from "../model/span.ts";
import type { IdGenerator } from "../model/ids.ts";
import type { TraceContext } from "../model/trace_context.ts";
import type { PeerLinks } from "../context/peer_links.ts";
import type { ReceivedHeaders } from "../context/received_headers.ts";
import type { ThreadRequests } from "../context/thread_requests.ts";
import type { ServedStreams } from "../context/served_streams.ts";
import type { CallerStreams } from "../context/caller_streams.ts";
import type { ReassemblyCounters } from "../streams/reassembler.ts";

/**
 * The kind of spans a protocol makes. It picks the counters the protocol reports into
 * (`http`: the span stage's own, `sql`: its `sql` ones) and lets a process whose spans of
 * that kind come from elsewhere (Go's net/http probes, a SQL client library's probes) have
 * its connections of that kind given up rather than parsed twice.
 */
export type ProtocolFamily = "http" | "sql";

/**
 * What the opening bytes of one direction say about a protocol:
 * - `"client"`: they were sent by the connection's client (a request, a startup message);
 * - `"server"`: by its server (a response, a greeting);
 * - `"more"`: cannot tell yet -- the bytes are held and asked about again with more (up to
 *   64 bytes; beyond that "more" counts as "no");
 * - `"no"`: not this protocol (after 8 such openings the protocol gives the connection up).
 */
export type SniffVerdict = "client" | "server" | "more" | "no";

/** One application protocol the span stage can parse. */
export interface Protocol {
  /** Short lower-case name (`http1`, `postgresql`, `mysql`); unique in the registry. */
  readonly name: string;
  /** Which kind of spans it makes; see {@linkcode ProtocolFamily}. */
  readonly family: ProtocolFamily;
  /**
   * Server ports that say a connection is this protocol's before a byte is seen: a socket
   * learnt first with one of them leaves only the protocols listing it as candidates.
   * Empty for a protocol whose opening bytes tell reliably on any port.
   */
  readonly ports: readonly number[];
  /**
   * Judges the opening bytes of one direction (`ingress`: the traced process read them).
   * Sees at most the first 64 bytes of an opening; never throws.
   */
  sniff(bytes: Uint8Array, direction: Direction): SniffVerdict;
  /**
   * Whether its connections may carry RPC calls (gRPC over HTTP/2) that no probe of the
   * process makes spans of: in a process whose spans of this family come from elsewhere
   * but whose RPC calls do not (it links grpc-go), such a connection is still parsed, for
   * those calls only ({@linkcode ParserConnection.rpcOnly}). Default false: given up.
   */
  readonly carriesRpc?: boolean;
  /** Opens the parser of one connection this protocol has claimed. */
  open(connection: ParserConnection): ConnectionParser;
  /**
   * Opens the parser of a connection another protocol began and hands over mid-way, with
   * what that protocol passes on (`carry`: a shape the two agree on, e.g. the HTTP/1.1
   * request that asked for an upgrade). Absent: it is only chosen by its opening bytes.
   */
  resume?(connection: ParserConnection, carry: unknown): ConnectionParser;
}

/** Bytes of one direction as a parser was given them, passed on at a hand-over. */
export interface HeldBytes {
  direction: Direction;
  bytes: Uint8Array;
  monoNs: bigint;
  tid: number;
}

/**
 * The parser of one connection. It gets each direction's bytes strictly in order (gaps
 * said out loud), the socket facts as they come, and the passing of time; it emits a span
 * through `connection.env.onSpan` for every exchange that ends. It must never throw on any
 * input: bad bytes are counted (`counters.parseErrors`) and resynchronised over.
 */
export interface ConnectionParser {
  /**
   * Contiguous bytes of one direction. `bytes` may be a view into the caller's buffer:
   * use or copy it before returning.
   */
  data(direction: Direction, bytes: Uint8Array, monoNs: bigint, tid: number): void;
  /**
   * `size` bytes of one direction will never be seen (`lost`: a hole of lost records
   * rather than a known truncation). Size 0 before any data means the direction was
   * joined mid-stream: the start of what comes next is unknown.
   */
  gap(direction: Direction, size: number, monoNs: bigint, lost: boolean): void;
  /** The socket under the connection is now known (`connection.socket`). */
  socket(info: SocketInfo): void;
  /**
   * The key has moved to another socket whose first call began at `since`, stream offsets
   * going on counting. A parser that can tell the old connection's messages from the new
   * one's by time ends the former and keeps the latter; one without this method is ended
   * and the connection starts afresh.
   */
  switchSocket?(since: bigint): void;
  /**
   * A direction's first bytes, arriving after the other direction has carried some: true
   * when they say the key now names another connection (the other kind of message than
   * the traced process's role puts there). The connection then starts afresh.
   */
  contradicts?(direction: Direction, bytes: Uint8Array): boolean;
  /** Time passes: drop what waited too long for its other half. */
  tick(nowMonoNs: bigint): void;
  /** The connection is over (closed, evicted, reused or the run ends): emit what can be. */
  end(): void;
}

/** What a parser knows of its connection; the fields follow the connection as it changes. */
export interface ParserConnection {
  /** Host pid (tgid) of the traced process. */
  readonly pid: number;
  /** Connection key within the process. */
  readonly conn: string;
  /** Which end of the connection the traced process is. */
  readonly role: "client" | "server";
  /**
   * The process's other spans of this family come from elsewhere (Go's net/http probes):
   * only RPC calls get spans here, see {@linkcode Protocol.carriesRpc}.
   */
  readonly rpcOnly: boolean;
  /** Plaintext decrypted from TLS (`url.scheme` https), as of the latest chunk. */
  readonly secure: boolean;
  /** The socket under the connection, once known (it may come after the first exchange). */
  readonly socket: SocketInfo | undefined;
  /** Where this connection's protocol counts. */
  readonly counters: ProtocolCounters;
  /** What every connection of the span stage shares. */
  readonly env: ProtocolEnv;
  /**
   * The connection continues as the registry's protocol named `protocol` (the old one has
   * seen the switch agreed): its {@linkcode Protocol.resume} parser gets `carry`, then
   * `rest` (each direction's bytes from where the new protocol begins, as far as they have
   * come, in order), then every later byte. True: the caller is dropped (not ended) and
   * must use no more bytes; false (no such protocol can resume): it carries on.
   */
  handOver(protocol: string, carry: unknown, rest: readonly HeldBytes[]): boolean;
}

/** Counters every protocol reports into (a family's counters extend them). */
export interface ProtocolCounters extends ReassemblyCounters {
  /** Gaps passed to the parsers (known truncations and lost stretches). */
  gaps: number;
  /** Bytes covered by those gaps. */
  gapBytes: number;
  /** Of those, holes left by lost or very late records. */
  lostGaps: number;
  /** Connection keys reused by a new connection. */
  connectionResets: number;
  /** Spans produced. */
  spans: number;
  /** Protocol problems (each one makes a parser resynchronise or drop a message). */
  parseErrors: number;
}

/** Fresh zeroed counters, for a family's counters to extend. */
export function newProtocolCounters(): ProtocolCounters {
  return {
    duplicateChunks: 0,
    outOfOrderChunks: 0,
    gaps: 0,
    gapBytes: 0,
    lostGaps: 0,
    connectionResets: 0,
    spans: 0,
    parseErrors: 0,
  };
}

/** What the span stage shares with every parser. */
export interface ProtocolEnv {
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  /** Resource attributes of a process. */
  resource(pid: number): Attributes;
  /** Receives each finished span. */
  onSpan(span: Span): void;
  /** Ids for new spans. */
  ids: IdGenerator;
  /** Client requests' ids offered to the traced servers they call (`src/context`). */
  peers: PeerLinks;
  /** The request each thread is serving, to parent the calls it makes (`src/context`). */
  threads: ThreadRequests;
  /**
   * Calls served from the bytes whose handlers' goroutines Go's probes see (grpc-go's), to
   * give those goroutines' calls their call's span as parent (`src/context`). Default: none.
   */
  served?: ServedStreams;
  /**
   * Calls made from the bytes whose callers' goroutines Go's probes see (grpc-go's client),
   * to give those calls their caller as parent (`src/context`). Default: none.
   */
  callers?: CallerStreams;
  /** Incoming `traceparent`s, to know one a proxy passes on (`src/context`). */
  received: ReceivedHeaders;
  /**
   * Connections with exchanges waiting for their traced client's offer: looked at again
   * right after each read of the rings, not only at the next tick. Default: none.
   */
  offerWaiters?: Set<OfferWaiter>;
  /** Limits and switches, shared by all protocols. */
  limits: ProtocolLimits;
}

/** A connection whose exchanges wait for an offer (see {@linkcode ProtocolEnv.offerWaiters}). */
export interface OfferWaiter {
  /** Looks for the offers again; false once nothing waits any more. */
  lookAgain(nowMonoNs: bigint): boolean;
}

/** Limits and switches of the span stage that parsers read. */
export interface ProtocolLimits {
  /** Largest header block accepted. */
  maxHeaderBytes: number;
  /** Requests in flight per connection; beyond it the oldest is dropped. */
  maxPipelined: number;
  /** A request without a response for this long is dropped by `tick`. */
  requestTimeoutNs: bigint;
  /** How long a finished exchange waits for its connection's socket addresses (0: never). */
  socketWaitNs: bigint;
  /**
   * How long a server's finished exchange on this host whose request found no traced
   * client's offer waits for it (0: never; see `request_links.ts`).
   */
  offerWaitNs: bigint;
  /** Put statements in `db.query.text` as sent, literals included. */
  fullQueryText?: boolean;
  /** Most bytes of statement text kept per statement. Default 64 KiB. */
  maxTextBytes?: number;
}

/** A client-side exchange's trace context: the child of what its thread is serving, if any. */
export function childOfThread(
  connection: ParserConnection,
  tid: number,
  monoNs: bigint,
): TraceContext | undefined {
  const parent = connection.env.threads.parentOf(connection.pid, tid, monoNs);
  return parent && {
    traceId: parent.traceId,
    spanId: connection.env.ids.spanId(),
    parentSpanId: parent.spanId,
    sampled: parent.sampled,
    via: "thread",
  };
}
