/**
 * The HTTP/1.x parser of one connection: request and response framing in the directions
 * the traced process's role puts them, pairing responses with requests first in, first
 * out (what HTTP/1.1 pipelining guarantees), and one span per exchange.
 *
 * Role (from the connection's sniffing, see `protocol.ts`): a process that reads requests
 * (or writes responses) is the SERVER of the connection; one that writes requests (or
 * reads responses) is the CLIENT.
 *
 * A request asking to upgrade to a protocol the registry parses (`upgrade.ts`: h2c) holds
 * back what its client sends next until the answer: a 101 hands the connection over to
 * that protocol from the byte after each side's HTTP/1 (the request, the 101's head), with
 * no span for the 101 -- the request's span is the new protocol's; any other answer lets
 * the held bytes go on as HTTP/1.
 *
 * @module
 */
import type { Direction, SocketInfo } from "../../model/stream_chunk.ts";
import { Http1Parser, type Http1Request, type Http1Response, sniffHttp1 } from "./framer.ts";
import { type HttpExchangeContext, httpExchangeSpan } from "./semconv.ts";
import { requestFields } from "../http/headers.ts";
import { RequestLinks } from "../http/request_links.ts";
import { type UpgradedRequest, upgradeProtocol } from "./upgrade.ts";
import {
  type ConnectionParser,
  type HeldBytes,
  newProtocolCounters,
  type ParserConnection,
  type ProtocolCounters,
} from "../protocol.ts";

/** The HTTP family's counters: the span stage's own. */
export interface HttpCounters extends ProtocolCounters {
  /** Requests dropped without a response (timeout, too many in flight, connection gone). */
  requestsDropped: number;
  /** Final responses with no request to pair with. */
  unpairedResponses: number;
  /** Connections every HTTP protocol gave up on. */
  nonHttpConnections: number;
}

/** Fresh zeroed counters. */
export function newHttpCounters(): HttpCounters {
  return {
    ...newProtocolCounters(),
    requestsDropped: 0,
    unpairedResponses: 0,
    nonHttpConnections: 0,
  };
}

/**
 * The HTTP/1 parser of one connection.
 *
 * @example
 * ```ts ignore
 * const parser = new Http1ConnectionParser(connection); // role known
 * parser.data("ingress", bytes, monoNs, tid);
 * parser.end();
 * ```
 */
export class Http1ConnectionParser implements ConnectionParser {
  readonly #c: ParserConnection;
  readonly #counters: HttpCounters;
  readonly #pid: number;
  readonly #server: boolean;
  readonly #requests: Http1Parser<"request">;
  readonly #responses: Http1Parser<"response">;
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
  /** Span ids of requests, and exchanges waiting for the socket's addresses. */
  readonly #links: RequestLinks<Http1Request, { req: Http1Request; resp: Http1Response }>;
  /** A request asking to switch to a protocol the registry parses, until its answer. */
  #upgrade: { req: Http1Request; protocol: string } | undefined;
  /** What its client sent after it, held until the answer says whose bytes they are. */
  #afterUpgrade: HeldBytes[] = [];
  #afterUpgradeBytes = 0;
  /** The 101 that agreed: the connection is handed over once its head's bytes are used. */
  #switching: { req: Http1Request; resp: Http1Response; protocol: string } | undefined;

  /** Opens the parser of `connection`, whose role is known. */
  constructor(connection: ParserConnection) {
    this.#c = connection;
    // The HTTP family's counters are HttpCounters (see `newHttpCounters`).
    this.#counters = connection.counters as HttpCounters;
    this.#pid = connection.pid;
    this.#server = connection.role === "server";
    this.#links = new RequestLinks(connection, ({ req, resp }) => this.#emitNow(req, resp));
    const limits = connection.env.limits;
    const counters = this.#counters;
    const onProblem = () => counters.parseErrors++;
    this.#requests = new Http1Parser("request", {
      maxHeaderBytes: limits.maxHeaderBytes,
      onProblem,
      onHead: (req) => this.#requestHead(req),
      onMessage: () => {},
    });
    this.#responses = new Http1Parser("response", {
      maxHeaderBytes: limits.maxHeaderBytes,
      onProblem,
      requestMethod: () => this.#pending[0]?.method,
      // A response's fields are read only when it agrees to an upgrade.
      keepFields: (status) => status === 101,
      onHead: (resp) => this.#responseHead(resp),
      onMessage: (resp) => this.#responseDone(resp),
    });
  }

  /** Requests waiting for a response. */
  get pendingRequests(): number {
    return this.#pending.length;
  }

  /** The framer of a direction: requests come in to a server and go out of a client. */
  #framer(direction: Direction): Http1Parser<"request"> | Http1Parser<"response"> {
    return (direction === "ingress") === this.#server ? this.#requests : this.#responses;
  }

  data(direction: Direction, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    const framer = this.#framer(direction);
    const used = framer.data(bytes, monoNs, tid);
    if (used === bytes.length && this.#switching === undefined) return;
    const rest = { direction, bytes: bytes.subarray(used), monoNs, tid };
    if (framer === this.#requests) {
      if (this.#upgrade !== undefined && rest.bytes.length > 0) this.#hold(rest);
    } else if (this.#switching !== undefined) this.#handOver(rest);
  }

  /** Holds client bytes after an upgrade request (bounded: the answer may never come). */
  #hold(rest: HeldBytes): void {
    this.#afterUpgradeBytes += rest.bytes.length;
    if (this.#afterUpgradeBytes > MAX_AFTER_UPGRADE) {
      this.#counters.parseErrors++;
      this.#refuseUpgrade(); // given back to HTTP/1, which resynchronises over them
      return;
    }
    this.#afterUpgrade.push({ ...rest, bytes: rest.bytes.slice() });
  }

  /** The switch is not happening: the held bytes are HTTP/1 after all. */
  #refuseUpgrade(): void {
    const held = this.#afterUpgrade;
    this.#upgrade = undefined;
    this.#afterUpgrade = [];
    this.#afterUpgradeBytes = 0;
    this.#requests.resume();
    for (const h of held) this.#requests.data(h.bytes, h.monoNs, h.tid);
  }

  /**
   * A 101 agreed and `rest` follows its head: the connection continues as the new
   * protocol, which gets the request (its answer is the new protocol's) and the bytes
   * after each side's HTTP/1. If no protocol can take it, the 101 is a span as before.
   */
  #handOver(rest: HeldBytes): void {
    const { req, resp, protocol } = this.#switching!;
    const held = this.#afterUpgrade;
    this.#switching = undefined;
    this.#upgrade = undefined;
    this.#afterUpgrade = [];
    this.#afterUpgradeBytes = 0;
    // The request's body must have ended where HTTP/1 framed it, or the new protocol's
    // first bytes are not known.
    if (this.#requests.stopped) {
      const carry: UpgradedRequest = { request: req, context: this.#links.context(req) };
      this.#links.release(); // earlier exchanges waiting for the socket
      if (rest.bytes.length > 0) held.push(rest);
      if (this.#c.handOver(protocol, carry, held)) return;
    }
    this.#emit(req, resp);
  }

  gap(direction: Direction, size: number, monoNs: bigint, lost: boolean): void {
    const framer = this.#framer(direction);
    // A hole in what an upgrade request's client sent next: the new protocol could not be
    // followed from it, so the switch is not followed (the 101 is a span, as for websocket).
    if (framer === this.#requests && this.#upgrade !== undefined && framer.stopped) {
      this.#refuseUpgrade();
    }
    framer.gap(size, monoNs, lost);
  }

  /** Links the requests seen before the socket and lets waiting exchanges go. */
  socket(_info: SocketInfo): void {
    this.#links.socket();
  }

  /**
   * Stream offsets go on counting across the move, so the framers stay; what was begun
   * before `since` belonged to the old connection and is dropped, while a message the new
   * connection already began (a request written just before its socket was seen) stays.
   */
  switchSocket(since: bigint): void {
    this.#links.release(); // finished exchanges of the old connection, with its socket
    for (const parser of [this.#requests, this.#responses]) {
      const started = parser.inProgressSince;
      if (started !== undefined && started < since) parser.end(); // completes read-until-close
    }
    const old = this.#pending.filter((r) => r.firstByteMonoNs < since);
    if (old.length > 0) {
      this.#counters.requestsDropped += old.length;
      this.#pending = this.#pending.filter((r) => r.firstByteMonoNs >= since);
    }
    if (this.#inflight !== undefined && this.#inflight.firstByteMonoNs < since) {
      this.#counters.requestsDropped++;
      this.#inflight = undefined;
    }
    if (this.#orphan !== undefined && this.#orphan.firstByteMonoNs < since) this.#dropOrphan();
  }

  /**
   * A direction's first bytes say the key changed hands when they carry the other kind of
   * message than the role puts there.
   */
  contradicts(direction: Direction, bytes: Uint8Array): boolean {
    const verdict = sniffHttp1(bytes);
    if (verdict !== "request" && verdict !== "response") return false;
    const requestsHere = (direction === "ingress") === this.#server;
    return requestsHere !== (verdict === "request");
  }

  /** Drops requests that waited too long for a response. */
  tick(nowMonoNs: bigint): void {
    const pending = this.#pending;
    const timeout = this.#c.env.limits.requestTimeoutNs;
    while (pending.length > 0 && nowMonoNs - pending[0]!.firstByteMonoNs > timeout) {
      pending.shift();
      this.#counters.requestsDropped++;
    }
    const orphan = this.#orphan;
    if (orphan !== undefined && nowMonoNs - orphan.firstByteMonoNs > timeout) this.#dropOrphan();
    const upgrade = this.#upgrade?.req;
    if (upgrade !== undefined && nowMonoNs - upgrade.firstByteMonoNs > timeout) {
      this.#refuseUpgrade(); // never answered: its client's bytes are not held forever
    }
    this.#links.tick(nowMonoNs);
  }

  /**
   * The connection is over: ends both framers (a response read until close completes
   * here), drops unanswered requests and emits what waited for the socket.
   */
  end(): void {
    this.#requests.end();
    this.#responses.end();
    this.#counters.requestsDropped += this.#pending.length;
    this.#pending = [];
    this.#inflight = undefined;
    this.#dropOrphan();
    this.#links.release();
  }

  /** Fixes a request's span ids (`../http/request_links.ts`). */
  #link(req: Http1Request): void {
    this.#links.head(req, {
      tid: req.tid,
      firstByteMonoNs: req.firstByteMonoNs,
      line: requestLine(req),
      traceparent: requestFields(req.headers).traceparent,
    });
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
    const protocol = this.#upgrade === undefined ? upgradeProtocol(req.headers) : undefined;
    if (protocol !== undefined) {
      this.#upgrade = { req, protocol };
      this.#requests.stopAfterMessage(); // what follows may be the new protocol's
    }
    if (this.#pending.length >= this.#c.env.limits.maxPipelined) {
      this.#pending.shift();
      this.#counters.requestsDropped++;
    }
    this.#pending.push(req);
  }

  #responseHead(resp: Http1Response): void {
    const req = this.#pending[0];
    // A response cannot answer a request that started after it.
    if (req !== undefined && req.firstByteMonoNs <= resp.firstByteMonoNs) {
      this.#pending.shift();
      this.#inflight = req;
      if (req === this.#upgrade?.req && resp.status !== 101) this.#refuseUpgrade();
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
    if (req !== undefined && req === this.#upgrade?.req && resp.status === 101) {
      // The server's pick, or (a 101 without Upgrade) what the request offered.
      const protocol = upgradeProtocol(resp.headers) ?? this.#upgrade.protocol;
      this.#switching = { req, resp, protocol }; // handed over once the head's bytes are used
    } else if (req !== undefined) this.#emit(req, resp);
    else if (resp === this.#orphan) this.#orphanDone = true;
  }

  #dropOrphan(): void {
    if (this.#orphan === undefined) return;
    this.#orphan = undefined;
    this.#counters.unpairedResponses++;
    // (A traced client's offer for the request this answered is passed over by the next
    // request's lookup: offers are matched by request line.)
  }

  #emit(req: Http1Request, resp: Http1Response): void {
    this.#links.done(req, req.tid, { req, resp }, resp.lastByteMonoNs);
    if (
      resp.status === 101 ||
      (req.method === "CONNECT" && resp.status >= 200 && resp.status < 300)
    ) {
      this.#requests.stop(); // a tunnel or another protocol from here on
    }
  }

  #emitNow(req: Http1Request, resp: Http1Response): void {
    const c = this.#c;
    const ctx: HttpExchangeContext = {
      kind: this.#server ? "SERVER" : "CLIENT",
      scheme: c.secure ? "https" : "http",
      socket: c.socket,
      resource: c.env.resource(this.#pid),
      toUnixNano: c.env.toUnixNano,
      ids: c.env.ids,
    };
    const span = httpExchangeSpan(req, resp, ctx, this.#links.context(req));
    this.#counters.spans++;
    c.env.onSpan(span);
  }
}

/** Most client bytes held after an upgrade request while its answer has not come. */
const MAX_AFTER_UPGRADE = 65536;

/** What both ends of a connection see of a request: its method and target. */
function requestLine(req: Http1Request): string {
  return `${req.method} ${req.target}`;
}
