/**
 * A streaming parser of the MySQL/MariaDB client/server protocol for one connection: the
 * client's and the server's in-order bytes and gaps go in ({@linkcode StreamSink} order),
 * one {@linkcode SqlExchange} per executed statement comes out.
 *
 * Framing is a 4-byte header (3-byte little-endian length, sequence number) before each
 * packet; a payload of 2^24-1 bytes continues in the next packet. The server opens with a
 * greeting (protocol version 10), the client answers with a HandshakeResponse (user,
 * database), authentication packets follow until the server's OK or ERR. Each command
 * then starts a fresh sequence at 0 on the client side; the server's answer starts at 1.
 * See https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html.
 *
 * Statements: COM_QUERY (OK, ERR, or a result set: column count, column definitions, EOF
 * unless CLIENT_DEPRECATE_EOF, rows, EOF/OK; further result sets when the status says
 * SERVER_MORE_RESULTS_EXISTS), COM_STMT_PREPARE (the id in its OK is remembered with the
 * text; only a failed prepare is reported), COM_STMT_EXECUTE (that text), COM_STMT_CLOSE,
 * COM_INIT_DB (changes the namespace). Other commands are paired and ignored.
 *
 * Gaps: a gap inside a packet is skipped; one that loses the framing makes the direction
 * resynchronise at the next piece that starts like a packet (a command with sequence 0
 * from the client, the first packet of an answer, sequence 1, from the server). A server
 * packet with sequence 1 always starts a new answer, which also realigns pairing. TLS
 * (an SSL request) or compression stop the parser. Nothing here throws.
 *
 * @module
 */
import type { StreamSink } from "../../streams/reassembler.ts";
import { type Frame, LengthPrefixedFramer } from "../../streams/length_prefixed.ts";
import {
  endedExchange,
  type SqlError,
  type SqlExchangeSink,
  type SqlStatementStart,
} from "../sql/exchange.ts";
import { pushBounded } from "../sql/queue.ts";
import { Cursor } from "../sql/cursor.ts";
import { directionSink } from "../sql/wire_parser.ts";

/** What the handshake said. */
export interface MysqlFacts {
  /** Server version from the greeting (`8.0.36`, `5.5.5-10.11.6-MariaDB-0+deb12u1`). */
  serverVersion?: string;
  /** "mariadb" when the version says so, else "mysql"; unknown before the greeting. */
  system?: "mysql" | "mariadb";
  /** Connection (thread) id from the greeting. */
  connectionId?: number;
  /** User from the HandshakeResponse. */
  user?: string;
  /** Current database: from the HandshakeResponse, then COM_INIT_DB. */
  database?: string;
  /** Capability flags both sides agreed on (client's when the server's are unknown). */
  capabilities?: number;
  /** TLS was requested: nothing after can be parsed. */
  encrypted: boolean;
  /** Compression was negotiated: nothing after the handshake can be parsed. */
  compressed: boolean;
}

/** Options for {@linkcode MysqlWireParser}. */
export interface MysqlWireOptions {
  /** Most bytes of statement text kept. Default 64 KiB. */
  maxTextBytes?: number;
  /** Most commands waiting for answers, and most answers waiting. Default 1024. */
  maxPending?: number;
  /** Most prepared statements remembered per connection. Default 1024. */
  maxStatements?: number;
}

/** Kinds of problem reported through `onProblem`. */
export type MysqlProblem =
  | "bad-packet"
  | "gap-lost-framing"
  | "unanswered"
  | "backlog-overflow"
  | "pending-overflow";

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_COMPRESS = 0x20;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH_LENENC = 0x200000;
const CLIENT_DEPRECATE_EOF = 0x1000000;
const CLIENT_QUERY_ATTRIBUTES = 0x8000000;
const SERVER_MORE_RESULTS_EXISTS = 0x8;
const MAX_PAYLOAD = 0xffffff;
const SERVER_KEEP = 512;

const UTF8 = new TextDecoder();

/** One packet (continuations merged; `length` the payload's total). */
type Packet = Frame;

/**
 * Splits one direction into packets: MySQL's 4-byte header (3-byte little-endian length,
 * sequence number) over the shared length-prefixed framer; a payload of 2^24-1 bytes
 * continues in the next packet.
 */
function framer(
  client: boolean,
  keep: number,
  onPacket: (p: Packet) => void,
  onProblem: (p: MysqlProblem) => void,
): LengthPrefixedFramer {
  return new LengthPrefixedFramer({
    headerSize: () => 4,
    decode: (h) => {
      const length = h[0]! | (h[1]! << 8) | (h[2]! << 16);
      return { type: 0, seq: h[3]!, length, keep, continues: length === MAX_PAYLOAD };
    },
    plausible: (bytes) => plausiblePacketStart(bytes, client),
  }, { onMessage: onPacket, onLostFraming: () => onProblem("gap-lost-framing") });
}

/** Whether a piece starts like a packet a resynchronising direction can begin with. */
function plausiblePacketStart(b: Uint8Array, client: boolean): boolean {
  if (b.length < 5) return false;
  const len = b[0]! | (b[1]! << 8) | (b[2]! << 16);
  if (len === 0) return false;
  if (client) return b[3] === 0 && b[4]! >= 0x01 && b[4]! <= 0x1f;
  return b[3] === 1;
}

/** Reads little-endian and length-encoded fields. */
class Reader extends Cursor {
  u8(): number {
    return this.b[this.at++] ?? 0;
  }
  u16(): number {
    const v = (this.b[this.at] ?? 0) | ((this.b[this.at + 1] ?? 0) << 8);
    this.at += 2;
    return v;
  }
  u32(): number {
    const b = this.b;
    const v = ((b[this.at] ?? 0) | ((b[this.at + 1] ?? 0) << 8) | ((b[this.at + 2] ?? 0) << 16) |
      ((b[this.at + 3] ?? 0) << 24)) >>> 0;
    this.at += 4;
    return v;
  }
  /** A length-encoded integer; -1 for NULL (0xfb), a bad prefix or a value past 2^53. */
  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) {
      const v = this.u16() | (this.u8() << 16);
      return v;
    }
    if (first === 0xfe) {
      const lo = this.u32();
      const hi = this.u32();
      const v = hi * 0x100000000 + lo;
      return v <= Number.MAX_SAFE_INTEGER ? v : -1;
    }
    return -1;
  }
}

const OP_HANDSHAKE = 0;
const OP_QUERY = 1; // COM_QUERY and COM_STMT_EXECUTE: a result
const OP_PREPARE = 2;
const OP_INIT_DB = 3;
const OP_OTHER = 4;
/** Marks where commands were lost in a client gap. */
const OP_LOST = 5;

const R_FIRST = 0;
const R_COLUMNS = 1;
const R_AFTER_COLUMNS = 2;
const R_ROWS = 3;
const R_INFILE = 4;
const R_PREPARE_DEFS = 5;

/** A client command waiting for its answer. */
interface Op extends SqlStatementStart {
  kind: number;
  namespace?: string;
  /** Answer parsing state (R_*). */
  state: number;
  /** Packets still expected in the current part (columns, prepare definitions). */
  expect: number;
  rows: number;
  affected?: number;
  error?: SqlError;
  /** Prepared statement id from the prepare OK. */
  stmtId?: number;
  /** Schema of COM_INIT_DB. */
  schema?: string;
  /** The answer has started (a packet was matched). */
  started: boolean;
  lastMonoNs: bigint;
}

/**
 * One MySQL/MariaDB connection's protocol state.
 *
 * Feed the client's bytes to `client` and the server's to `server` (each is a
 * {@linkcode StreamSink}), then `end()`.
 *
 * @example
 * ```ts
 * import { MysqlWireParser } from "./wire.ts";
 * import type { SqlExchange } from "../sql/exchange.ts";
 * const got: SqlExchange[] = [];
 * const my = new MysqlWireParser({ onExchange: (e) => got.push(e) });
 * const q = new TextEncoder().encode("\x09\0\0\0\x03SELECT 1");
 * my.client.data(q, 1n, 7);
 * my.server.data(Uint8Array.of(7, 0, 0, 1, 0, 1, 0, 2, 0, 0, 0), 2n, 9); // OK, 1 row
 * // got[0]: text "SELECT 1", rows 1, startMonoNs 1n, endMonoNs 2n, tid 7
 * ```
 */
export class MysqlWireParser {
  /** Problems seen so far. */
  problems = 0;
  /** The client's direction. */
  readonly client: StreamSink;
  /** The server's direction. */
  readonly server: StreamSink;
  readonly #sink: SqlExchangeSink;
  readonly #maxPending: number;
  readonly #maxStatements: number;
  #facts: MysqlFacts = { encrypted: false, compressed: false };
  #serverCaps: number | undefined;
  #clientCaps: number | undefined;
  #cf: LengthPrefixedFramer;
  #sf: LengthPrefixedFramer;
  #ops: Op[] = [];
  #backlog: Packet[] = [];
  #statements = new Map<number, { text: string; truncated: boolean }>();
  /** Whether the client has started (a handshake response or a command was seen). */
  #clientSeen = false;

  /** Makes a parser reporting to `sink`. */
  constructor(sink: SqlExchangeSink, options: MysqlWireOptions = {}) {
    this.#sink = sink;
    this.#maxPending = options.maxPending ?? 1024;
    this.#maxStatements = options.maxStatements ?? 1024;
    const problem = (p: MysqlProblem) => this.#problem(p);
    // The handshake response needs no more than 1 KiB; statements need maxTextBytes.
    const keep = Math.max(1024, (options.maxTextBytes ?? 65536) + 1);
    this.#cf = framer(true, keep, (p) => this.#clientPacket(p), problem);
    this.#sf = framer(false, SERVER_KEEP, (p) => this.#serverPacket(p), problem);
    const reset = () => this.reset();
    this.client = directionSink(this.#cf, (size, t) => this.#clientGap(size, t), reset);
    this.server = directionSink(this.#sf, (size, t) => this.#serverGap(size, t), reset);
  }

  /** What is known about the connection. */
  get facts(): MysqlFacts {
    return this.#facts;
  }

  /** True once nothing more can be parsed (TLS or compression). */
  get stopped(): boolean {
    return this.#cf.stopped && this.#sf.stopped;
  }

  /** Commands waiting for answers. */
  get pending(): number {
    return this.#ops.length;
  }

  /** Ids of the prepared statements remembered. */
  get statementIds(): number[] {
    return [...this.#statements.keys()];
  }

  /** The connection ended: drops what was never answered. */
  end(): void {
    // A command whose answer was complete but not yet recognised as such (no later
    // packet to show it) is finished with what was seen.
    for (const op of this.#ops) {
      if (op.started && op.kind === OP_QUERY && op.state === R_FIRST) continue;
      if (op.started && op.kind === OP_QUERY) this.#emit(op, op.lastMonoNs);
      else if (op.kind === OP_QUERY) this.#problem("unanswered");
    }
    this.#ops = [];
    this.#backlog = [];
    this.#cf.reset();
    this.#sf.reset();
  }

  /** Forgets everything: the key now names a new connection. */
  reset(): void {
    this.#ops = [];
    this.#backlog = [];
    this.#statements.clear();
    this.#facts = { encrypted: false, compressed: false };
    this.#serverCaps = undefined;
    this.#clientCaps = undefined;
    this.#clientSeen = false;
    this.#cf.reset();
    this.#sf.reset();
  }

  #problem(p: MysqlProblem): void {
    this.problems++;
    this.#sink.onProblem?.(p);
  }

  #deprecateEof(): boolean | undefined {
    const c = this.#facts.capabilities;
    return c === undefined ? undefined : (c & CLIENT_DEPRECATE_EOF) !== 0;
  }

  #clientGap(size: number, monoNs: bigint): void {
    const before = this.#cf.resyncing || this.#cf.stopped;
    this.#cf.gap(size, monoNs);
    if (!before && this.#cf.resyncing) {
      // Commands may have been lost in the hole: their answers are told apart by time.
      this.#clientSeen = true;
      this.#push(
        this.#op(OP_LOST, {
          type: 0,
          seq: 0,
          single: false,
          length: 0,
          body: new Uint8Array(0),
          truncated: true,
          monoNs,
          endMonoNs: monoNs,
          tid: 0,
        }),
      );
    }
  }

  #serverGap(size: number, monoNs: bigint): void {
    const before = this.#sf.resyncing || this.#sf.stopped;
    this.#sf.gap(size, monoNs);
    if (!before && this.#sf.resyncing) {
      // The answer in progress is lost; the next answer starts with sequence 1.
      const head = this.#ops[0];
      if (head !== undefined && head.started) {
        this.#ops.shift();
        if (head.kind === OP_QUERY) this.#problem("unanswered");
      }
    }
  }

  #push(op: Op): void {
    pushBounded(this.#ops, op, this.#maxPending, () => this.#problem("pending-overflow"));
    this.#match();
  }

  #op(kind: number, p: Packet, extra: Partial<Op> = {}): Op {
    const op: Op = {
      kind,
      text: "",
      truncated: false,
      startMonoNs: p.monoNs,
      tid: p.tid,
      state: R_FIRST,
      expect: 0,
      rows: 0,
      started: false,
      lastMonoNs: p.monoNs,
      ...extra,
    };
    if (this.#facts.database !== undefined) op.namespace = this.#facts.database;
    return op;
  }

  #clientPacket(p: Packet): void {
    const body = p.body;
    if (p.seq !== 0) {
      // The handshake response is the client's first packet (sequence 1); later non-zero
      // sequences are authentication data or LOCAL INFILE contents.
      if (!this.#clientSeen && p.seq === 1) this.#handshakeResponse(p);
      this.#clientSeen = true;
      return;
    }
    this.#clientSeen = true;
    if (body.length === 0) return;
    const cmd = body[0]!;
    const r = new Reader(body);
    r.skip(1);
    switch (cmd) {
      case 0x03: { // COM_QUERY
        const caps = this.#facts.capabilities ?? 0;
        if (caps & CLIENT_QUERY_ATTRIBUTES) {
          const params = r.lenenc();
          r.lenenc(); // parameter set count
          if (params !== 0) {
            // Query attributes carry typed values before the text: not followed.
            this.#push(this.#op(OP_QUERY, p, { truncated: true }));
            return;
          }
        }
        this.#push(this.#op(OP_QUERY, p, { text: r.rest(), truncated: p.truncated }));
        return;
      }
      case 0x16: // COM_STMT_PREPARE
        this.#push(this.#op(OP_PREPARE, p, { text: r.rest(), truncated: p.truncated }));
        return;
      case 0x17: { // COM_STMT_EXECUTE
        const id = r.u32();
        const s = this.#statements.get(id);
        this.#push(
          this.#op(OP_QUERY, p, {
            text: s?.text ?? "",
            truncated: s?.truncated ?? false,
            statementName: String(id),
          }),
        );
        return;
      }
      case 0x19: // COM_STMT_CLOSE: no answer
        this.#statements.delete(r.u32());
        return;
      case 0x18: // COM_STMT_SEND_LONG_DATA: no answer
      case 0x01: // COM_QUIT
        return;
      case 0x02: // COM_INIT_DB
        this.#push(this.#op(OP_INIT_DB, p, { schema: r.rest() }));
        return;
      case 0x1f: // COM_RESET_CONNECTION deallocates prepared statements
        this.#statements.clear();
        this.#push(this.#op(OP_OTHER, p));
        return;
      case 0x11: // COM_CHANGE_USER: authentication again
        this.#push(this.#op(OP_HANDSHAKE, p));
        return;
      default:
        this.#push(this.#op(OP_OTHER, p));
        return;
    }
  }

  #handshakeResponse(p: Packet): void {
    const r = new Reader(p.body);
    const facts = this.#facts;
    let caps = r.u16();
    if (caps & CLIENT_PROTOCOL_41) {
      caps |= r.u16() << 16;
      caps >>>= 0;
      r.skip(4 + 1 + 23); // max packet, charset, filler
    } else {
      r.skip(3); // max packet (3 bytes) in the old format
    }
    this.#clientCaps = caps;
    facts.capabilities = this.#serverCaps === undefined ? caps : (caps & this.#serverCaps) >>> 0;
    if ((caps & CLIENT_SSL) && r.left === 0) {
      // An SSLRequest: the handshake goes on inside TLS.
      facts.encrypted = true;
      this.#cf.stop();
      this.#sf.stop();
      return;
    }
    const user = r.cstring();
    if (user !== undefined) facts.user = user;
    if (caps & CLIENT_PLUGIN_AUTH_LENENC) r.skip(Math.max(0, r.lenenc()));
    else if (caps & CLIENT_SECURE_CONNECTION) r.skip(r.u8());
    else r.cstring();
    if (caps & CLIENT_CONNECT_WITH_DB) {
      const db = r.cstring();
      if (db) facts.database = db;
    }
    this.#push(this.#op(OP_HANDSHAKE, p));
  }

  #serverPacket(p: Packet): void {
    // Only the greeting has sequence 0 on the server side (or an ERR refusing the client).
    if (p.seq === 0 && p.body[0] === 10) {
      this.#greeting(p);
      return;
    }
    // The body view is reused by the framer: keep a copy while it waits. Only an ERR needs
    // more than the first bytes (an OK's counters fit in 21).
    const keep = p.body[0] === 0xff ? p.body.length : Math.min(p.body.length, 32);
    const copy = { ...p, body: p.body.slice(0, keep) };
    pushBounded(this.#backlog, copy, this.#maxPending, () => this.#problem("backlog-overflow"));
    this.#match();
  }

  #greeting(p: Packet): void {
    const r = new Reader(p.body);
    r.skip(1);
    const facts = this.#facts;
    const version = r.cstring();
    if (version !== undefined) {
      facts.serverVersion = version;
      facts.system = /mariadb/i.test(version) ? "mariadb" : "mysql";
    }
    facts.connectionId = r.u32();
    r.skip(8 + 1); // auth data part 1, filler
    let caps = r.u16();
    if (r.left > 0) {
      r.skip(1 + 2); // charset, status
      caps |= r.u16() << 16;
    }
    this.#serverCaps = caps >>> 0;
    if (this.#clientCaps !== undefined) {
      facts.capabilities = (this.#clientCaps & this.#serverCaps) >>> 0;
    }
  }

  #match(): void {
    const ops = this.#ops;
    const backlog = this.#backlog;
    for (;;) {
      const p = backlog[0];
      const op = ops[0];
      if (p === undefined || op === undefined) return;
      if (op.kind === OP_LOST) {
        // Answers that began before the next command seen were for commands in the hole.
        const next = ops[1];
        if (next === undefined) return;
        if (p.monoNs < next.startMonoNs) backlog.shift();
        else ops.shift();
        continue;
      }
      if (this.#apply(p, op)) backlog.shift();
    }
  }

  /** Applies one server packet to the oldest command; false when it belongs to the next. */
  #apply(p: Packet, op: Op): boolean {
    const ops = this.#ops;
    const b = p.body;
    const first = b[0];
    // Sequence 1 starts an answer: one already under way for this command has ended.
    if (p.seq === 1 && op.started && op.kind !== OP_HANDSHAKE) {
      ops.shift();
      if (op.kind === OP_QUERY) this.#emit(op, op.lastMonoNs);
      return false;
    }
    // An answer to a command starts at sequence 1: anything else before it is a leftover
    // (the end of a handshake or an answer whose start was missed).
    if (!op.started && p.seq !== 1 && op.kind !== OP_HANDSHAKE) return true;
    op.started = true;
    op.lastMonoNs = p.endMonoNs;
    switch (op.kind) {
      case OP_HANDSHAKE:
        if (first === 0x00 || first === 0xff) {
          ops.shift();
          if (
            first === 0x00 && this.#facts.capabilities !== undefined &&
            (this.#facts.capabilities & CLIENT_COMPRESS)
          ) {
            this.#facts.compressed = true;
            this.#cf.stop();
            this.#sf.stop();
          }
        }
        return true;
      case OP_INIT_DB:
        ops.shift();
        if (first === 0x00 && op.schema) this.#facts.database = op.schema;
        return true;
      case OP_OTHER:
        // OK, ERR or EOF ends it; anything longer waits for the next answer to begin.
        if (first === 0x00 || first === 0xff || (first === 0xfe && p.length < 9)) ops.shift();
        return true;
      case OP_PREPARE:
        return this.#prepareAnswer(p, op);
      default:
        return this.#resultAnswer(p, op);
    }
  }

  #prepareAnswer(p: Packet, op: Op): boolean {
    const b = p.body;
    if (op.state === R_FIRST) {
      if (b[0] === 0xff) {
        op.error = parseErr(b);
        this.#ops.shift();
        this.#emit(op, p.monoNs);
        return true;
      }
      if (b[0] !== 0x00 || b.length < 9) {
        this.#ops.shift();
        return true;
      }
      const r = new Reader(b);
      r.skip(1);
      const id = r.u32();
      const columns = r.u16();
      const params = r.u16();
      if (
        !this.#statements.has(id) && this.#statements.size >= this.#maxStatements
      ) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(id, { text: op.text, truncated: op.truncated });
      const eof = this.#deprecateEof() === true ? 0 : 1;
      op.expect = (params > 0 ? params + eof : 0) + (columns > 0 ? columns + eof : 0);
      op.state = R_PREPARE_DEFS;
      if (op.expect === 0) this.#ops.shift();
      return true;
    }
    if (--op.expect <= 0) this.#ops.shift();
    return true;
  }

  #resultAnswer(p: Packet, op: Op): boolean {
    const b = p.body;
    const first = b[0];
    switch (op.state) {
      case R_FIRST: {
        if (first === 0x00 || (first === 0xfe && p.length < 9)) {
          const ok = parseOk(b);
          op.affected = ok.affected;
          return this.#resultEnd(op, p, ok.status);
        }
        if (first === 0xff) {
          op.error = parseErr(b);
          return this.#resultEnd(op, p, 0);
        }
        if (first === 0xfb) {
          op.state = R_INFILE;
          return true;
        }
        const r = new Reader(b);
        const columns = r.lenenc();
        if (columns <= 0) {
          this.#problem("bad-packet");
          return this.#resultEnd(op, p, 0);
        }
        op.expect = columns;
        op.rows = 0;
        op.affected = undefined;
        op.state = R_COLUMNS;
        return true;
      }
      case R_COLUMNS:
        if (--op.expect <= 0) op.state = R_AFTER_COLUMNS;
        return true;
      case R_AFTER_COLUMNS: {
        op.state = R_ROWS;
        const deprecate = this.#deprecateEof();
        // Without CLIENT_DEPRECATE_EOF an EOF (5 bytes) ends the column definitions.
        if (
          first === 0xfe && (deprecate === false || (deprecate === undefined && p.length === 5))
        ) {
          return true;
        }
        return this.#resultAnswer(p, op);
      }
      case R_ROWS:
        if (first === 0xfe && p.length < MAX_PAYLOAD) {
          const status = p.length === 5 ? new Reader(b.subarray(3)).u16() : parseOk(b).status;
          return this.#resultEnd(op, p, status);
        }
        if (first === 0xff) {
          op.error = parseErr(b);
          return this.#resultEnd(op, p, 0);
        }
        op.rows++;
        return true;
      default: // R_INFILE
        if (first === 0x00 || first === 0xff) {
          if (first === 0xff) op.error = parseErr(b);
          else op.affected = parseOk(b).affected;
          return this.#resultEnd(op, p, 0);
        }
        return true;
    }
  }

  /** A result (or OK/ERR) ended; more may follow for the same command. */
  #resultEnd(op: Op, p: Packet, status: number): boolean {
    if ((status & SERVER_MORE_RESULTS_EXISTS) && op.error === undefined) {
      op.state = R_FIRST;
      return true;
    }
    this.#ops.shift();
    this.#emit(op, p.monoNs);
    return true;
  }

  #emit(op: Op, endMonoNs: bigint): void {
    const ex = endedExchange(op, endMonoNs);
    if (op.error !== undefined) ex.error = op.error;
    else if (op.state === R_ROWS || op.state === R_AFTER_COLUMNS) ex.rows = op.rows;
    else if (op.affected !== undefined && op.affected >= 0) ex.rows = op.affected;
    if (op.namespace !== undefined) ex.namespace = op.namespace;
    this.#sink.onExchange(ex);
  }
}

/** Affected rows and status flags of an OK packet (or an OK-format EOF). */
function parseOk(b: Uint8Array): { affected: number; status: number } {
  const r = new Reader(b);
  r.skip(1);
  const affected = r.lenenc();
  r.lenenc(); // last insert id
  const status = r.left >= 2 ? r.u16() : 0;
  return { affected, status };
}

/** Error number, SQLSTATE (after `#`) and message of an ERR packet. */
function parseErr(b: Uint8Array): SqlError {
  const r = new Reader(b);
  r.skip(1);
  const code = r.u16();
  let sqlstate = "";
  if (b[r.at] === 0x23 && b.length >= r.at + 6) {
    sqlstate = UTF8.decode(b.subarray(r.at + 1, r.at + 6));
    r.skip(6);
  }
  return { sqlstate, message: r.rest(), code };
}

/** What {@linkcode sniffMysql} concluded. */
export type MysqlSniff = "greeting" | "command" | "no" | "more";

/**
 * Whether a direction's first bytes are MySQL: `greeting` for a server's opening packet
 * (sequence 0, protocol version 10, a printable version string), `command` for a client
 * caught mid-connection (sequence 0 and COM_QUERY/COM_STMT_PREPARE with printable text, or
 * a one-byte COM_PING/COM_QUIT), `no`, or `more` when more bytes are needed.
 *
 * @example
 * ```ts
 * import { sniffMysql } from "./wire.ts";
 * sniffMysql(new TextEncoder().encode("\x0a\0\0\0\x0a8.0.36\0")); // "greeting"
 * ```
 */
export function sniffMysql(b: Uint8Array): MysqlSniff {
  if (b.length < 5) return b.length >= 4 && b[3] !== 0 ? "no" : "more";
  const len = b[0]! | (b[1]! << 8) | (b[2]! << 16);
  if (b[3] !== 0 || len === 0) return "no";
  const first = b[4]!;
  if (first === 10) {
    if (len < 20 || len > 1024) return "no";
    for (let i = 5; i < Math.min(b.length, 4 + len); i++) {
      const c = b[i]!;
      if (c === 0) return i > 5 ? "greeting" : "no";
      if (c < 0x20 || c >= 0x7f || i > 5 + 64) return "no";
    }
    return "more";
  }
  if ((first === 0x0e || first === 0x01) && len === 1) return "command";
  if (first === 0x03 || first === 0x16) {
    if (len < 2) return "no";
    const end = Math.min(b.length, 4 + len, 4 + 64);
    for (let i = 5; i < end; i++) {
      const c = b[i]!;
      if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) return "no";
    }
    return end === 4 + len || end - 5 >= 8 ? "command" : "more";
  }
  return "no";
}
