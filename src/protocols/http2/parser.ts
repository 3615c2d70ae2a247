/**
 * The HTTP/2 parser of one connection (prior-knowledge h2c, h2 over TLS, or h2c handed over
 * by HTTP/1 after `Upgrade: h2c`, its request as stream 1): the traced
 * process's role says which direction is the client's; streams are followed by
 * `connection.ts` and each finished one becomes a span (`exchange.ts`). Trace context is
 * fixed when a request's headers arrive, as for HTTP/1: a server continues a `traceparent`
 * or a traced caller on this host, a client is the child of what its thread serves. In a
 * process whose HTTP spans its own probes make (Go's net/http), only gRPC calls are
 * followed: grpc-go has its own HTTP/2 transport, which no net/http probe sees.
 *
 * @module
 */
import type { Direction, SocketInfo } from "../../model/stream_chunk.ts";
import type { HttpExchangeContext } from "../http1/semconv.ts";
import { requestFields } from "../http/headers.ts";
import { RequestLinks } from "../http/request_links.ts";
import type { HttpCounters } from "../http1/parser.ts";
import type { ConnectionParser, ParserConnection } from "../protocol.ts";
import {
  field,
  Http2Connection,
  type Http2Exchange,
  type Http2Message,
  isGrpc,
  type Side,
} from "./connection.ts";
import { http2Span, requestRecord } from "./exchange.ts";
import type { UpgradedRequest } from "../http1/upgrade.ts";
import { upgradedMessage } from "./upgrade.ts";

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
  /** Span ids of requests, and exchanges waiting for the socket's addresses. */
  readonly #links: RequestLinks<Http2Message, Http2Exchange>;
  #dropped = 0;
  #lostBlocks = 0;

  /**
   * Opens the parser of `connection`, whose role is known; `upgraded`: HTTP/1 handed it
   * over after this request's `Upgrade: h2c` was agreed, and the client's bytes begin with
   * the preface.
   */
  constructor(connection: ParserConnection, upgraded?: UpgradedRequest) {
    this.#c = connection;
    this.#counters = connection.counters as HttpCounters;
    this.#server = connection.role === "server";
    this.#links = new RequestLinks(connection, (x) => this.#emit(x));
    this.#h2 = new Http2Connection({
      clientSide: 0,
      maxStreams: Math.max(16, connection.env.limits.maxPipelined * 4),
      maxHeaderBlockBytes: connection.env.limits.maxHeaderBytes,
      onRequest: (id, m) => this.#link(m, id),
      onExchange: (x) => this.#done(x),
    });
    if (upgraded !== undefined) {
      const m = upgradedMessage(upgraded.request);
      this.#h2.expectPreface(0);
      this.#h2.openUpgraded(m, isGrpc(m.headers));
      if (upgraded.context !== undefined) this.#links.adopt(m, upgraded.context);
      else this.#link(m);
    }
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
    this.#links.socket();
  }

  tick(nowMonoNs: bigint): void {
    const limits = this.#c.env.limits;
    this.#h2.tick(nowMonoNs, limits.requestTimeoutNs);
    this.#count();
    this.#links.tick(nowMonoNs);
  }

  end(): void {
    this.#h2.end();
    this.#count();
    this.#links.release();
  }

  /** Streams dropped and header blocks lost since the last look, into the family's counters. */
  #count(): void {
    const { streamsDropped, lostBlocks } = this.#h2.stats;
    this.#counters.requestsDropped += streamsDropped - this.#dropped;
    this.#counters.parseErrors += lostBlocks - this.#lostBlocks;
    this.#dropped = streamsDropped;
    this.#lostBlocks = lostBlocks;
  }

  /**
   * Whether a stream gets a span here: every one, or only gRPC calls where the process's
   * other HTTP spans come from its own probes (Go's net/http).
   */
  #traced(request: Http2Message): boolean {
    return !this.#c.rpcOnly || isGrpc(request.headers);
  }

  /** Fixes a request's span ids (`../http/request_links.ts`). */
  #link(m: Http2Message, stream?: number): void {
    if (!this.#traced(m)) {
      // A POST that is no gRPC call: a Go handler that may have been one need not wait.
      if (stream !== undefined && field(m.headers?.fields ?? [], ":method") === "POST") {
        this.#links.untraced(stream);
      }
      return;
    }
    const req = requestRecord(m);
    if (req === undefined) return;
    this.#links.head(m, {
      tid: req.tid,
      firstByteMonoNs: req.firstByteMonoNs,
      line: `${req.method} ${req.target}`,
      traceparent: requestFields(req.headers).traceparent,
      ...(stream === undefined ? {} : { stream }),
    });
  }

  #done(x: Http2Exchange): void {
    if (!this.#traced(x.request)) return;
    const end = x.response?.lastByteMonoNs ?? x.request.lastByteMonoNs;
    this.#links.done(x.request, x.request.tid, x, end);
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
    const span = http2Span(x, ctx, this.#links.context(x.request));
    if (span === undefined) {
      this.#counters.requestsDropped++; // too little known of it for a span
      return;
    }
    this.#counters.spans++;
    c.env.onSpan(span);
  }
}
