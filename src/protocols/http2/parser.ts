/**
 * The HTTP/2 parser of one connection (prior-knowledge h2c, or h2 over TLS): the traced
 * process's role says which direction is the client's; streams are followed by
 * `connection.ts` and each finished one becomes a span (`exchange.ts`). Trace context is
 * fixed when a request's headers arrive, as for HTTP/1: a server continues a `traceparent`
 * or a traced caller on this host, a client is the child of what its thread serves.
 *
 * @module
 */
import type { Direction, SocketInfo } from "../../model/stream_chunk.ts";
import type { TraceContext } from "../../model/trace_context.ts";
import { clientToServer } from "../../context/peer_links.ts";
import {
  http1RequestContext as requestContext,
  type HttpExchangeContext,
} from "../http1/semconv.ts";
import type { HttpCounters } from "../http1/parser.ts";
import type { ConnectionParser, ParserConnection } from "../protocol.ts";
import { Http2Connection, type Http2Exchange, type Http2Message, type Side } from "./connection.ts";
import { http2Span, requestRecord } from "./exchange.ts";

/**
 * One connection's HTTP/2 parser.
 *
 * @example
 * ```ts ignore
 * const parser = new Http2ConnectionParser(connection); // role known
 * parser.data("ingress", bytes, monoNs, tid);
 * parser.end();
 * ```
 */
export class Http2ConnectionParser implements ConnectionParser {
  readonly #c: ParserConnection;
  readonly #counters: HttpCounters;
  readonly #server: boolean;
  readonly #h2: Http2Connection;
  /** Each request's span ids, fixed when its headers arrive. */
  readonly #contexts = new WeakMap<Http2Message, TraceContext>();
  /** Requests seen before the socket was known: linked once it is (bounded). */
  #unlinked: Http2Message[] = [];
  /** Finished exchanges waiting (up to `socketWaitNs`) for the socket's addresses. */
  #awaitingSocket: Http2Exchange[] = [];
  #dropped = 0;
  #lostBlocks = 0;

  constructor(connection: ParserConnection) {
    this.#c = connection;
    this.#counters = connection.counters as HttpCounters;
    this.#server = connection.role === "server";
    this.#h2 = new Http2Connection({
      clientSide: 0,
      maxStreams: Math.max(16, connection.env.limits.maxPipelined * 4),
      maxHeaderBlockBytes: connection.env.limits.maxHeaderBytes,
      onRequest: (_id, m) => this.#link(m),
      onExchange: (x) => this.#done(x),
    });
  }

  /** Side 0 is the client's bytes: what a server reads, what a client writes. */
  #side(direction: Direction): Side {
    return (direction === "ingress") === this.#server ? 0 : 1;
  }

  data(direction: Direction, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    this.#h2.push(this.#side(direction), bytes, monoNs, tid);
    this.#count();
  }

  gap(direction: Direction, size: number, monoNs: bigint): void {
    this.#h2.gap(this.#side(direction), size, monoNs);
    this.#count();
  }

  socket(_info: SocketInfo): void {
    const unlinked = this.#unlinked;
    this.#unlinked = [];
    for (const m of unlinked) this.#link(m);
    this.#release();
  }

  tick(nowMonoNs: bigint): void {
    const limits = this.#c.env.limits;
    this.#h2.tick(nowMonoNs, limits.requestTimeoutNs);
    this.#count();
    const first = this.#awaitingSocket[0];
    const last = first?.response?.lastByteMonoNs ?? first?.request.lastByteMonoNs;
    if (last !== undefined && nowMonoNs - last > limits.socketWaitNs) this.#release();
  }

  end(): void {
    this.#h2.end();
    this.#count();
    this.#release();
  }

  /** Streams dropped and header blocks lost since the last look, into the family's counters. */
  #count(): void {
    const { streamsDropped, lostBlocks } = this.#h2.stats;
    this.#counters.requestsDropped += streamsDropped - this.#dropped;
    this.#counters.parseErrors += lostBlocks - this.#lostBlocks;
    this.#dropped = streamsDropped;
    this.#lostBlocks = lostBlocks;
  }

  /** Fixes a request's span ids (see `../http1/parser.ts`, which does the same). */
  #link(m: Http2Message): void {
    const req = requestRecord(m);
    if (req === undefined) return;
    const socket = this.#c.socket;
    if (socket === undefined) {
      if (this.#unlinked.length >= this.#c.env.limits.maxPipelined) this.#unlinked.shift();
      this.#unlinked.push(m);
      return;
    }
    const key = clientToServer(socket, this.#server);
    const { peers, threads, ids } = this.#c.env;
    const line = `${req.method} ${req.target}`;
    if (this.#server) {
      const caller = key === undefined ? undefined : peers.take(key, line);
      const context = requestContext(req, "SERVER", ids, caller);
      this.#contexts.set(m, context);
      threads.begin(this.#c.pid, req.tid, context, req.firstByteMonoNs);
    } else {
      const parent = threads.parentOf(this.#c.pid, req.tid, req.firstByteMonoNs);
      const context = requestContext(req, "CLIENT", ids, parent);
      this.#contexts.set(m, context);
      if (key !== undefined) peers.offer(key, context, line);
    }
  }

  #done(x: Http2Exchange): void {
    const context = this.#contexts.get(x.request);
    if (this.#server && context !== undefined) {
      const end = x.response?.lastByteMonoNs ?? x.request.lastByteMonoNs;
      this.#c.env.threads.end(this.#c.pid, x.request.tid, context, end);
    }
    const wait = this.#c.env.limits.socketWaitNs > 0n;
    if (wait && (this.#c.socket === undefined || this.#awaitingSocket.length > 0)) {
      if (this.#awaitingSocket.length >= this.#c.env.limits.maxPipelined) this.#release();
      this.#awaitingSocket.push(x);
    } else this.#emit(x);
  }

  #release(): void {
    const waiting = this.#awaitingSocket;
    this.#awaitingSocket = [];
    for (const x of waiting) this.#emit(x);
  }

  #emit(x: Http2Exchange): void {
    const c = this.#c;
    const ctx: HttpExchangeContext = {
      kind: this.#server ? "SERVER" : "CLIENT",
      scheme: c.secure ? "https" : "http",
      socket: c.socket,
      resource: c.env.resource(c.pid),
      toUnixNano: c.env.toUnixNano,
      ids: c.env.ids,
    };
    const span = http2Span(x, ctx, this.#contexts.get(x.request));
    if (span === undefined) {
      this.#counters.requestsDropped++; // too little known of it for a span
      return;
    }
    this.#counters.spans++;
    c.env.onSpan(span);
  }
}
