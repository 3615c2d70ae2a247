/**
 * Loads the recorded HTTP/2 captures (`testdata/*.json`, written by
 * `tests/targets/capture_http2.ts`) and replays them into an {@linkcode Http2Connection}.
 *
 * @module
 */
import { type Http2Connection, Http2Connection as Conn, type Http2Exchange } from "./connection.ts";

/** One recorded piece: side 0 is the client's bytes, 1 the server's. */
export interface Piece {
  side: 0 | 1;
  ns: bigint;
  bytes: Uint8Array;
}

/** The connections of a capture, each as its pieces in order. */
export function loadCapture(name: string): Piece[][] {
  const text = Deno.readTextFileSync(new URL(`./testdata/${name}.json`, import.meta.url));
  const raw = JSON.parse(text) as { dir: "c2s" | "s2c"; ns: string; b64: string }[][];
  return raw.map((conn) =>
    conn.map((p) => ({
      side: p.dir === "c2s" ? 0 : 1,
      ns: BigInt(p.ns),
      bytes: Uint8Array.from(atob(p.b64), (c) => c.charCodeAt(0)),
    }))
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
