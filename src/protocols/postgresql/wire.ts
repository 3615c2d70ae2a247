/**
 * A streaming parser of the PostgreSQL frontend/backend protocol (version 3) for one
 * connection: each direction's in-order bytes and gaps go in ({@linkcode StreamSink}
 * order), one {@linkcode SqlExchange} per executed statement comes out.
 *
 * Message framing is `type byte, Int32 length, body` (the first frontend messages --
 * StartupMessage, SSLRequest, GSSENCRequest, CancelRequest -- have no type byte, and the
 * server answers an SSLRequest with one bare byte, `S` or `N`). See
 * https://www.postgresql.org/docs/current/protocol-message-formats.html.
 *
 * Pairing: every frontend message that the server answers becomes a pending operation;
 * backend messages are matched to the oldest one, in order, which is what the protocol
 * guarantees (pipelining included). Backend messages that arrive before the frontend
 * bytes they answer wait in a bounded backlog. After an error in the extended protocol the
 * server skips to the next Sync, and so does the matcher.
 *
 * Gaps: a gap inside a message whose length is known is skipped (a Query or Parse then
 * carries the captured start of its text, marked `truncated`). A gap that loses the
 * framing makes that direction resynchronise at the next piece (a piece usually starts
 * with a write call, and a write call with a message) whose first bytes look like a
 * message header; the statements whose answers could have been lost are dropped up to the
 * next ReadyForQuery. After the server accepts TLS (`S`) the rest is encrypted and the
 * parser stops. Nothing here throws.
 *
 * @module
 */
import type { StreamSink } from "../../streams/reassembler.ts";
import {
  type Frame,
  type FrameFormat,
  type FrameHead,
  LengthPrefixedFramer,
} from "../../streams/length_prefixed.ts";
import {
  endedExchange,
  type SqlError,
  type SqlExchange,
  type SqlExchangeSink,
  type SqlStatementStart,
} from "../sql/exchange.ts";
import { pushBounded } from "../sql/queue.ts";
import { Cursor } from "../sql/cursor.ts";
import { directionSink } from "../sql/wire_parser.ts";

/** What the startup packet and the server's ParameterStatus messages said. */
export interface PostgresFacts {
  /** `user` from the StartupMessage. */
  user?: string;
  /** `database` from the StartupMessage (defaults to the user name on the server). */
  database?: string;
  /** `application_name` from the StartupMessage or the server. */
  applicationName?: string;
  /** `server_version` from ParameterStatus. */
  serverVersion?: string;
  /** Protocol version the client asked for, e.g. "3.0". */
  protocol?: string;
  /** True once the server accepted SSL/GSS encryption: nothing after can be parsed. */
  encrypted: boolean;
}

/** Options for {@linkcode PostgresWireParser}. */
export interface PostgresWireOptions {
  /** Most bytes of a Query/Parse text kept; the rest is counted as truncated. Default 64 KiB. */
  maxTextBytes?: number;
  /** Most operations waiting for answers, and most answers waiting for requests. Default 1024. */
  maxPending?: number;
  /** Most prepared statements remembered per connection. Default 1024. */
  maxStatements?: number;
}

/** Kinds of problem the parser reports through `onProblem`. */
export type PostgresProblem =
  | "bad-length"
  | "bad-startup"
  | "gap-lost-framing"
  | "unanswered"
  | "unexpected-message"
  | "backlog-overflow"
  | "pending-overflow";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_MESSAGE = 1 << 30;
/** Longest message accepted when resynchronising or sniffing. */
const MAX_PLAUSIBLE = 1 << 24;

const FRONTEND_TYPES = new Set("QPBEDCSHXFdcfp".split("").map((c) => c.charCodeAt(0)));
const BACKEND_TYPES = new Set(
  "RKSZCDTEIN1234nstsVGHWdcAvc".split("").map((c) => c.charCodeAt(0)),
);

const ch = (c: string) => c.charCodeAt(0);

/**
 * One direction: PostgreSQL's headers (`type byte, Int32 length` -- no type byte on the
 * first frontend messages; a bare `S`/`N`/`G` answering an encryption request) over the
 * shared length-prefixed framer. A message's `type` is 0 for an untyped startup-phase
 * message; `single` marks a bare answer byte.
 */
class Framer implements FrameFormat {
  untyped: boolean;
  /** Backend: a bare answer byte may come next (stream start, or after another answer). */
  answerAllowed: boolean;
  readonly #framer: LengthPrefixedFramer;

  constructor(
    readonly frontend: boolean,
    readonly keepFor: (type: number) => number,
    readonly onMessage: (m: Frame) => void,
    readonly onProblem: (p: PostgresProblem) => void,
    readonly answerNow: () => boolean,
  ) {
    this.untyped = frontend;
    this.answerAllowed = !frontend;
    this.#framer = new LengthPrefixedFramer(this, {
      onMessage,
      onLostFraming: () => onProblem("gap-lost-framing"),
    });
  }

  get stopped(): boolean {
    return this.#framer.stopped;
  }

  /** Waiting for a piece that starts with a message header. */
  get resyncing(): boolean {
    return this.#framer.resyncing;
  }

  stop(): void {
    this.#framer.stop();
  }

  reset(): void {
    this.#framer.reset();
  }

  data(bytes: Uint8Array, monoNs: bigint, tid: number): void {
    this.#framer.data(bytes, monoNs, tid);
  }

  gap(size: number, monoNs: bigint): void {
    this.#framer.gap(size, monoNs);
  }

  headerSize(): number {
    return this.untyped ? 4 : 5;
  }

  start(b: number, monoNs: bigint, tid: number): boolean {
    if (this.answerAllowed && isAnswerByte(b) && this.answerNow()) {
      this.#answer(b, monoNs, tid);
      return true;
    }
    if (this.untyped && b !== 0 && FRONTEND_TYPES.has(b)) this.untyped = false;
    return false;
  }

  decode(h: Uint8Array, monoNs: bigint, tid: number): FrameHead | null | "single" {
    let type = 0;
    let len: number;
    if (this.untyped) {
      len = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    } else {
      type = h[0]!;
      len = ((h[1]! << 24) | (h[2]! << 16) | (h[3]! << 8) | h[4]!) >>> 0;
      // A bare answer byte followed by the next message: `N` then `R\0\0\0`.
      if (this.answerAllowed && isAnswerByte(type) && (len > MAX_PLAUSIBLE || len < 4)) {
        this.#answer(type, monoNs, tid);
        return "single";
      }
    }
    const set = this.frontend ? FRONTEND_TYPES : BACKEND_TYPES;
    if (len < 4 || len > MAX_MESSAGE || (type !== 0 && !set.has(type))) {
      this.onProblem(this.untyped ? "bad-startup" : "bad-length");
      return null;
    }
    this.answerAllowed = false;
    const length = len - 4;
    return { type, seq: 0, length, keep: Math.min(length, this.keepFor(type)), continues: false };
  }

  plausible(bytes: Uint8Array): boolean {
    return plausibleHeader(bytes, this.frontend ? FRONTEND_TYPES : BACKEND_TYPES);
  }

  onResync(): void {
    this.untyped = false;
    this.answerAllowed = false;
  }

  onReset(): void {
    this.untyped = this.frontend;
    this.answerAllowed = !this.frontend;
  }

  /** A bare `S`/`N`/`G` answering an encryption request. */
  #answer(b: number, monoNs: bigint, tid: number): void {
    this.onMessage({
      type: b,
      seq: 0,
      body: new Uint8Array(0),
      length: 0,
      truncated: false,
      single: true,
      monoNs,
      endMonoNs: monoNs,
      tid,
    });
  }
}

function isAnswerByte(b: number): boolean {
  return b === 0x53 || b === 0x4e || b === 0x47; // S, N, G
}

function plausibleHeader(b: Uint8Array, types: Set<number>): boolean {
  if (b.length < 5 || !types.has(b[0]!)) return false;
  const len = ((b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!) >>> 0;
  return len >= 4 && len <= MAX_PLAUSIBLE;
}

const OP_STARTUP = 0;
const OP_ENCRYPT = 1;
const OP_QUERY = 2;
const OP_PARSE = 3;
const OP_BIND = 4;
const OP_DESCRIBE = 5;
const OP_EXECUTE = 6;
const OP_CLOSE = 7;
const OP_SYNC = 8;
const OP_FUNCTION = 9;
const OP_LOST = 10;

/** A frontend message waiting for its answer. */
interface Op extends SqlStatementStart {
  kind: number;
  rows: number;
  tag?: string;
  error?: SqlError;
  endMonoNs?: bigint;
}

/** A backend message waiting for its operation, with only what matching needs. */
interface Answer {
  type: number;
  monoNs: bigint;
  answer: boolean;
  /** CommandComplete tag, ErrorResponse fields, ParameterStatus pair. */
  tag?: string;
  error?: SqlError;
}

/**
 * One PostgreSQL connection's protocol state.
 *
 * Feed the client's bytes to `frontend` and the server's to `backend` (each is a
 * {@linkcode StreamSink}, so a `StreamReassembler` can drive it directly), then `end()`.
 *
 * @example
 * ```ts
 * import { PostgresWireParser } from "./wire.ts";
 * import type { SqlExchange } from "../sql/exchange.ts";
 * const got: SqlExchange[] = [];
 * const pg = new PostgresWireParser({ onExchange: (e) => got.push(e) });
 * const q = new TextEncoder().encode("Q\0\0\0\x0dSELECT 1\0");
 * pg.frontend.data(q, 1n, 7);
 * const c = new TextEncoder().encode("C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I");
 * pg.backend.data(c, 2n, 9);
 * // got[0]: text "SELECT 1", rows 1, startMonoNs 1n, endMonoNs 2n, tid 7
 * ```
 */
export class PostgresWireParser {
  /** Problems seen so far. */
  problems = 0;
  /** The client's direction. */
  readonly frontend: StreamSink;
  /** The server's direction. */
  readonly backend: StreamSink;
  readonly #sink: SqlExchangeSink;
  readonly #maxText: number;
  readonly #maxPending: number;
  readonly #maxStatements: number;
  #facts: PostgresFacts = { encrypted: false };
  #fe: Framer;
  #be: Framer;
  #ops: Op[] = [];
  #backlog: Answer[] = [];
  /** Prepared statement texts by name. */
  #statements = new Map<string, { text: string; truncated: boolean }>();
  /** Portal name -> statement name. */
  #portals = new Map<string, string>();
  /** First message of the extended-protocol request being built. */
  #batchStart: { monoNs: bigint; tid: number } | null = null;
  /** The server skips to Sync after an extended-protocol error. */
  #skipToSync = false;
  /** Backend framing was lost at this time: answers are dropped until ReadyForQuery. */
  #backendLostAt: bigint | null = null;

  /** Makes a parser reporting to `sink`. */
  constructor(sink: SqlExchangeSink, options: PostgresWireOptions = {}) {
    this.#sink = sink;
    this.#maxText = options.maxTextBytes ?? 65536;
    this.#maxPending = options.maxPending ?? 1024;
    this.#maxStatements = options.maxStatements ?? 1024;
    const problem = (p: PostgresProblem) => this.#problem(p);
    this.#fe = new Framer(
      true,
      (
        t,
      ) => (t === ch("d") || t === ch("p")
        ? 0
        : t === ch("Q") || t === ch("P") || t === 0
        ? this.#maxText
        : 4096),
      (m) => this.#frontendMessage(m),
      problem,
      () => false,
    );
    this.#be = new Framer(
      false,
      (t) => (t === ch("C") || t === ch("E") || t === ch("S") || t === ch("R") ? 4096 : 0),
      (m) => this.#backendMessage(m),
      problem,
      () => this.#ops[0]?.kind === OP_ENCRYPT,
    );
    const reset = () => this.reset();
    this.frontend = directionSink(this.#fe, (size, t) => this.#frontendGap(size, t), reset);
    this.backend = directionSink(this.#be, (size, t) => this.#backendGap(size, t), reset);
  }

  /** What is known about the connection. */
  get facts(): PostgresFacts {
    return this.#facts;
  }

  /** True once nothing more can be parsed (encrypted, or not PostgreSQL). */
  get stopped(): boolean {
    return this.#fe.stopped && this.#be.stopped;
  }

  /** Operations waiting for answers. */
  get pending(): number {
    return this.#ops.length;
  }

  /** Names of the prepared statements remembered. */
  get statementNames(): string[] {
    return [...this.#statements.keys()];
  }

  /** The connection ended: drops what was never answered. */
  end(): void {
    this.#drop(this.#ops.length);
    this.#backlog = [];
    this.#fe.reset();
    this.#be.reset();
  }

  /** Forgets everything: the key now names a new connection. */
  reset(): void {
    this.#ops = [];
    this.#backlog = [];
    this.#statements.clear();
    this.#portals.clear();
    this.#batchStart = null;
    this.#skipToSync = false;
    this.#backendLostAt = null;
    this.#facts = { encrypted: false };
    this.#fe.reset();
    this.#be.reset();
  }

  #problem(p: PostgresProblem): void {
    this.problems++;
    this.#sink.onProblem?.(p);
  }

  #drop(count: number): void {
    for (let k = 0; k < count && this.#ops.length > 0; k++) {
      const op = this.#ops.shift()!;
      if (op.kind === OP_QUERY || op.kind === OP_EXECUTE) this.#problem("unanswered");
    }
  }

  #push(op: Op): void {
    pushBounded(this.#ops, op, this.#maxPending, () => this.#problem("pending-overflow"));
    this.#match();
  }

  #op(kind: number, m: Frame, extra: Partial<Op> = {}): Op {
    return {
      kind,
      text: "",
      truncated: false,
      startMonoNs: m.monoNs,
      tid: m.tid,
      rows: 0,
      ...extra,
    };
  }

  #frontendGap(size: number, monoNs: bigint): void {
    const before = this.#fe.resyncing || this.#fe.stopped;
    this.#fe.gap(size, monoNs);
    this.#batchStart = null;
    // Framing lost: whatever was in the hole gets answers up to a ReadyForQuery.
    if (!before && this.#fe.resyncing) {
      this.#push({
        kind: OP_LOST,
        text: "",
        truncated: true,
        startMonoNs: monoNs,
        tid: 0,
        rows: 0,
      });
    }
  }

  #backendGap(size: number, monoNs: bigint): void {
    this.#be.gap(size, monoNs);
  }

  #frontendMessage(m: Frame): void {
    const b = m.body;
    const cur = new Cursor(b);
    switch (m.type) {
      case 0: {
        if (b.length < 4) return this.#problem("bad-startup");
        const code = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.#push(this.#op(OP_ENCRYPT, m));
          return;
        }
        if (code === CANCEL_REQUEST) return;
        if (code >>> 16 !== 3) {
          this.#problem("bad-startup");
          this.#fe.stop();
          this.#be.stop();
          return;
        }
        this.#fe.untyped = false;
        this.#facts.protocol = `${code >>> 16}.${code & 0xffff}`;
        cur.at = 4;
        for (;;) {
          const key = cur.cstring();
          if (key === undefined || key === "") break;
          const value = cur.cstring();
          if (value === undefined) break;
          if (key === "user") this.#facts.user = value;
          else if (key === "database") this.#facts.database = value;
          else if (key === "application_name") this.#facts.applicationName = value;
        }
        if (this.#facts.database === undefined && this.#facts.user !== undefined) {
          this.#facts.database = this.#facts.user; // the server's default
        }
        this.#push(this.#op(OP_STARTUP, m));
        return;
      }
      case 0x51: { // Q
        const { text, complete } = cur.text();
        this.#batchStart = null;
        this.#push(this.#op(OP_QUERY, m, { text, truncated: m.truncated || !complete }));
        return;
      }
      case 0x50: { // P
        this.#noteBatch(m);
        const name = cur.cstring() ?? "";
        const { text, complete } = cur.text();
        const truncated = m.truncated && !complete;
        if (!this.#statements.has(name) && this.#statements.size >= this.#maxStatements) {
          const oldest = this.#statements.keys().next().value;
          if (oldest !== undefined) this.#statements.delete(oldest);
        }
        this.#statements.set(name, { text, truncated });
        this.#push(this.#op(OP_PARSE, m, { text, truncated, statementName: name }));
        return;
      }
      case 0x42: { // B
        this.#noteBatch(m);
        const portal = cur.cstring() ?? "";
        const statement = cur.cstring() ?? "";
        if (this.#portals.size >= this.#maxStatements) this.#portals.clear();
        this.#portals.set(portal, statement);
        const s = this.#statements.get(statement);
        this.#push(
          this.#op(OP_BIND, m, {
            text: s?.text ?? "",
            truncated: s?.truncated ?? false,
            statementName: statement,
          }),
        );
        return;
      }
      case 0x44: // D
        this.#noteBatch(m);
        this.#push(this.#op(OP_DESCRIBE, m));
        return;
      case 0x45: { // E
        const start = this.#batchStart ?? { monoNs: m.monoNs, tid: m.tid };
        this.#batchStart = null;
        const portal = cur.cstring() ?? "";
        const statementName = this.#portals.get(portal);
        const s = statementName === undefined ? undefined : this.#statements.get(statementName);
        const op = this.#op(OP_EXECUTE, m, {
          text: s?.text ?? "",
          truncated: s?.truncated ?? false,
          startMonoNs: start.monoNs,
          tid: start.tid,
        });
        if (statementName !== undefined) op.statementName = statementName;
        this.#push(op);
        return;
      }
      case 0x43: { // C (Close)
        this.#noteBatch(m);
        const what = b[0];
        cur.at = 1;
        const name = cur.cstring() ?? "";
        if (what === 0x53) this.#statements.delete(name);
        else this.#portals.delete(name);
        this.#push(this.#op(OP_CLOSE, m));
        return;
      }
      case 0x53: // S (Sync)
        this.#batchStart = null;
        this.#push(this.#op(OP_SYNC, m));
        return;
      case 0x46: // F (FunctionCall)
        this.#batchStart = null;
        this.#push(this.#op(OP_FUNCTION, m));
        return;
      default:
        return; // Flush, Terminate, CopyData/Done/Fail, password: no answer of their own
    }
  }

  #noteBatch(m: Frame): void {
    if (this.#batchStart === null) this.#batchStart = { monoNs: m.monoNs, tid: m.tid };
  }

  #backendMessage(m: Frame): void {
    const a: Answer = { type: m.type, monoNs: m.monoNs, answer: m.single };
    if (m.single) {
      if (m.type === 0x53 || m.type === 0x47) {
        // Encryption accepted: the rest of both directions is ciphertext.
        this.#facts.encrypted = true;
        this.#fe.stop();
        this.#be.stop();
      } else {
        this.#be.answerAllowed = true; // a GSS refusal may be followed by an SSL answer
      }
    } else if (m.type === 0x43) {
      a.tag = new Cursor(m.body).text().text;
    } else if (m.type === 0x45) {
      a.error = parseError(m.body);
    } else if (m.type === 0x53) {
      const cur = new Cursor(m.body);
      const key = cur.cstring();
      const value = cur.cstring();
      if (key === "server_version" && value !== undefined) this.#facts.serverVersion = value;
      if (key === "application_name" && value) this.#facts.applicationName = value;
      return;
    } else if (m.type === 0x4e || m.type === 0x41) {
      return; // NoticeResponse, NotificationResponse: asynchronous
    }
    pushBounded(this.#backlog, a, this.#maxPending, () => this.#problem("backlog-overflow"));
    this.#match();
  }

  /** Pairs waiting answers with waiting operations, in order. */
  #match(): void {
    const ops = this.#ops;
    const backlog = this.#backlog;
    for (;;) {
      if (this.#skipToSync) {
        while (ops.length > 0 && ops[0]!.kind !== OP_SYNC && ops[0]!.kind !== OP_QUERY) {
          ops.shift();
        }
        if (ops.length > 0) this.#skipToSync = false;
      }
      const a = backlog[0];
      const op = ops[0];
      if (a === undefined || op === undefined) return;
      if (this.#apply(a, op)) backlog.shift();
    }
  }

  /** Applies one answer to the oldest operation; false when the answer is kept for the next. */
  #apply(a: Answer, op: Op): boolean {
    const t = a.type;
    const ops = this.#ops;
    if (a.answer) {
      if (op.kind === OP_ENCRYPT) ops.shift();
      return true;
    }
    if (op.kind === OP_ENCRYPT) {
      ops.shift(); // no answer seen; this belongs to what came next
      return false;
    }
    if (op.kind === OP_LOST) {
      if (t === 0x5a) ops.shift();
      return true;
    }
    if (t === 0x5a) { // ReadyForQuery ends a Query, a Sync, the startup or a FunctionCall
      switch (op.kind) {
        case OP_QUERY:
          ops.shift();
          this.#emit(op, op.endMonoNs ?? a.monoNs);
          return true;
        case OP_SYNC:
        case OP_STARTUP:
        case OP_FUNCTION:
          ops.shift();
          return true;
        default:
          // The operations before the Sync were never answered.
          this.#problem("unanswered");
          ops.shift();
          return false;
      }
    }
    switch (op.kind) {
      case OP_STARTUP:
        if (t === 0x45) { // startup refused
          ops.shift();
          return true;
        }
        return true; // Authentication, BackendKeyData, NegotiateProtocolVersion
      case OP_QUERY:
      case OP_FUNCTION:
        if (t === 0x44) op.rows++;
        else if (t === 0x43) {
          op.tag = a.tag;
          op.endMonoNs = a.monoNs;
        } else if (t === 0x49) op.endMonoNs = a.monoNs;
        else if (t === 0x45) {
          op.error = a.error;
          op.endMonoNs = a.monoNs;
        }
        return true;
      case OP_SYNC:
        return true; // e.g. an error raised while committing at Sync
      case OP_EXECUTE:
        return this.#executeAnswer(a, op);
      default: { // PARSE, BIND, DESCRIBE, CLOSE
        if (t === 0x45) {
          op.error = a.error;
          ops.shift();
          // A statement that failed before running is still a failed statement.
          if (op.kind === OP_PARSE || op.kind === OP_BIND) this.#emit(op, a.monoNs);
          this.#skipToSync = true;
          return true;
        }
        const done = (op.kind === OP_PARSE && t === 0x31) ||
          (op.kind === OP_BIND && t === 0x32) ||
          (op.kind === OP_CLOSE && t === 0x33) ||
          (op.kind === OP_DESCRIBE && (t === 0x54 || t === 0x6e));
        if (done) {
          ops.shift();
          return true;
        }
        if (op.kind === OP_DESCRIBE && t === 0x74) return true; // ParameterDescription first
        // Not an answer to this operation: it went unanswered (lost), try the next one.
        this.#problem("unexpected-message");
        ops.shift();
        return false;
      }
    }
  }

  /** An answer to Execute: rows, then completion, an empty query, a suspension or an error. */
  #executeAnswer(a: Answer, op: Op): boolean {
    const ops = this.#ops;
    switch (a.type) {
      case 0x44: // DataRow
        op.rows++;
        return true;
      case 0x43: // CommandComplete
        op.tag = a.tag;
        ops.shift();
        this.#emit(op, a.monoNs);
        return true;
      case 0x49: // EmptyQueryResponse
      case 0x73: // PortalSuspended
        ops.shift();
        this.#emit(op, a.monoNs);
        return true;
      case 0x45:
        op.error = a.error;
        ops.shift();
        this.#emit(op, a.monoNs);
        this.#skipToSync = true;
        return true;
      default:
        return true; // RowDescription, Copy*Response, CopyData, CopyDone
    }
  }

  #emit(op: Op, endMonoNs: bigint): void {
    const ex = endedExchange(op, endMonoNs);
    if (op.tag !== undefined) withCommandTag(ex, op.tag);
    else if (op.rows > 0) ex.rows = op.rows;
    if (op.error !== undefined) ex.error = op.error;
    if (this.#facts.database !== undefined) ex.namespace = this.#facts.database;
    this.#sink.onExchange(ex);
  }
}

/** Puts a CommandComplete tag on an exchange, with the rows it counts. */
export function withCommandTag(ex: SqlExchange, tag: string): void {
  ex.commandTag = tag;
  const rows = rowsFromTag(tag);
  if (rows !== undefined) ex.rows = rows;
}

/** Tags whose last word counts rows (`INSERT 0 5`, `SELECT 3`, ...). */
const ROW_TAGS = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "FETCH",
  "MOVE",
  "COPY",
]);

/**
 * Rows counted by a CommandComplete tag: `SELECT 3` -> 3, `INSERT 0 5` -> 5; undefined for
 * tags without a count (`CREATE TABLE`).
 *
 * @example
 * ```ts
 * import { rowsFromTag } from "./wire.ts";
 * rowsFromTag("UPDATE 2"); // 2
 * ```
 */
export function rowsFromTag(tag: string): number | undefined {
  // Read in place (every statement has a tag): the first word, then the digits after the
  // last space.
  const first = tag.indexOf(" ");
  if (first < 0 || !ROW_TAGS.has(tag.slice(0, first))) return undefined;
  const from = tag.lastIndexOf(" ") + 1;
  if (tag.length - from < 1 || tag.length - from > 15) return undefined;
  for (let i = from; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(tag.slice(from));
}

/** ErrorResponse fields: SQLSTATE (`C`) and message (`M`). */
function parseError(body: Uint8Array): SqlError {
  const err: SqlError = { sqlstate: "", message: "" };
  const cur = new Cursor(body);
  while (cur.at < body.length) {
    const code = body[cur.at]!;
    if (code === 0) break;
    cur.at++;
    const value = cur.text().text;
    if (code === 0x43) err.sqlstate = value;
    else if (code === 0x4d) err.message = value;
  }
  return err;
}

/** What {@linkcode sniffPostgres} concluded. */
export type PostgresSniff = "startup" | "frontend" | "no" | "more";

/**
 * Whether a direction's first bytes are a PostgreSQL client talking: `startup` for a
 * connection's opening (StartupMessage v3, SSLRequest, GSSENCRequest, CancelRequest),
 * `frontend` for a connection caught mid-way (a frontend message with a plausible length
 * and body), `no`, or `more` when more bytes are needed to tell.
 *
 * @example
 * ```ts
 * import { sniffPostgres } from "./wire.ts";
 * sniffPostgres(new Uint8Array([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f])); // "startup" (SSLRequest)
 * ```
 */
export function sniffPostgres(b: Uint8Array): PostgresSniff {
  if (b.length === 0) return "more";
  if (b[0] === 0) {
    if (b.length < 8) return "more";
    const len = ((b[0] << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    const code = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
    if ((code === SSL_REQUEST || code === GSSENC_REQUEST) && len === 8) return "startup";
    if (code === CANCEL_REQUEST && len === 16) return "startup";
    if (code >>> 16 === 3 && (code & 0xffff) <= 2 && len >= 9 && len <= 10000) {
      // Parameters are `key\0value\0...\0`; the first key is printable.
      return b.length < 9 || isPrintable(b[8]!) ? "startup" : "no";
    }
    return "no";
  }
  const t = b[0]!;
  if (!FRONTEND_TYPES.has(t) || t === ch("p") || t === ch("d")) return "no";
  if (b.length < 5) return "more";
  const len = ((b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!) >>> 0;
  if (len < 4 || len > MAX_PLAUSIBLE) return "no";
  switch (t) {
    case ch("S"):
    case ch("H"):
    case ch("X"):
    case ch("c"):
      return len === 4 ? "frontend" : "no";
    case ch("Q"): {
      if (len < 5) return "no";
      // The text: printable up to its NUL, which must be the message's last byte.
      const end = Math.min(b.length, 1 + len);
      for (let i = 5; i < end; i++) {
        const c = b[i]!;
        if (c === 0) return i === len ? "frontend" : "no";
        if (!isPrintable(c) && c < 0x80) return "no";
      }
      return end - 5 >= 16 || end === 1 + len ? "frontend" : "more";
    }
    case ch("P"):
    case ch("B"):
    case ch("E"):
    case ch("D"):
    case ch("C"): {
      // Starts with a (possibly empty) printable name and its NUL.
      const end = Math.min(b.length, 1 + len);
      for (let i = 5; i < end; i++) {
        const c = b[i]!;
        if (t === ch("D") || t === ch("C")) {
          if (i === 5) {
            if (c !== ch("S") && c !== ch("P")) return "no";
            continue;
          }
        }
        if (c === 0) return "frontend";
        if (!isPrintable(c)) return "no";
      }
      return "more";
    }
    default:
      return "no";
  }
}

function isPrintable(c: number): boolean {
  return (c >= 0x20 && c < 0x7f) || c === 9 || c === 10 || c === 13;
}
