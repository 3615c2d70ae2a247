/**
 * One traced connection carrying HTTP/1.x: both directions' reassembly and parsing, which
 * side the traced process is on, and request/response pairing into spans.
 *
 * Role: the first direction whose opening bytes look like HTTP decides it. A process that
 * reads requests (or writes responses) is the SERVER of the connection; one that writes
 * requests (or reads responses) is the CLIENT. Responses pair with requests first in, first
 * out, which is what HTTP/1.1 pipelining guarantees.
 *
 * @module
 */
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import type { Attributes, Span } from "../model/span.ts";
import {
  type ReassemblyCounters,
  StreamReassembler,
  type StreamReassemblerOptions,
  type StreamSink,
} from "../streams/reassembler.ts";
import { Http1Parser, type Http1Request, type Http1Response, sniffHttp1 } from "./http1.ts";
import { type HttpExchangeContext, httpExchangeSpan, requestContext } from "./http_semconv.ts";
import { clientToServer, type PeerLinks } from "../context/peer_links.ts";
import type { TraceContext } from "../model/trace_context.ts";
import type { ThreadRequests } from "../context/thread_requests.ts";
import type { IdGenerator } from "../model/ids.ts";

/** Counters shared by all connections of one span builder. */
export interface HttpCounters extends ReassemblyCounters {
  /** Gaps passed to the parsers (known truncations and lost stretches). */
  gaps: number;
  /** Bytes covered by those gaps. */
  gapBytes: number;
  /** Of those, holes left by lost or very late records. */
  lostGaps: number;
  /** Connection keys reused by a new connection (`pos` back to 0). */
  connectionResets: number;
  /** Spans produced. */
  spans: number;
  /** HTTP framing problems (each one makes a parser resynchronise). */
  parseErrors: number;
  /** Requests dropped without a response (timeout, too many in flight, connection gone). */
  requestsDropped: number;
  /** Final responses with no request to pair with. */
  unpairedResponses: number;
  /** Connections given up on as not HTTP/1. */
  nonHttpConnections: number;
}

/** Fresh zeroed counters. */
export function newHttpCounters(): HttpCounters {
  return {
    duplicateChunks: 0,
    outOfOrderChunks: 0,
    gaps: 0,
    gapBytes: 0,
    lostGaps: 0,
    connectionResets: 0,
    spans: 0,
    parseErrors: 0,
    requestsDropped: 0,
    unpairedResponses: 0,
    nonHttpConnections: 0,
  };
}

/** Settings shared by all connections of one span builder. */
export interface HttpConnectionConfig {
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  /** Resource attributes of a process. */
  resource(pid: number): Attributes;
  /** Receives each span. */
  onSpan(span: Span): void;
  /** Ids for new spans. */
  ids: IdGenerator;
  /** Where to count. */
  counters: HttpCounters;
  /** Reassembly limits. */
  reassembly: StreamReassemblerOptions;
  /** Header block limit per message. */
  maxHeaderBytes: number;
  /** Most requests waiting for responses on one connection; the oldest is dropped. */
  maxPipelined: number;
  /** A request older than this without a response is dropped by `tick`. */
  requestTimeoutNs: bigint;
  /**
   * How long a finished exchange waits for its connection's socket addresses. They are
   * learnt from the first socket syscall inside an SSL call, which for a connection
   * whose first request was already buffered during the handshake is the response's
   * own write, just after the response's bytes were captured. 0: never wait.
   */
  socketWaitNs: bigint;
  /** Shared by every connection: client requests' ids for the traced servers they call. */
  peers: PeerLinks;
  /** Told when a connection is found not to carry HTTP, so its bytes can stop coming. */
  onNotHttp?: (pid: number, conn: string) => void;
  /** Shared by every connection: the requests each thread is serving, to parent its calls. */
  threads: ThreadRequests;
}

/** Which end of the connection the traced process is. */
export type ConnectionRole = "unknown" | "server" | "client" | "not-http";

type Dir = 0 | 1;
const INGRESS: Dir = 0;
const EGRESS: Dir = 1;
/** Opening pieces that may fail to look like HTTP before the connection is given up. */
const MAX_SNIFF_MISSES = 8;
const MAX_SNIFF_BYTES = 64;

/**
 * One connection of one process.
 *
 * @example
 * ```ts ignore
 * const c = new HttpConnection(pid, "0x7f00…", config);
 * c.push(chunk); // StreamChunk of this connection, either direction
 * c.tick(nowMonoNs);
 * c.close(); // connection gone or end of run
 * ```
 */
export class HttpConnection {
  /** Host pid (tgid) of the process. */
  readonly pid: number;
  /** Connection key within the process. */
  readonly conn: string;
  /** Monotonic time of the latest activity, kept by the owner for idle eviction. */
  lastSeenMonoNs = 0n;
  readonly #cfg: HttpConnectionConfig;
  readonly #streams: [StreamReassembler, StreamReassembler];
  #role: ConnectionRole = "unknown";
  /** Parsers by direction once the role is known. */
  #parsers: [Http1Parser<"request" | "response">, Http1Parser<"request" | "response">] | null =
    null;
  #requests: Http1Parser<"request"> | null = null;
  #responses: Http1Parser<"response"> | null = null;
  /** Whether each direction has carried anything since the connection (re)started. */
  #seen: [boolean, boolean] = [false, false];
  /** Requests whose head was seen, waiting for a final response, oldest first. */
  #pending: Http1Request[] = [];
  /** The request the response being read answers. */
  #inflight: Http1Request | undefined;
  /**
   * A response that arrived before any request it could answer (its request's records may
   * be late); paired with the next request if that request started no later.
   */
  #orphan: Http1Response | undefined;
  #orphanDone = false;
  #ctx: HttpExchangeContext;
  /** Each request's span ids, fixed when its head is seen. */
  #contexts = new WeakMap<Http1Request, TraceContext>();
  /** Requests whose head came before the socket: linked to their peer once it is known. */
  #unlinked: Http1Request[] = [];
  /** Finished exchanges waiting (up to `socketWaitNs`) for the socket's addresses. */
  #awaitingSocket: { req: Http1Request; resp: Http1Response }[] = [];
  /** Socket info arrived after the last chunk (so it belongs to any new connection). */
  #socketFresh = false;
  // Role detection, per direction.
  #sniffBuf: [Uint8Array | null, Uint8Array | null] = [null, null];
  #sniffMonoNs: [bigint, bigint] = [0n, 0n];
  #sniffTid: [number, number] = [0, 0];
  #lostStart: [boolean, boolean] = [false, false];
  #sniffMisses = 0;

  /** Starts tracking one connection; `config` is shared and not copied. */
  constructor(pid: number, conn: string, config: HttpConnectionConfig) {
    this.pid = pid;
    this.conn = conn;
    this.#cfg = config;
    this.#ctx = {
      kind: "SERVER",
      scheme: "https",
      socket: undefined,
      resource: {},
      toUnixNano: config.toUnixNano,
      ids: config.ids,
    };
    const opts = { ...config.reassembly, counters: config.counters };
    this.#streams = [
      new StreamReassembler(this.#sink(INGRESS), opts),
      new StreamReassembler(this.#sink(EGRESS), opts),
    ];
  }

  /** Which end the traced process is, once known. */
  get role(): ConnectionRole {
    return this.#role;
  }

  /** Next stream position of each direction: [ingress, egress]. */
  get positions(): [number, number] {
    return [this.#streams[INGRESS].position, this.#streams[EGRESS].position];
  }

  /** Whether either direction has carried anything yet. */
  get seen(): boolean {
    return this.#seen[INGRESS] || this.#seen[EGRESS] || this.#sniffBuf.some((b) => b !== null);
  }

  /** The socket under the connection, once known. */
  get socket(): SocketInfo | undefined {
    return this.#ctx.socket;
  }

  /** Requests waiting for a response. */
  get pendingRequests(): number {
    return this.#pending.length;
  }

  /** Takes a chunk of either direction. */
  push(chunk: StreamChunk): void {
    this.#ctx.scheme = chunk.secure ? "https" : "http";
    this.#streams[chunk.direction === "ingress" ? INGRESS : EGRESS].push(chunk);
    this.#socketFresh = false;
  }

  /**
   * Records the socket under the key. Another socket for a key that has carried data
   * means the key now names a new connection.
   */
  setSocket(info: SocketInfo): void {
    const old = this.#ctx.socket;
    if (old !== undefined && old.socket !== info.socket) this.#switchSocket(info.callMonoNs);
    this.#ctx.socket = info;
    this.#socketFresh = true;
    const unlinked = this.#unlinked;
    this.#unlinked = [];
    for (const req of unlinked) this.#link(req);
    this.#releaseAwaiting();
  }

  /**
   * The key has moved to a new connection whose first call began at `since`. Stream
   * offsets go on counting across the move, so the streams stay; what was begun before
   * `since` belonged to the old connection and is dropped, while a message the new
   * connection already began (a request written just before its socket was seen) stays.
   */
  #switchSocket(since: bigint): void {
    this.#cfg.counters.connectionResets++;
    this.#releaseAwaiting(); // finished exchanges of the old connection, with its socket
    for (const parser of [this.#requests, this.#responses]) {
      const started = parser?.inProgressSince;
      if (started !== undefined && started < since) parser!.end(); // completes read-until-close
    }
    const old = this.#pending.filter((r) => r.firstByteMonoNs < since);
    if (old.length > 0) {
      this.#cfg.counters.requestsDropped += old.length;
      this.#pending = this.#pending.filter((r) => r.firstByteMonoNs >= since);
    }
    if (this.#inflight !== undefined && this.#inflight.firstByteMonoNs < since) {
      this.#cfg.counters.requestsDropped++;
      this.#inflight = undefined;
    }
    if (this.#orphan !== undefined && this.#orphan.firstByteMonoNs < since) this.#dropOrphan();
  }

  /** Declares overdue holes lost and drops requests that waited too long for a response. */
  tick(nowMonoNs: bigint): void {
    this.#streams[INGRESS].tick(nowMonoNs);
    this.#streams[EGRESS].tick(nowMonoNs);
    const pending = this.#pending;
    const timeout = this.#cfg.requestTimeoutNs;
    while (pending.length > 0 && nowMonoNs - pending[0]!.firstByteMonoNs > timeout) {
      pending.shift();
      this.#cfg.counters.requestsDropped++;
    }
    const orphan = this.#orphan;
    if (orphan !== undefined && nowMonoNs - orphan.firstByteMonoNs > timeout) this.#dropOrphan();
    const first = this.#awaitingSocket[0];
    if (first && nowMonoNs - first.resp.lastByteMonoNs > this.#cfg.socketWaitNs) {
      this.#releaseAwaiting();
    }
  }

  /**
   * The connection is gone (or the run ends): passes on what is held, ends both streams
   * (a response read until close completes here) and drops unanswered requests.
   */
  close(): void {
    this.#streams[INGRESS].flush();
    this.#streams[EGRESS].flush();
    this.#requests?.end();
    this.#responses?.end();
    this.#cfg.counters.requestsDropped += this.#pending.length;
    this.#pending = [];
    this.#inflight = undefined;
    this.#dropOrphan();
    this.#releaseAwaiting();
  }

  /** Emits the exchanges that were waiting for socket addresses, with what is known now. */
  #releaseAwaiting(): void {
    const waiting = this.#awaitingSocket;
    if (waiting.length === 0) return;
    this.#awaitingSocket = [];
    for (const { req, resp } of waiting) this.#emitNow(req, resp);
  }

  #sink(dir: Dir): StreamSink {
    return {
      data: (bytes, monoNs, tid) => {
        if (!this.#seen[dir]) {
          if (this.#seen[dir === INGRESS ? EGRESS : INGRESS] && this.#contradicts(dir, bytes)) {
            this.#reset(dir);
          }
          this.#seen[dir] = true;
        }
        const parsers = this.#parsers;
        if (parsers !== null) parsers[dir].data(bytes, monoNs, tid);
        else if (this.#role === "unknown") this.#sniff(dir, bytes, monoNs, tid);
      },
      gap: (size, monoNs, lost) => {
        const c = this.#cfg.counters;
        c.gaps++;
        c.gapBytes += size;
        if (lost) c.lostGaps++;
        this.#seen[dir] = true;
        const parsers = this.#parsers;
        if (parsers !== null) parsers[dir].gap(size, monoNs);
        else {
          this.#sniffBuf[dir] = null;
          this.#lostStart[dir] = true;
        }
      },
      reset: () => this.#reset(dir),
    };
  }

  /**
   * The key now names a new connection: ends the old one's messages (a response read until
   * close is complete now) and forgets it. `keep` is the direction whose reassembler
   * detected the reuse and has already reset itself.
   */
  #reset(keep: Dir | undefined): void {
    this.#cfg.counters.connectionResets++;
    this.#releaseAwaiting();
    this.#requests?.end();
    this.#responses?.end();
    this.#cfg.counters.requestsDropped += this.#pending.length;
    if (keep !== EGRESS) this.#streams[EGRESS].reset();
    if (keep !== INGRESS) this.#streams[INGRESS].reset();
    this.#seen = [false, false];
    this.#role = "unknown";
    this.#parsers = null;
    this.#requests = null;
    this.#responses = null;
    this.#pending = [];
    this.#inflight = undefined;
    this.#dropOrphan();
    if (!this.#socketFresh) this.#ctx.socket = undefined;
    this.#sniffBuf = [null, null];
    this.#lostStart = [false, false];
    this.#sniffMisses = 0;
    this.#unlinked = [];
  }

  /**
   * A direction's first bytes say the key changed hands: they carry the other kind of
   * message than the known role puts there (or HTTP on a connection given up as not HTTP).
   */
  #contradicts(dir: Dir, bytes: Uint8Array): boolean {
    if (this.#role === "unknown") return false;
    const verdict = sniffHttp1(bytes);
    if (verdict !== "request" && verdict !== "response") return false;
    if (this.#role === "not-http") return true;
    const requestsHere = (dir === INGRESS) === (this.#role === "server");
    return requestsHere !== (verdict === "request");
  }

  /** Looks at a direction's opening bytes until they say request, response or neither. */
  #sniff(dir: Dir, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    const prev = this.#sniffBuf[dir];
    const probe = prev === null ? bytes : concat(prev, bytes.subarray(0, MAX_SNIFF_BYTES));
    let verdict = sniffHttp1(probe);
    if (verdict === "more" && probe.length > MAX_SNIFF_BYTES) verdict = "no";
    if (verdict === "more") {
      if (prev === null) {
        this.#sniffMonoNs[dir] = monoNs;
        this.#sniffTid[dir] = tid;
      }
      this.#sniffBuf[dir] = prev === null ? bytes.slice() : probe;
      return;
    }
    if (verdict === "no") {
      this.#sniffBuf[dir] = null;
      this.#lostStart[dir] = true;
      if (++this.#sniffMisses >= MAX_SNIFF_MISSES) {
        this.#role = "not-http";
        this.#sniffBuf = [null, null];
        this.#cfg.counters.nonHttpConnections++;
        this.#cfg.onNotHttp?.(this.pid, this.conn);
      }
      return;
    }
    const requestDir: Dir = (verdict === "request") === (dir === INGRESS) ? INGRESS : EGRESS;
    this.#begin(requestDir === INGRESS ? "server" : "client");
    // Feed what was held back, requests first so that responses find them.
    for (const d of [requestDir, requestDir === INGRESS ? EGRESS : INGRESS] as const) {
      const parser = this.#parsers![d];
      if (this.#lostStart[d]) parser.gap(0, monoNs);
      const held = this.#sniffBuf[d];
      if (held !== null && d !== dir) parser.data(held, this.#sniffMonoNs[d], this.#sniffTid[d]);
      if (d === dir) {
        // `probe` is the held prefix followed by (the start of) this piece.
        if (prev === null) parser.data(bytes, monoNs, tid);
        else {
          parser.data(prev, this.#sniffMonoNs[d], this.#sniffTid[d]);
          parser.data(bytes, monoNs, tid);
        }
      }
    }
    this.#sniffBuf = [null, null];
    this.#lostStart = [false, false];
  }

  #begin(role: "server" | "client"): void {
    this.#role = role;
    this.#ctx.kind = role === "server" ? "SERVER" : "CLIENT";
    const cfg = this.#cfg;
    const counters = cfg.counters;
    const onProblem = () => counters.parseErrors++;
    const requests = new Http1Parser("request", {
      maxHeaderBytes: cfg.maxHeaderBytes,
      onProblem,
      onHead: (req) => this.#requestHead(req),
      onMessage: () => {},
    });
    const responses = new Http1Parser("response", {
      maxHeaderBytes: cfg.maxHeaderBytes,
      onProblem,
      requestMethod: () => this.#pending[0]?.method,
      onHead: (resp) => this.#responseHead(resp),
      onMessage: (resp) => this.#responseDone(resp),
    });
    this.#requests = requests;
    this.#responses = responses;
    this.#parsers = role === "server" ? [requests, responses] : [responses, requests];
  }

  /**
   * Fixes a request's span ids. A client offers them under its connection's addresses;
   * a server takes those of the traced client on the other end, if any (`peer_links.ts`).
   */
  #link(req: Http1Request): void {
    const socket = this.#ctx.socket;
    const server = this.#role === "server";
    if (socket === undefined) {
      // Bounded: a connection whose socket is never learnt must not grow this forever.
      if (this.#unlinked.length >= this.#cfg.maxPipelined) this.#unlinked.shift();
      this.#unlinked.push(req);
      return;
    }
    const key = clientToServer(socket, server);
    const peers = this.#cfg.peers;
    if (server) {
      const caller = key === undefined ? undefined : peers.take(key, requestLine(req));
      const context = requestContext(req, "SERVER", this.#cfg.ids, caller);
      this.#contexts.set(req, context);
      this.#cfg.threads.begin(this.pid, req.tid, context, req.firstByteMonoNs);
    } else {
      // A call made by a thread while it serves a request is that request's child.
      const parent = this.#cfg.threads.parentOf(this.pid, req.tid, req.firstByteMonoNs);
      const context = requestContext(req, "CLIENT", this.#cfg.ids, parent);
      this.#contexts.set(req, context);
      if (key !== undefined) peers.offer(key, context, requestLine(req));
    }
  }

  #requestHead(req: Http1Request): void {
    const orphan = this.#orphan;
    if (orphan !== undefined) {
      if (this.#pending.length === 0 && req.firstByteMonoNs <= orphan.firstByteMonoNs) {
        // The response was early: this is its request.
        this.#link(req);
        this.#orphan = undefined;
        if (this.#orphanDone) this.#emit(req, orphan);
        else this.#inflight = req;
        return;
      }
      this.#dropOrphan();
    }
    this.#link(req);
    if (this.#pending.length >= this.#cfg.maxPipelined) {
      this.#pending.shift();
      this.#cfg.counters.requestsDropped++;
    }
    this.#pending.push(req);
  }

  #responseHead(resp: Http1Response): void {
    const req = this.#pending[0];
    // A response cannot answer a request that started after it.
    if (req !== undefined && req.firstByteMonoNs <= resp.firstByteMonoNs) {
      this.#pending.shift();
      this.#inflight = req;
      return;
    }
    this.#inflight = undefined;
    this.#dropOrphan();
    this.#orphan = resp;
    this.#orphanDone = false;
  }

  #responseDone(resp: Http1Response): void {
    const req = this.#inflight;
    this.#inflight = undefined;
    if (req !== undefined) this.#emit(req, resp);
    else if (resp === this.#orphan) this.#orphanDone = true;
  }

  #dropOrphan(): void {
    if (this.#orphan === undefined) return;
    this.#orphan = undefined;
    this.#cfg.counters.unpairedResponses++;
    // (A traced client's offer for the request this answered is passed over by the next
    // request's lookup: offers are matched by request line.)
  }

  #emit(req: Http1Request, resp: Http1Response): void {
    const context = this.#contexts.get(req);
    if (this.#role === "server" && context) {
      this.#cfg.threads.end(this.pid, req.tid, context, resp.lastByteMonoNs);
    }
    const wait = this.#cfg.socketWaitNs > 0n;
    if (wait && (this.#ctx.socket === undefined || this.#awaitingSocket.length > 0)) {
      this.#awaitingSocket.push({ req, resp });
    } else {
      this.#emitNow(req, resp);
    }
    if (
      resp.status === 101 ||
      (req.method === "CONNECT" && resp.status >= 200 && resp.status < 300)
    ) {
      this.#requests?.stop(); // a tunnel or another protocol from here on
    }
  }

  #emitNow(req: Http1Request, resp: Http1Response): void {
    const ctx = this.#ctx;
    ctx.resource = this.#cfg.resource(this.pid);
    const span = httpExchangeSpan(req, resp, ctx, this.#contexts.get(req));
    this.#cfg.counters.spans++;
    this.#cfg.onSpan(span);
  }
}

/** What both ends of a connection see of a request: its method and target. */
function requestLine(req: Http1Request): string {
  return `${req.method} ${req.target}`;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
