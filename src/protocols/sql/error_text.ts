/**
 * A database's error text made fit for `status.message`: the server quotes the values that
 * failed (`Duplicate entry 'alice@example.com' for key 'email'`, `Key (email)=(a@b.c)
 * already exists`, `invalid input syntax for type integer: "4111 1111"`), which are as
 * private as the literals the query sanitizer removes. Literal values become `?`; names of
 * relations, columns and constraints (PostgreSQL's `relation "orders"`) stay, as they say
 * what went wrong.
 *
 * @module
 */

/**
 * The error text with its literal values replaced by `?`, at most 1024 characters.
 *
 * @example
 * ```ts
 * import { sanitizeErrorText } from "./error_text.ts";
 * sanitizeErrorText("Duplicate entry 'a@b.c' for key 'users.email'");
 * // "Duplicate entry '?' for key 'users.email'"
 * ```
 */
export function sanitizeErrorText(text: string): string {
  return text.slice(0, 1024)
    // MySQL: Duplicate entry '...' for key '...' -- the entry is a value, the key a name.
    .replace(/(entry\s+)'(?:[^'\\]|\\.|'')*'/gi, "$1'?'")
    // Other single-quoted text in a message is a value (MySQL: "Incorrect integer value: 'x'").
    .replace(/(value:?\s+|for column\s+'[^']*'\s+at row\s+)'(?:[^'\\]|\\.|'')*'/gi, "$1'?'")
    .replace(/(:\s*)'(?:[^'\\]|\\.|'')*'/g, "$1'?'")
    // PostgreSQL DETAIL: Key (email)=(a@b.c) -- the columns stay, the values go.
    .replace(/(\([^()]*\)=)\((?:[^()]|\([^()]*\))*\)/g, "$1(?)")
    // PostgreSQL: ... for type integer: "abc" -- after a colon, a double-quoted value.
    .replace(/(:\s*)"(?:[^"]|"")*"/g, '$1"?"')
    // Numbers standing alone (an id, a card number) are values too.
    .replace(/(^|[\s=,])-?\d[\d.,]*(?=$|[\s),;])/g, "$1?");
}
