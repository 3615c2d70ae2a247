/**
 * A plaintext dump of captured TLS traffic, for debugging the way `sslsniff` and
 * eCapture are used: every captured piece of a connection, as text or as a hexdump.
 *
 * ```
 * 14:03:07.123456 WRITE pid 4242 tid 4242 (curl) conn 0x55d0c0a1b2c0 pos 0 len 78
 * ----- DATA -----
 * GET /hello HTTP/1.1\r
 * Host: 127.0.0.1:8443\r
 * \r
 * ----- END DATA -----
 * ```
 *
 * @module
 */

import { joinHostPort } from "../protocols/http/semconv.ts";
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import {
  _isUnsafeCodePoint,
  _LEFT_ARROW,
  _painter,
  _RIGHT_ARROW,
  _sanitize,
  _stdoutWantsColor,
  type _Style,
  _wallClock,
  _writeStdout,
} from "./_terminal.ts";

/** Options for {@linkcode DumpPrinter}. */
export interface DumpPrinterOptions {
  /** Converts a chunk's kernel monotonic time to Unix nanoseconds. */
  toUnixNano: (monoNs: bigint) => bigint;
  /**
   * Print data as a hexdump (`hexdump -C` layout, offsets in the stream) instead of
   * escaped text. Default: false.
   */
  hex?: boolean;
  /** Receives each chunk's text, whole lines ending in `"\n"`. Default: sync stdout. */
  write?: (text: string) => void;
  /** Use ANSI colors. Default: only when stdout is a terminal and `NO_COLOR` is not set. */
  color?: boolean;
}

/** Bookkeeping of a call whose chunks have not all arrived. */
interface OpenCall {
  start: number;
  captured: number;
}

/**
 * Prints {@linkcode StreamChunk}s as they arrive. Each gets a header line, wall time
 * (local, microseconds), `READ` (bytes the process read) or `WRITE`, pid, tid, process
 * name, connection key, stream position and captured length; when the call moved more
 * bytes than this chunk holds the header says `of N`, and on a call's last chunk it says
 * how many bytes were not captured. Then the data: text, with `\r`, `\\`, control bytes
 * and invalid UTF-8 escaped (`\xNN`) and newlines kept; or a hexdump.
 *
 * @example
 * ```ts
 * const printer = new DumpPrinter({
 *   toUnixNano: (mono) => mono + 1_700_000_000_000_000_000n,
 *   color: false,
 * });
 * printer.print({
 *   pid: 4242, tid: 4242, conn: "0x55d0c0a1b2c0", direction: "egress", pos: 0,
 *   data: new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), callEnd: 18, last: true,
 *   monoNs: 5_000_000n,
 * });
 * ```
 */
export class DumpPrinter {
  #toUnixNano: (monoNs: bigint) => bigint;
  #hex: boolean;
  #write: (text: string) => void;
  #paint: (style: _Style, text: string) => string;
  /** Calls spread over several chunks, by `pid/conn/direction`. */
  #open = new Map<string, OpenCall>();

  constructor(options: DumpPrinterOptions) {
    this.#toUnixNano = options.toUnixNano;
    this.#hex = options.hex ?? false;
    this.#write = options.write ?? _writeStdout;
    this.#paint = _painter(options.color ?? _stdoutWantsColor());
  }

  /** Prints one chunk. Chunks of one connection direction must come in stream order. */
  print(chunk: StreamChunk, name?: string, socket?: SocketInfo): void {
    const p = this.#paint;
    const key = `${chunk.pid}/${chunk.conn}/${chunk.direction}`;
    const open = chunk.pos === 0 ? undefined : this.#open.get(key);
    const callStart = open?.start ?? chunk.pos;
    const captured = (open?.captured ?? 0) + chunk.data.length;
    const callLength = chunk.callEnd - callStart;
    if (chunk.last) this.#open.delete(key);
    else this.#open.set(key, { start: callStart, captured });

    let length = `len ${chunk.data.length}`;
    if (callLength > chunk.data.length) length += ` of ${callLength}`;
    if (chunk.last && callLength > captured) {
      length += p("red", ` (truncated: ${callLength - captured} bytes not captured)`);
    }
    const header = [
      p("dim", _wallClock(this.#toUnixNano(chunk.monoNs), 6)),
      chunk.direction === "ingress" ? p("green", "READ ") : p("yellow", "WRITE"),
      `pid ${chunk.pid} tid ${chunk.tid}`,
      ...(name ? [`(${_sanitize(name)})`] : []),
      `conn ${_sanitize(chunk.conn)}`,
      ...(socket ? [addresses(socket, chunk.direction)] : []),
      `pos ${chunk.pos}`,
      length,
    ].join(" ");
    const body = this.#hex
      ? hexdump(chunk.data, chunk.pos)
      : escapeText(chunk.data, (text) => p("dim", text));
    const newline = body === "" || body.endsWith("\n") ? "" : "\n";
    this.#write(
      `${header}\n${p("dim", "----- DATA -----")}\n${body}${newline}` +
        `${p("dim", "----- END DATA -----")}\n`,
    );
  }
}

/** `local`, an arrow and `peer`: to the peer for writes, from it for reads (IPv6 in brackets). */
function addresses(socket: SocketInfo, direction: StreamChunk["direction"]): string {
  if (socket.family !== "ipv4" && socket.family !== "ipv6") return socket.family;
  const arrow = direction === "egress" ? _RIGHT_ARROW : _LEFT_ARROW;
  const local = joinHostPort(socket.localAddress, socket.localPort);
  return `${local} ${arrow} ${joinHostPort(socket.peerAddress, socket.peerPort)}`;
}

/**
 * Renders bytes as terminal-safe text: printable ASCII and valid UTF-8 as themselves,
 * newlines and tabs kept, `\r` and `\\` escaped, every other byte as `\xNN` (each escape
 * passed through `mark`, e.g. to dim it).
 *
 * @example
 * ```ts
 * escapeText(new Uint8Array([0x68, 0x69, 0x0d, 0x0a, 0x00, 0xff])); // "hi\\r\n\\x00\\xff"
 * ```
 */
export function escapeText(bytes: Uint8Array, mark: (escape: string) => string = (e) => e): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0x0a || b === 0x09 || (b >= 0x20 && b < 0x7f && b !== 0x5c)) {
      out += String.fromCharCode(b);
      i++;
    } else if (b === 0x5c) {
      out += mark("\\\\");
      i++;
    } else if (b === 0x0d) {
      out += mark("\\r");
      i++;
    } else {
      const decoded = b >= 0x80 ? decodeUtf8(bytes, i) : undefined;
      if (decoded && !_isUnsafeCodePoint(decoded.codePoint)) {
        out += String.fromCodePoint(decoded.codePoint);
        i += decoded.length;
      } else {
        out += mark(`\\x${b.toString(16).padStart(2, "0")}`);
        i++;
      }
    }
  }
  return out;
}

/** One well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs or surrogates). */
function decodeUtf8(
  bytes: Uint8Array,
  i: number,
): { codePoint: number; length: number } | undefined {
  const b0 = bytes[i]!;
  let length: number;
  let cp: number;
  let min = 0x80;
  let max = 0xbf; // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    cp = b0 & 0x0f;
    if (b0 === 0xe0) min = 0xa0;
    if (b0 === 0xed) max = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    cp = b0 & 0x07;
    if (b0 === 0xf0) min = 0x90;
    if (b0 === 0xf4) max = 0x8f;
  } else {
    return undefined;
  }
  for (let k = 1; k < length; k++) {
    const b = bytes[i + k];
    if (b === undefined) return undefined;
    if (k === 1 ? b < min || b > max : b < 0x80 || b > 0xbf) return undefined;
    cp = (cp << 6) | (b & 0x3f);
  }
  return { codePoint: cp, length };
}

/**
 * `hexdump -C` layout: offset (starting at `offset`), 16 bytes in two groups of 8, and
 * the printable ASCII between bars.
 *
 * @example
 * ```ts
 * hexdump(new TextEncoder().encode("HTTP/1.1 200 OK\r\n"), 0);
 * // 00000000  48 54 54 50 2f 31 2e 31  20 32 30 30 20 4f 4b 0d  |HTTP/1.1 200 OK.|
 * // 00000010  0a                                                |.|
 * ```
 */
export function hexdump(bytes: Uint8Array, offset = 0): string {
  let out = "";
  for (let row = 0; row < bytes.length; row += 16) {
    const slice = bytes.subarray(row, row + 16);
    let hex = "";
    let ascii = "";
    for (let k = 0; k < 16; k++) {
      const b = slice[k];
      hex += (k === 8 ? "  " : k > 0 ? " " : "") +
        (b === undefined ? "  " : b.toString(16).padStart(2, "0"));
      if (b !== undefined) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
    }
    out += `${(offset + row).toString(16).padStart(8, "0")}  ${hex}  |${ascii}|\n`;
  }
  return out;
}
