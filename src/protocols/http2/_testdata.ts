/**
 * The recorded HTTP/2 captures (`testdata/*.json`, written by
 * `tests/targets/capture_http2.ts`) by side, and a replay into an {@linkcode Http2Connection}.
 *
 * @module
 */
import { type Http2Connection, Http2Connection as Conn, type Http2Exchange } from "./connection.ts";
import { CAPTURES } from "../_testdata.ts";

/** One recorded piece: side 0 is the client's bytes, 1 the server's. */
export interface Piece {
  side: 0 | 1;
  ns: bigint;
  bytes: Uint8Array;
}

/** The connections of a capture (`../_testdata.ts`), each as its pieces in order. */
export function loadCapture(name: string): Piece[][] {
  return (CAPTURES[name] ?? []).map((conn) =>
    conn.map((p): Piece => ({ side: p.dir === "c2s" ? 0 : 1, ns: p.ns, bytes: p.bytes }))
  );
}

/** Replays pieces (optionally from `start`) and returns the exchanges and the connection. */
export function replay(
  pieces: Piece[],
  options: { start?: number; split?: number } = {},
): { exchanges: Http2Exchange[]; conn: Http2Connection } {
  const exchanges: Http2Exchange[] = [];
  const conn = new Conn({ onExchange: (x) => exchanges.push(x) });
  for (const p of pieces.slice(options.start ?? 0)) {
    const step = options.split ?? p.bytes.length;
    for (let i = 0; i < p.bytes.length; i += step) {
      conn.push(p.side, p.bytes.subarray(i, i + step), p.ns, 7);
    }
  }
  conn.end();
  return { exchanges, conn };
}
