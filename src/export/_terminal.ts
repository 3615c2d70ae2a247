/**
 * Shared by the console exporters: writing to stdout, deciding on color, printing
 * untrusted text safely and formatting wall-clock times.
 *
 * @module
 */

const encoder = new TextEncoder();

// The console's glyphs, written as escapes: V8 keeps a module's source for the agent's life,
// at two bytes a character once one character is beyond Latin-1 (source_text_test.ts).
/** The arrows before a peer: towards it (a write, a request's server), from it. */
export const _RIGHT_ARROW = "\u2192", _LEFT_ARROW = "\u2190";

let stdoutClosed = false;
let stdoutClosedHandler: () => void = () => {};

/**
 * What to do once the reader of stdout has gone (`... | head -1`): the command line stops
 * tracing quietly, as `yes | head` does. Later output is dropped.
 */
export function onStdoutClosed(handler: () => void): void {
  stdoutClosedHandler = handler;
}

/** Writes `text` (or bytes) to stdout synchronously, looping over partial writes. */
export function _writeStdout(text: string | Uint8Array): void {
  if (stdoutClosed) return;
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  let done = 0;
  try {
    while (done < bytes.length) done += Deno.stdout.writeSync(bytes.subarray(done));
  } catch (e) {
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
    stdoutClosed = true;
    stdoutClosedHandler();
  }
}

/**
 * Colors only when stdout is a terminal and `NO_COLOR` is not set to a non-empty value
 * (https://no-color.org).
 */
export function _stdoutWantsColor(): boolean {
  let noColor: string | undefined;
  try {
    noColor = Deno.env.get("NO_COLOR");
  } catch {
    noColor = undefined; // no env permission: decide on the terminal alone
  }
  return (noColor === undefined || noColor === "") && Deno.stdout.isTerminal();
}

/** SGR codes the exporters use. */
export type _Style = "dim" | "bold" | "red" | "green" | "yellow" | "blue" | "magenta" | "cyan";

const SGR: Record<_Style, string> = {
  dim: "2",
  bold: "1",
  red: "31",
  green: "32",
  yellow: "33",
  blue: "34",
  magenta: "35",
  cyan: "36",
};

/** Returns a function that wraps text in a style when `enabled`, else returns it as is. */
export function _painter(enabled: boolean): (style: _Style, text: string) => string {
  return enabled ? (style, text) => `\x1b[${SGR[style]}m${text}\x1b[0m` : (_style, text) => text;
}

/**
 * True for code points a terminal would act on instead of showing: C0 and C1 controls,
 * DEL, and the bidirectional overrides and isolates that reorder a line.
 */
export function _isUnsafeCodePoint(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) || cp === 0x2028 || cp === 0x2029 || cp === 0xfeff;
}

/**
 * Makes text from traced traffic (URL paths, queries, header values) safe for one
 * terminal line: unsafe code points become `\xNN` or `\u{N}` escapes.
 */
export function _sanitize(text: string): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (!_isUnsafeCodePoint(cp)) out += ch;
    else if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else out += `\\u{${cp.toString(16)}}`;
  }
  return out;
}

/**
 * Local wall-clock time of a Unix-nanosecond timestamp: `HH:MM:SS.mmm`, or
 * `HH:MM:SS.uuuuuu` with `digits` 6.
 */
export function _wallClock(unixNano: bigint, digits: 3 | 6 = 3): string {
  const ms = unixNano / 1_000_000n;
  const date = new Date(Number(ms));
  const fraction = digits === 3
    ? String(date.getMilliseconds()).padStart(3, "0")
    : String((((unixNano / 1000n) % 1_000_000n) + 1_000_000n) % 1_000_000n).padStart(6, "0");
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${fraction}`;
}
