/**
 * `--format json`: one JSON object per span, one span per line.
 *
 * @module
 */

import type { Span } from "../model/span.ts";
import type { SpanExporter } from "./exporter.ts";
import { _writeStdout } from "./_terminal.ts";

/** Options for {@linkcode JsonLinesExporter}. */
export interface JsonLinesExporterOptions {
  /**
   * Receives the lines made together (one read of the ring buffer), each ending in
   * `"\n"`. Default: a synchronous write of them, encoded, to stdout.
   */
  write?: (line: string) => void;
}

/**
 * The JSON form of a span, as the command-line contract fixes it: keys in the order
 * `traceId, spanId, parentSpanId, name, kind, startTimeUnixNano, endTimeUnixNano,
 * attributes, status, resource`; times as decimal strings of Unix nanoseconds; `status`
 * is `{"code"}` with `message` only when one is set. No trailing newline; U+2028 and
 * U+2029 are escaped too, so line splitters that treat them as line ends (Python's
 * `str.splitlines`) still see one span per line.
 *
 * @example
 * ```ts
 * const line = spanToJson({
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spanId: "00f067aa0ba902b7",
 *   parentSpanId: "",
 *   name: "GET /hello",
 *   kind: "SERVER",
 *   startTimeUnixNano: 1700000000000000000n,
 *   endTimeUnixNano: 1700000000001500000n,
 *   attributes: { "http.request.method": "GET", "http.response.status_code": 200 },
 *   status: { code: "UNSET" },
 *   resource: { "service.name": "python3", "process.pid": 4242 },
 * });
 * // {"traceId":"4bf9...","spanId":"00f0...",...,"startTimeUnixNano":"1700000000000000000",...}
 * ```
 */
export function spanToJson(span: Span): string {
  // A template with each value quoted in place: one JSON.stringify of the whole span cost
  // a third more (its fixed cost per object and per string is paid for every field).
  const message = span.status.message;
  const status = message !== undefined && message !== ""
    ? `{"code":${quoted(span.status.code)},"message":${lineSafe(JSON.stringify(message))}}`
    : STATUS[span.status.code] ?? `{"code":${quoted(span.status.code)}}`;
  return `{"traceId":${quoted(span.traceId)},"spanId":${quoted(span.spanId)},"parentSpanId":${
    quoted(span.parentSpanId)
  },"name":${quoted(span.name)},"kind":${
    quoted(span.kind)
  },"startTimeUnixNano":"${span.startTimeUnixNano}","endTimeUnixNano":"${span.endTimeUnixNano}","attributes":${
    lineSafe(JSON.stringify(span.attributes))
  },"status":${status},"resource":${resourceJson(span.resource)}}`;
}

/** The usual `status` objects, written once. */
const STATUS: Record<string, string | undefined> = {
  UNSET: '{"code":"UNSET"}',
  OK: '{"code":"OK"}',
  ERROR: '{"code":"ERROR"}',
};

/** What JSON escapes, and the line ends escaped besides (see {@linkcode lineSafe}). */
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

/** A string as a JSON string; most (ids, names) need no escape and are quoted as they are. */
function quoted(text: string): string {
  return NEEDS_ESCAPE.test(text) ? lineSafe(JSON.stringify(text)) : `"${text}"`;
}

const resourceCache = new WeakMap<object, string>();

function resourceJson(resource: Span["resource"]): string {
  let json = resourceCache.get(resource);
  if (json === undefined) {
    json = lineSafe(JSON.stringify(resource));
    resourceCache.set(resource, json);
  }
  return json;
}

const LINE_ENDS = /[\u2028\u2029]/;

/** U+2028/U+2029 are valid in JSON but end a line for some readers: escape them. */
function lineSafe(json: string): string {
  if (!LINE_ENDS.test(json)) return json;
  return json.replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

const encoder = new TextEncoder();
/** Characters of lines held before they are written even if the task goes on. */
const MAX_HELD = 1 << 17;

/**
 * Writes every span as one JSON line. Lines that arrive together (one read of the ring
 * buffer) go out in one write, at the end of the current task: a write per span cost
 * more than making the span. The lines are joined by `+=` (V8 keeps the pieces and copies
 * them once) and encoded in one call into a reused buffer: an `encodeInto` per line cost
 * twice as much (each flattened its line and paid the call), an array `join` and a fresh
 * `encode` about as much.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const exporter = new JsonLinesExporter({ write: (line) => lines.push(line) });
 * // exporter.export(span); once the current task ends, lines[0] is `{"traceId":...}\n`
 * await exporter.shutdown();
 * ```
 */
export class JsonLinesExporter implements SpanExporter {
  #write: ((text: string) => void) | undefined;
  #buf = new Uint8Array(1 << 16);
  #held = "";

  constructor(options: JsonLinesExporterOptions = {}) {
    this.#write = options.write;
  }

  export(span: Span): void {
    if (this.#held === "") queueMicrotask(() => this.#flush());
    this.#held += spanToJson(span) + "\n";
    if (this.#held.length >= MAX_HELD) this.#flush();
  }

  #flush(): void {
    const text = this.#held;
    if (text === "") return;
    this.#held = "";
    if (this.#write) return this.#write(text);
    // Sized for ASCII (a byte per character), grown where the text turns out not to be.
    if (text.length > this.#buf.length) this.#grow(text.length);
    let { read, written } = encoder.encodeInto(text, this.#buf);
    while (read < text.length) {
      this.#grow(written + (text.length - read) * 3); // UTF-8: at most 3 bytes per unit
      const more = encoder.encodeInto(text.slice(read), this.#buf.subarray(written));
      read += more.read;
      written += more.written;
    }
    _writeStdout(this.#buf.subarray(0, written));
  }

  /** A buffer of at least `size` bytes that keeps what the current one holds. */
  #grow(size: number): void {
    const grown = new Uint8Array(Math.max(size, this.#buf.length * 2));
    grown.set(this.#buf);
    this.#buf = grown;
  }

  shutdown(): Promise<void> {
    this.#flush();
    return Promise.resolve();
  }
}
