/**
 * What the SQL wire parsers report: one exchange per executed statement, the same shape
 * for every database protocol, so that one semantic-convention mapping serves them all.
 *
 * @module
 */

/** A statement that failed. */
export interface SqlError {
  /** Five-character SQLSTATE (`42P01`); "" when the server sent none. */
  sqlstate: string;
  /** The server's message (`relation "nope" does not exist`). */
  message: string;
  /** Vendor error number (MySQL's `1146`); absent for PostgreSQL. */
  code?: number;
}

/** One executed statement and its outcome. */
export interface SqlExchange {
  /**
   * Statement text as sent (a prepared statement's text when it was prepared on this
   * connection while it was watched); "" when unknown.
   */
  text: string;
  /** True when `text` is only the start of the statement (a gap or size limit cut it). */
  truncated?: boolean;
  /**
   * Name (PostgreSQL, "" for the unnamed statement) or id (MySQL, in decimal) of the
   * prepared statement executed; absent for a plain query.
   */
  statementName?: string;
  /** Kernel monotonic time of the first byte of the request. */
  startMonoNs: bigint;
  /** Kernel monotonic time of the message that completed the statement. */
  endMonoNs: bigint;
  /** Rows returned or affected, when the server said. */
  rows?: number;
  /** PostgreSQL's command tag (`SELECT 3`, `INSERT 0 1`). */
  commandTag?: string;
  /** Present when the statement failed. */
  error?: SqlError;
  /** Thread that sent the first byte of the request. */
  tid: number;
  /** The database (schema) the connection was using, when known. */
  namespace?: string;
}

/** Receives a parser's output. */
export interface SqlExchangeSink {
  /** One statement finished. */
  onExchange(exchange: SqlExchange): void;
  /** Something in the byte stream could not be followed (for counting); the parser goes on. */
  onProblem?(problem: string): void;
}

/** What a statement source knows of a statement while it runs. */
export interface SqlStatementStart {
  text: string;
  truncated: boolean;
  statementName?: string;
  startMonoNs: bigint;
  tid: number;
}

/**
 * The exchange of a statement that began as `start` and ended at `endMonoNs` (never before
 * it began); outcome fields (rows, error, tag) are the caller's to add.
 */
export function endedExchange(start: SqlStatementStart, endMonoNs: bigint): SqlExchange {
  const ex: SqlExchange = {
    text: start.text,
    startMonoNs: start.startMonoNs,
    endMonoNs: endMonoNs < start.startMonoNs ? start.startMonoNs : endMonoNs,
    tid: start.tid,
  };
  if (start.truncated) ex.truncated = true;
  if (start.statementName !== undefined) ex.statementName = start.statementName;
  return ex;
}
