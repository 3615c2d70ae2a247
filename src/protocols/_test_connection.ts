/**
 * Test helper: one {@linkcode Connection} over chosen protocols, counting and giving up as
 * the span builder does, with its spans collected.
 *
 * @module
 */
import type { Span } from "../model/span.ts";
import type { IdGenerator } from "../model/ids.ts";
import { RandomIdGenerator } from "../model/ids.ts";
import { PeerLinks } from "../context/peer_links.ts";
import type { ServedStreams } from "../context/served_streams.ts";
import { ReceivedHeaders } from "../context/received_headers.ts";
import { ThreadRequests } from "../context/thread_requests.ts";
import { Connection } from "./connection.ts";
import type { OfferWaiter, Protocol, ProtocolFamily, ProtocolLimits } from "./protocol.ts";
import { newHttpCounters } from "./http1/parser.ts";
import { newSqlCounters } from "./sql/wire_parser.ts";

/** What a test may set. */
export interface TestConnectionOptions extends Partial<ProtocolLimits> {
  pid?: number;
  conn?: string;
  ids?: IdGenerator;
  toUnixNano?: (monoNs: bigint) => bigint;
  resource?: (pid: number) => Record<string, string | number | boolean>;
  threads?: ThreadRequests;
  elsewhere?: (pid: number, family: ProtocolFamily) => boolean;
  rpcFromBytes?: (pid: number) => boolean;
  /** Shared with other test connections: one's client offers, another's server takes. */
  peers?: PeerLinks;
  served?: ServedStreams;
  offerWaiters?: Set<OfferWaiter>;
}

/** A connection over `protocols`, its spans, its counters and its give-ups. */
export function testConnection(protocols: readonly Protocol[], o: TestConnectionOptions = {}) {
  const spans: Span[] = [];
  const counters = newHttpCounters();
  const sql = newSqlCounters();
  const givenUp: string[] = [];
  const familiesGaveUp: ProtocolFamily[] = [];
  const conn = new Connection(o.pid ?? 100, o.conn ?? "c1", {
    protocols,
    env: {
      toUnixNano: o.toUnixNano ?? ((ns) => ns),
      resource: o.resource ?? (() => ({})),
      onSpan: (s) => spans.push(s),
      ids: o.ids ?? new RandomIdGenerator(),
      peers: o.peers ?? new PeerLinks(),
      ...(o.served ? { served: o.served } : {}),
      ...(o.offerWaiters ? { offerWaiters: o.offerWaiters } : {}),
      threads: o.threads ?? new ThreadRequests(),
      received: new ReceivedHeaders(),
      limits: {
        maxHeaderBytes: o.maxHeaderBytes ?? 65536,
        maxPipelined: o.maxPipelined ?? 64,
        requestTimeoutNs: o.requestTimeoutNs ?? 1_000_000n,
        socketWaitNs: o.socketWaitNs ?? 0n,
        offerWaitNs: o.offerWaitNs ?? 0n,
        fullQueryText: o.fullQueryText,
        maxTextBytes: o.maxTextBytes,
      },
    },
    reassembly: {},
    counters: (family) => family === "sql" ? sql : counters,
    elsewhere: o.elsewhere,
    rpcFromBytes: o.rpcFromBytes,
    onFamilyGaveUp: (family) => {
      familiesGaveUp.push(family);
      if (family === "sql") sql.nonSqlConnections++;
      else counters.nonHttpConnections++;
    },
    onGiveUp: (pid, c) => givenUp.push(`${pid}/${c}`),
  });
  return { conn, spans, counters, sql, givenUp, familiesGaveUp };
}
