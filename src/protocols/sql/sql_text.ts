/**
 * What a span needs from SQL text without a full parser: the operation (first keyword,
 * looking through `WITH ...` to the main statement), the main table, and a sanitized copy
 * with literals replaced by `?`.
 *
 * A small tokenizer understands the lexical rules that matter for getting literals right:
 * `'...'` with `''` (and backslash escapes in `E'...'` and in MySQL), PostgreSQL dollar quotes
 * (`$tag$...$tag$`), `"..."` (an identifier in PostgreSQL and standard SQL, a string in MySQL),
 * `` `...` `` identifiers, `--`, `#` (MySQL) and nested `/* ... *\/` comments, numbers, hex and
 * bit literals, and parameters (`$1`, `?`, `:name`). Work is bounded: only the first
 * `maxLength` characters are looked at. Nothing here throws.
 *
 * @module
 */

/** Lexical dialect: decides what `"..."`, `#`, `$` and backslashes mean. */
export type SqlDialect = "postgresql" | "mysql" | "generic";

/** Options for the functions of this module. */
export interface SqlTextOptions {
  /** Lexical rules to follow. Default "generic" (PostgreSQL's, without dollar quotes). */
  dialect?: SqlDialect;
  /** Most characters looked at; the rest is ignored (and dropped by the sanitizer). Default 32 768. */
  maxLength?: number;
}

/** The kinds of token the scanner tells apart. */
type TokenKind =
  | "space"
  | "comment"
  | "string"
  | "number"
  | "word"
  | "quoted"
  | "param"
  | "punct";

interface Token {
  kind: TokenKind;
  start: number;
  end: number;
}

const DEFAULT_MAX = 32768;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Letters, `_` and non-ASCII -- but not U+00A0, a space to {@linkcode isSpace}: `12` then a
 * no-break space is a number (a literal to hide), not a word. */
function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c >= 128 && c !== 0xa0);
}

/** `$` may continue a name in both PostgreSQL and MySQL (`a$b`). */
function isWordPart(c: number): boolean {
  return isWordStart(c) || isDigit(c) || c === 36;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** End of a quoted run starting at `from` (just after the opening quote). */
function quotedEnd(s: string, from: number, quote: number, backslash: boolean): number {
  let i = from;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (backslash && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (s.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

/** Splits `s` into tokens (whitespace and comments included). */
function tokenize(s: string, dialect: SqlDialect): Token[] {
  const out: Token[] = [];
  const n = s.length;
  const mysql = dialect === "mysql";
  let i = 0;
  while (i < n) {
    const start = i;
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    let kind: TokenKind;
    if (isSpace(c)) {
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      kind = "space";
    } else if (
      (c === 45 && next === 45) || (mysql && c === 35)
    ) {
      const nl = s.indexOf("\n", i);
      i = nl < 0 ? n : nl;
      kind = "comment";
    } else if (c === 47 && next === 42) {
      // Block comment; PostgreSQL nests them, MySQL does not.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        const a = s.charCodeAt(i);
        const b = s.charCodeAt(i + 1);
        if (a === 42 && b === 47) {
          depth--;
          i += 2;
        } else if (!mysql && a === 47 && b === 42) {
          depth++;
          i += 2;
        } else i++;
      }
      kind = "comment";
    } else if (c === 39) {
      i = quotedEnd(s, i + 1, 39, mysql);
      kind = "string";
    } else if (
      (c === 69 || c === 101) && next === 39 // E'...'
    ) {
      i = quotedEnd(s, i + 2, 39, true);
      kind = "string";
    } else if (
      (c === 88 || c === 120 || c === 66 || c === 98 || c === 78 || c === 110) &&
      next === 39 // X'...', B'...', N'...'
    ) {
      i = quotedEnd(s, i + 2, 39, mysql);
      kind = "string";
    } else if ((c === 85 || c === 117) && next === 38 && s.charCodeAt(i + 2) === 39) {
      i = quotedEnd(s, i + 3, 39, false); // U&'...'
      kind = "string";
    } else if (c === 34) {
      i = quotedEnd(s, i + 1, 34, mysql);
      kind = mysql ? "string" : "quoted";
    } else if (c === 96) {
      i = quotedEnd(s, i + 1, 96, false);
      kind = "quoted";
    } else if (c === 36 && isDigit(next)) {
      i += 2;
      while (i < n && isDigit(s.charCodeAt(i))) i++;
      kind = "param";
    } else if (c === 36 && dialect === "postgresql" && (next === 36 || isWordStart(next))) {
      // A dollar quote `$tag$`; a `$word` not closed by `$` is just punctuation.
      let j = i + 1;
      while (j < n && (isWordStart(s.charCodeAt(j)) || isDigit(s.charCodeAt(j)))) j++;
      if (s.charCodeAt(j) === 36) {
        const tag = s.slice(i, j + 1);
        const close = s.indexOf(tag, j + 1);
        i = close < 0 ? n : close + tag.length;
        kind = "string";
      } else {
        i++;
        kind = "punct";
      }
    } else if (c === 63) {
      i++;
      kind = "param";
    } else if (c === 58 && isWordStart(next) && s.charCodeAt(i - 1) !== 58) {
      i += 2;
      while (i < n && isWordPart(s.charCodeAt(i))) i++;
      kind = "param";
    } else if (isDigit(c) || (c === 46 && isDigit(next))) {
      if (c === 48 && (next === 120 || next === 88) && isHexDigit(s.charCodeAt(i + 2))) {
        i += 2;
        while (i < n && isHexDigit(s.charCodeAt(i))) i++;
      } else {
        while (i < n && isDigit(s.charCodeAt(i))) i++;
        if (s.charCodeAt(i) === 46) {
          i++;
          while (i < n && isDigit(s.charCodeAt(i))) i++;
        }
        const e = s.charCodeAt(i);
        if (e === 101 || e === 69) {
          let j = i + 1;
          const sign = s.charCodeAt(j);
          if (sign === 43 || sign === 45) j++;
          if (isDigit(s.charCodeAt(j))) {
            i = j;
            while (i < n && isDigit(s.charCodeAt(i))) i++;
          }
        }
      }
      // `1abc` is not a number followed by a word in any dialect we care about.
      if (i < n && isWordStart(s.charCodeAt(i))) {
        while (i < n && isWordPart(s.charCodeAt(i))) i++;
        kind = "word";
      } else kind = "number";
    } else if (isWordStart(c)) {
      i++;
      while (i < n && isWordPart(s.charCodeAt(i))) i++;
      kind = "word";
    } else {
      i++;
      kind = "punct";
    }
    out.push({ kind, start, end: i });
  }
  return out;
}

/** The tokens that carry meaning (no whitespace or comments), of at most `maxLength` chars. */
function meaningful(text: string, options: SqlTextOptions): { s: string; toks: Token[] } {
  const max = options.maxLength ?? DEFAULT_MAX;
  const s = text.length > max ? text.slice(0, max) : text;
  const toks = tokenize(s, options.dialect ?? "generic").filter((t) =>
    t.kind !== "space" && t.kind !== "comment"
  );
  return { s, toks };
}

function upperWord(s: string, t: Token | undefined): string | undefined {
  if (t === undefined || t.kind !== "word") return undefined;
  return s.slice(t.start, t.end).toUpperCase();
}

/** Index of the main statement's first token, looking past `(` and `WITH ... AS (...)`. */
function mainStatement(s: string, toks: Token[]): number {
  let i = 0;
  while (i < toks.length && s.charCodeAt(toks[i]!.start) === 40 && toks[i]!.kind === "punct") i++;
  if (upperWord(s, toks[i]) !== "WITH") return i;
  // Skip CTE definitions: everything at depth 0 up to a statement keyword.
  let depth = 0;
  for (let j = i + 1; j < toks.length; j++) {
    const t = toks[j]!;
    if (t.kind === "punct") {
      const c = s.charCodeAt(t.start);
      if (c === 40) depth++;
      else if (c === 41) depth--;
      continue;
    }
    if (depth === 0 && t.kind === "word" && MAIN_AFTER_WITH.has(upperWord(s, t)!)) return j;
  }
  return i;
}

const MAIN_AFTER_WITH = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "VALUES",
  "TABLE",
]);

/**
 * The operation of a statement: its first keyword in upper case (`SELECT`, `INSERT`,
 * `BEGIN`, ...); for `WITH ... ` the main statement's keyword. Undefined when the text does
 * not start with a word.
 *
 * @example
 * ```ts
 * import { sqlOperationName } from "./sql_text.ts";
 * sqlOperationName("with x as (select 1) delete from t"); // "DELETE"
 * ```
 */
export function sqlOperationName(text: string, options: SqlTextOptions = {}): string | undefined {
  const { s, toks } = meaningful(text, options);
  return upperWord(s, toks[mainStatement(s, toks)]);
}

/** The main table, given the statement's meaningful tokens. */
function collectionOf(s: string, toks: Token[]): string | undefined {
  const at = mainStatement(s, toks);
  return collectionAt(s, toks, at, upperWord(s, toks[at]));
}

/** A possibly qualified name starting at token `i`: unquoted parts joined by dots. */
function readName(s: string, toks: Token[], i: number): string | undefined {
  const parts: string[] = [];
  for (;;) {
    const t = toks[i];
    if (t === undefined) break;
    if (t.kind === "word") parts.push(s.slice(t.start, t.end));
    else if (t.kind === "quoted") {
      const q = s[t.start]!;
      const inner = s.slice(
        t.start + 1,
        s[t.end - 1] === q && t.end - t.start > 1 ? t.end - 1 : t.end,
      );
      parts.push(inner.split(q + q).join(q));
    } else break;
    const dot = toks[i + 1];
    if (dot === undefined || dot.kind !== "punct" || s.charCodeAt(dot.start) !== 46) break;
    i += 2;
  }
  return parts.length > 0 ? parts.join(".") : undefined;
}

/** Words that may come between the keyword and the table name. */
const SKIP_BEFORE_NAME = new Set([
  "ONLY",
  "IGNORE",
  "LOW_PRIORITY",
  "DELAYED",
  "HIGH_PRIORITY",
  "QUICK",
  "TABLE",
  "IF",
  "NOT",
  "EXISTS",
  "TEMP",
  "TEMPORARY",
  "UNLOGGED",
  "GLOBAL",
  "LOCAL",
]);

/** Reads the name after token `i` (the keyword), skipping modifiers. */
function nameAfter(s: string, toks: Token[], i: number): string | undefined {
  let j = i + 1;
  while (SKIP_BEFORE_NAME.has(upperWord(s, toks[j]) ?? "")) j++;
  return readName(s, toks, j);
}

/**
 * The main table of a statement: `SELECT ... FROM t`, `INSERT INTO t`, `UPDATE t`,
 * `DELETE FROM t`, `MERGE INTO t`, `TRUNCATE t`, `COPY t`, and `CREATE`/`DROP`/`ALTER TABLE t`.
 * Qualified names keep their dots (`public.users`); quotes are removed. Undefined when there
 * is no single main table (a sub-select in `FROM`, no `FROM` at all).
 *
 * @example
 * ```ts
 * import { sqlCollectionName } from "./sql_text.ts";
 * sqlCollectionName('SELECT * FROM "Sales".orders o JOIN x ON ...'); // "Sales.orders"
 * ```
 */
export function sqlCollectionName(text: string, options: SqlTextOptions = {}): string | undefined {
  const { s, toks } = meaningful(text, options);
  return collectionOf(s, toks);
}

/** The main table of the statement whose keyword `op` is token `at`. */
function collectionAt(
  s: string,
  toks: Token[],
  at: number,
  op: string | undefined,
): string | undefined {
  switch (op) {
    case "SELECT": {
      // The first FROM at the statement's own depth.
      let depth = 0;
      for (let j = at + 1; j < toks.length; j++) {
        const t = toks[j]!;
        if (t.kind === "punct") {
          const c = s.charCodeAt(t.start);
          if (c === 40) depth++;
          else if (c === 41) {
            if (--depth < 0) return undefined;
          } else if (c === 59 && depth === 0) return undefined;
          continue;
        }
        if (depth === 0 && upperWord(s, t) === "FROM") return nameAfter(s, toks, j);
      }
      return undefined;
    }
    case "INSERT":
    case "REPLACE":
    case "MERGE": {
      let j = at + 1;
      while (j < toks.length && j < at + 6 && upperWord(s, toks[j]) !== "INTO") j++;
      return upperWord(s, toks[j]) === "INTO" ? nameAfter(s, toks, j) : undefined;
    }
    case "DELETE": {
      let j = at + 1;
      while (j < toks.length && j < at + 5 && upperWord(s, toks[j]) !== "FROM") j++;
      return upperWord(s, toks[j]) === "FROM" ? nameAfter(s, toks, j) : undefined;
    }
    case "UPDATE":
    case "TRUNCATE":
    case "COPY":
    case "TABLE":
      return nameAfter(s, toks, at);
    case "CREATE":
    case "DROP":
    case "ALTER": {
      // Only tables: `CREATE INDEX`, `CREATE FUNCTION` ... have no collection.
      let j = at + 1;
      while (
        SKIP_BEFORE_NAME.has(upperWord(s, toks[j]) ?? "") && upperWord(s, toks[j]) !== "TABLE"
      ) {
        j++;
      }
      return upperWord(s, toks[j]) === "TABLE" ? nameAfter(s, toks, j) : undefined;
    }
    default:
      return undefined;
  }
}

/** Types whose parenthesised arguments are sizes, precisions and scales, kept as written. */
const TYPE_NAMES = new Set([
  "CHAR",
  "CHARACTER",
  "VARYING",
  "VARCHAR",
  "VARCHAR2",
  "NCHAR",
  "NVARCHAR",
  "NVARCHAR2",
  "BINARY",
  "VARBINARY",
  "BIT",
  "VARBIT",
  "DECIMAL",
  "DEC",
  "NUMERIC",
  "NUMBER",
  "FLOAT",
  "DOUBLE",
  "REAL",
  "TIME",
  "TIMESTAMP",
  "TIMESTAMPTZ",
  "TIMETZ",
  "DATETIME",
  "INTERVAL",
  "TINYINT",
  "SMALLINT",
  "MEDIUMINT",
  "INT",
  "INTEGER",
  "BIGINT",
  "TEXT",
  "BLOB",
]);

/**
 * `text` with every literal (strings of all kinds, numbers, hex and bit strings) replaced
 * by `?` -- not a type's arguments (`VARCHAR(50)` stays) -- and comments removed (they carry what people paste there, passwords included).
 * Keywords (`TRUE`, `NULL`), identifiers and parameters (`$1`, `?`, `:name`) stay as they
 * are. Text past `maxLength` is dropped; a literal cut by that limit still becomes `?`.
 *
 * @example
 * ```ts
 * import { sanitizeSql } from "./sql_text.ts";
 * sanitizeSql("SELECT * FROM t WHERE name = 'bob' AND id IN (1, 2) AND x = $1");
 * // "SELECT * FROM t WHERE name = ? AND id IN (?, ?) AND x = $1"
 * ```
 */
export function sanitizeSql(text: string, options: SqlTextOptions = {}): string {
  const max = options.maxLength ?? DEFAULT_MAX;
  const s = text.length > max ? text.slice(0, max) : text;
  const toks = tokenize(s, options.dialect ?? "generic");
  let out = "";
  let from = 0;
  // Inside a type's arguments (`VARCHAR(50)`, `NUMERIC(10, 2)`): sizes, not values.
  let last: Token | undefined;
  let typeArgs = false;
  for (const t of toks) {
    if (t.kind !== "space" && t.kind !== "comment") {
      if (t.kind === "punct") {
        const c = s.charCodeAt(t.start);
        if (c === 40) typeArgs = TYPE_NAMES.has(upperWord(s, last) ?? "");
        else if (c === 41) typeArgs = false;
      }
      last = t;
      if (typeArgs && t.kind === "number") continue;
    }
    if (t.kind === "comment") {
      out += s.slice(from, t.start);
      from = t.end;
      // In its place a space where it parted two tokens, nothing where a space already does.
      if (t.end >= s.length || isSpace(s.charCodeAt(t.end))) out = out.trimEnd();
      else if (out !== "" && !isSpace(out.charCodeAt(out.length - 1))) out += " ";
      if (out === "") { while (from < s.length && isSpace(s.charCodeAt(from))) from++; }
      continue;
    }
    if (t.kind !== "string" && t.kind !== "number") continue;
    out += s.slice(from, t.start) + "?";
    from = t.end;
  }
  return out + s.slice(from);
}

/** Operation and main table of one statement, in one pass over its tokens. */
export interface SqlSummary {
  /** See {@linkcode sqlOperationName}. */
  operation?: string;
  /** See {@linkcode sqlCollectionName}. */
  collection?: string;
}

/**
 * {@linkcode sqlOperationName} and {@linkcode sqlCollectionName} together.
 *
 * @example
 * ```ts
 * import { summarizeSql } from "./sql_text.ts";
 * summarizeSql("INSERT INTO app.users (name) VALUES ($1)");
 * // { operation: "INSERT", collection: "app.users" }
 * ```
 */
export function summarizeSql(text: string, options: SqlTextOptions = {}): SqlSummary {
  const out: SqlSummary = {};
  const { s, toks } = meaningful(text, options);
  const at = mainStatement(s, toks);
  const operation = upperWord(s, toks[at]);
  if (operation !== undefined) out.operation = operation;
  const collection = collectionAt(s, toks, at, operation);
  if (collection !== undefined) out.collection = collection;
  return out;
}
