/**
 * `--format pretty` (the default): a live span tree for a terminal.
 *
 * ```
 * 14:03:07.123 SERVER GET /users 200 4.21ms python3[4242] <- 127.0.0.1
 * 14:03:07.124 |- CLIENT SELECT users OK 1.02ms python3[4242] -> db:5432
 * 14:03:07.126 `- CLIENT GET 200 1.50ms python3[4242] -> api.example.com:443
 * ```
 *
 * (Drawn with box-drawing characters and arrows; this file keeps to Latin-1, see
 * `source_text_test.ts`.)
 *
 * @module
 */

import type { Span } from "../model/span.ts";
import type { SpanExporter } from "./exporter.ts";
import {
  _LEFT_ARROW,
  _painter,
  _RIGHT_ARROW,
  _sanitize,
  _stdoutWantsColor,
  type _Style,
  _wallClock,
  _writeStdout,
} from "./_terminal.ts";

/** Options for {@linkcode PrettyExporter}. */
export interface PrettyExporterOptions {
  /** Receives printed text, whole lines ending in `"\n"`. Default: sync write to stdout. */
  write?: (text: string) => void;
  /**
   * Use ANSI colors. Default: only when stdout is a terminal and `NO_COLOR` is not set.
   */
  color?: boolean;
  /**
   * Longest time a span waits for its parent before it is printed alone, in ms.
   * Default: 2000.
   */
  holdMs?: number;
  /** How long a SERVER span waits for its parent. Default 250 ms. */
  serverHoldMs?: number;
  /**
   * How long a printed span's id is remembered, in ms: a child of a span printed within
   * this time is printed at once instead of waiting. Default: 60 000.
   */
  rememberMs?: number;
  /** Monotonic clock in ms. Default: `performance.now`. */
  now?: () => number;
}

/** A span and the children attached to it while they wait to be printed. */
interface Node {
  span: Span;
  children: Node[];
  parent: Node | undefined;
  /** When this node, if it is the top of a held tree, is printed without its parent. */
  deadline: number;
}

const MAX_REMEMBERED = 100_000;

/** The tree's branches: a child, the last child, and the line under a child with more after it. */
const TEE = "\u251c\u2500 ", ELBOW = "\u2514\u2500 ", BAR = "\u2502  ";

/**
 * Prints each trace as a tree, children indented under their parent, one line per span:
 * start time (local `HH:MM:SS.mmm`), kind, name, status (`http.response.status_code` when
 * present, else the span status), duration, `service.name[process.pid]` and the peer
 * (`<- client.address` for SERVER, `-> server.address:server.port` for CLIENT).
 *
 * Children usually end, and so arrive, before their parents, so a span is held back:
 *
 * - its parent is held: it is attached under it and printed with it;
 * - it has a parent that is not held and was not printed recently: it waits for the
 *   parent, at most `holdMs` (CLIENT and INTERNAL spans: made inside a local request
 *   whose span ends later) or `serverHoldMs` (SERVER spans: their parent is a traced
 *   client on this host, whose span ends just after, or a remote caller that may never
 *   come), and is then printed alone.
 * - otherwise (no parent, a remote parent, or a parent already printed): it is printed
 *   at once, together with the children that were waiting for it.
 *
 * `shutdown()` prints everything still held.
 *
 * @example
 * ```ts
 * const exporter = new PrettyExporter({ color: false, write: (text) => console.log(text) });
 * // exporter.export(clientSpan);  // held: its parent (serverSpan) has not arrived
 * // exporter.export(serverSpan);  // prints serverSpan, then "\u2514\u2500 CLIENT ..." under it
 * await exporter.shutdown();
 * ```
 */
export class PrettyExporter implements SpanExporter {
  #write: (text: string) => void;
  #paint: (style: _Style, text: string) => string;
  #holdMs: number;
  #serverHoldMs: number;
  #rememberMs: number;
  #now: () => number;
  /** Every held span, at any depth, by span id. */
  #held = new Map<string, Node>();
  /** Tops of held trees, by the parent span id they wait for. */
  #waiting = new Map<string, Node[]>();
  /** Ids of printed spans -> when they were printed. Oldest first. */
  #printed = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(options: PrettyExporterOptions = {}) {
    this.#write = options.write ?? _writeStdout;
    this.#paint = _painter(options.color ?? _stdoutWantsColor());
    this.#holdMs = options.holdMs ?? 2000;
    this.#serverHoldMs = options.serverHoldMs ?? 250;
    this.#rememberMs = options.rememberMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  export(span: Span): void {
    const now = this.#now();
    this.#forgetOld(now);
    const hold = span.kind === "SERVER" ? this.#serverHoldMs : this.#holdMs;
    const node: Node = { span, children: [], parent: undefined, deadline: now + hold };
    const waitingForMe = this.#waiting.get(span.spanId);
    if (waitingForMe) {
      this.#waiting.delete(span.spanId);
      for (const child of waitingForMe) this.#attach(node, child);
    }

    const parentId = span.parentSpanId;
    const parent = parentId === "" ? undefined : this.#held.get(parentId);
    if (parent && !isAncestorOrSelf(node, parent)) {
      this.#held.set(span.spanId, node);
      this.#attach(parent, node);
      return;
    }
    if (parentId !== "" && !this.#printed.has(parentId)) {
      this.#held.set(span.spanId, node);
      const list = this.#waiting.get(parentId);
      if (list) list.push(node);
      else this.#waiting.set(parentId, [node]);
      this.#schedule(node.deadline);
      return;
    }
    this.#print(node, now);
  }

  /** Prints the held trees whose wait is over. Runs by itself on a timer. */
  flushExpired(): void {
    const now = this.#now();
    for (const node of this.#waitingTops()) {
      if (node.deadline <= now) this.#printWaiting(node, now);
    }
    this.#reschedule();
  }

  shutdown(): Promise<void> {
    this.#clearTimer();
    const now = this.#now();
    for (const node of this.#waitingTops()) this.#printWaiting(node, now);
    return Promise.resolve();
  }

  /** Held tree tops in arrival order. */
  #waitingTops(): Node[] {
    return [...this.#waiting.values()].flat().sort((a, b) => a.deadline - b.deadline);
  }

  #attach(parent: Node, child: Node): void {
    child.parent = parent;
    const siblings = parent.children;
    let i = siblings.length;
    while (i > 0 && siblings[i - 1]!.span.startTimeUnixNano > child.span.startTimeUnixNano) i--;
    siblings.splice(i, 0, child);
  }

  #printWaiting(node: Node, now: number): void {
    const parentId = node.span.parentSpanId;
    const list = this.#waiting.get(parentId);
    if (list) {
      const rest = list.filter((n) => n !== node);
      if (rest.length > 0) this.#waiting.set(parentId, rest);
      else this.#waiting.delete(parentId);
    }
    this.#print(node, now);
  }

  #print(root: Node, now: number): void {
    const lines: string[] = [];
    const walk = (node: Node, lead: string, branch: string) => {
      this.#held.delete(node.span.spanId);
      this.#printed.delete(node.span.spanId);
      this.#printed.set(node.span.spanId, now);
      lines.push(this.#line(node.span, lead + branch));
      const next = lead + (branch === TEE ? BAR : branch === "" ? "" : "   ");
      node.children.forEach((child, i) => {
        walk(child, next, i === node.children.length - 1 ? ELBOW : TEE);
      });
    };
    walk(root, "", "");
    this.#write(lines.join("\n") + "\n");
  }

  #line(span: Span, tree: string): string {
    const p = this.#paint;
    const a = span.attributes;
    const lead = tree === "" ? "" : p("dim", tree);
    const parts = [p("dim", _wallClock(span.startTimeUnixNano)) + " " + lead + kind(span, p)];
    // A name without its route ("GET") reads better with the path beside it.
    const path = span.attributes["url.path"];
    const title = !span.name.includes(" ") && typeof path === "string"
      ? `${span.name} ${path}`
      : span.name;
    parts.push(p("bold", _sanitize(title)));
    parts.push(status(span, p));
    parts.push(formatDuration(span.endTimeUnixNano - span.startTimeUnixNano));
    const service = span.resource["service.name"];
    const pid = span.resource["process.pid"];
    if (service !== undefined || pid !== undefined) {
      const name = service === undefined ? "" : _sanitize(String(service));
      parts.push(p("dim", pid === undefined ? name : `${name}[${pid}]`));
    }
    if (span.kind === "SERVER" && a["client.address"] !== undefined) {
      parts.push(p("dim", `${_LEFT_ARROW} ${_sanitize(String(a["client.address"]))}`));
    } else if (span.kind === "CLIENT" && a["server.address"] !== undefined) {
      const port = a["server.port"] === undefined ? "" : `:${a["server.port"]}`;
      parts.push(p("dim", `${_RIGHT_ARROW} ${_sanitize(String(a["server.address"]) + port)}`));
    }
    return parts.join(" ");
  }

  #schedule(deadline: number): void {
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    this.#clearTimer();
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.flushExpired();
    }, Math.max(0, deadline - this.#now()));
    // Held spans must not keep a finished program alive; shutdown() prints them.
    this.#timer.unref();
  }

  #reschedule(): void {
    let earliest = Infinity;
    for (const list of this.#waiting.values()) {
      for (const node of list) earliest = Math.min(earliest, node.deadline);
    }
    if (earliest !== Infinity) this.#schedule(earliest);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #forgetOld(now: number): void {
    for (const [id, at] of this.#printed) {
      if (at > now - this.#rememberMs && this.#printed.size <= MAX_REMEMBERED) break;
      this.#printed.delete(id);
    }
  }
}

/** True when `node` is `candidate` or one of its ancestors (guards against id cycles). */
function isAncestorOrSelf(node: Node, candidate: Node): boolean {
  for (let n: Node | undefined = candidate; n; n = n.parent) if (n === node) return true;
  return false;
}

const KIND_STYLE: Record<Span["kind"], _Style> = {
  SERVER: "cyan",
  CLIENT: "magenta",
  INTERNAL: "blue",
};

function kind(span: Span, p: (style: _Style, text: string) => string): string {
  return p(KIND_STYLE[span.kind] ?? "dim", span.kind.padEnd(6));
}

function status(span: Span, p: (style: _Style, text: string) => string): string {
  const http = span.attributes["http.response.status_code"];
  const code = typeof http === "number" ? http : Number(http);
  let text: string;
  let style: _Style;
  if (http !== undefined) {
    text = _sanitize(String(http));
    style = span.status.code === "ERROR" || code >= 500 ? "red" : code >= 400 ? "yellow" : "green";
  } else {
    text = span.status.code;
    style = span.status.code === "ERROR" ? "red" : span.status.code === "OK" ? "green" : "dim";
  }
  const message = span.status.message;
  if (message) text += ` (${_sanitize(message)})`;
  return p(style, text);
}

const UNITS: [string, number][] = [["ns", 1], ["µs", 1e3], ["ms", 1e6], ["s", 1e9]];

/**
 * A duration in nanoseconds in human units with about three significant digits:
 * `850ns`, `12.3µs`, `4.56ms`, `1.20s`. Negative durations show as `0ns`.
 */
export function formatDuration(ns: bigint): string {
  const value = ns < 0n ? 0 : Number(ns);
  if (value < 1000) return `${value}ns`;
  for (let u = 1; u < UNITS.length; u++) {
    const [unit, scale] = UNITS[u]!;
    const x = value / scale;
    const text = x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
    if (Number(text) < 1000 || u === UNITS.length - 1) return `${text}${unit}`;
  }
  return `${value}ns`; // unreachable
}
