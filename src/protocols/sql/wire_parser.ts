/**
 * The connection parser every SQL wire protocol shares: the protocol's own state machine
 * (`PostgresWireParser`, `MysqlWireParser`) gets the client's and the server's bytes, and
 * each statement it reports becomes a span through the one SQL mapping (`semconv.ts`),
 * a client's statement the child of the request its thread is serving.
 *
 * @module
 */
import type { Direction, SocketInfo } from "../../model/stream_chunk.ts";
import type { StreamSink } from "../../streams/reassembler.ts";
import {
  childOfThread,
  type ConnectionParser,
  newProtocolCounters,
  type ParserConnection,
  type ProtocolCounters,
} from "../protocol.ts";
import type { SqlExchange, SqlExchangeSink } from "./exchange.ts";
import { sqlExchangeSpan, type SqlSystem } from "./semconv.ts";

/** The SQL family's counters (the span stage's `sql` ones). */
export interface SqlCounters extends ProtocolCounters {
  /** Connections every SQL protocol gave up on. */
  nonSqlConnections: number;
}

/** Fresh zeroed counters. */
export function newSqlCounters(): SqlCounters {
  return {
    ...newProtocolCounters(),
    nonSqlConnections: 0,
  };
}

/**
 * One direction of a wire state machine as a stream sink: its bytes to that direction's
 * framer, its gaps to the machine's handler, a new connection under the key to `reset`.
 */
export function directionSink(
  framer: { data: StreamSink["data"] },
  gap: (size: number, monoNs: bigint) => void,
  reset: () => void,
): StreamSink {
  return {
    data: (b, monoNs, tid) => framer.data(b, monoNs, tid),
    gap: (size, monoNs) => gap(size, monoNs),
    reset,
  };
}

/** One SQL wire protocol's state machine for one connection, as the shared parser drives it. */
export interface SqlWire {
  /** The client's direction. */
  readonly client: StreamSink;
  /** The server's direction. */
  readonly server: StreamSink;
  /** Problems seen so far. */
  readonly problems: number;
  /** `db.system.name`, as far as the connection has told. */
  system(): SqlSystem;
  /** The database the connection uses, when known. */
  namespace(): string | undefined;
  /** The connection ended: finishes or drops what is in flight. */
  end(): void;
}

/**
 * Drives one {@linkcode SqlWire}.
 *
 * @example
 * ```ts ignore
 * const parser = new SqlWireParser(connection, (sink) => postgresWire(sink, options));
 * ```
 */
export class SqlWireParser implements ConnectionParser {
  readonly #c: ParserConnection;
  readonly #wire: SqlWire;
  /** Parser sides by direction: [ingress, egress]. */
  readonly #sides: [StreamSink, StreamSink];
  #problemsSeen = 0;

  /** Opens the parser of `connection` over the wire `open` makes. */
  constructor(connection: ParserConnection, open: (sink: SqlExchangeSink) => SqlWire) {
    this.#c = connection;
    const wire = open({ onExchange: (e) => this.#emit(e) });
    this.#wire = wire;
    this.#sides = connection.role === "server"
      ? [wire.client, wire.server]
      : [wire.server, wire.client];
  }

  data(direction: Direction, bytes: Uint8Array, monoNs: bigint, tid: number): void {
    this.#sides[direction === "ingress" ? 0 : 1].data(bytes, monoNs, tid);
    this.#countProblems();
  }

  gap(direction: Direction, size: number, monoNs: bigint, lost: boolean): void {
    // A direction joined mid-stream needs no telling: the wire protocols find their
    // footing at the message the sniffing recognised.
    if (size === 0) return;
    this.#sides[direction === "ingress" ? 0 : 1].gap(size, monoNs, lost);
    this.#countProblems();
  }

  socket(_info: SocketInfo): void {}

  tick(_nowMonoNs: bigint): void {}

  end(): void {
    this.#wire.end();
    this.#countProblems();
  }

  #countProblems(): void {
    const p = this.#wire.problems;
    if (p > this.#problemsSeen) {
      this.#c.counters.parseErrors += p - this.#problemsSeen;
      this.#problemsSeen = p;
    }
  }

  #emit(e: SqlExchange): void {
    const c = this.#c;
    const client = c.role === "client";
    const context = client ? childOfThread(c, e.tid, e.startMonoNs) : undefined;
    const span = sqlExchangeSpan(e, {
      system: this.#wire.system(),
      kind: client ? "CLIENT" : "SERVER",
      namespace: this.#wire.namespace(),
      socket: c.socket,
      resource: c.env.resource(c.pid),
      toUnixNano: c.env.toUnixNano,
      ids: c.env.ids,
      fullQueryText: c.env.limits.fullQueryText,
    }, context);
    c.counters.spans++;
    c.env.onSpan(span);
  }
}
