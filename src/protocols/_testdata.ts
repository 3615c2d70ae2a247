/**
 * Captured client/server byte streams of real conversations (see
 * `tests/targets/capture_sql.ts`, `capture_http1.ts` and `capture_http2.ts`) for the protocol
 * tests and fuzz harnesses, and a helper that replays them into a parser.
 *
 * @module
 */
import pgPsql from "./sql/testdata/pg_psql.json" with { type: "json" };
import pgNode from "./sql/testdata/pg_node.json" with { type: "json" };
import mariadbCli from "./sql/testdata/mariadb_cli.json" with { type: "json" };
import mariadbMysql2 from "./sql/testdata/mariadb_mysql2.json" with { type: "json" };
import http1Curl from "./http1/testdata/curl.json" with { type: "json" };
import http2Nginx from "./http2/testdata/nginx_h2c.json" with { type: "json" };
import http2GoUpgrade from "./http2/testdata/go_h2c_upgrade.json" with { type: "json" };
import http2Grpc from "./http2/testdata/grpc_go.json" with { type: "json" };

/** One captured piece: `c2s` from the client, `s2c` from the server. */
export interface CapturedPiece {
  dir: "c2s" | "s2c";
  /** Capture time, ns. */
  ns: bigint;
  bytes: Uint8Array;
}

type Raw = { dir: string; ns: string; b64: string }[][];

function decode(raw: Raw): CapturedPiece[][] {
  return raw.map((conn) =>
    conn.map((p) => ({
      dir: p.dir === "c2s" ? "c2s" : "s2c",
      ns: BigInt(p.ns),
      bytes: Uint8Array.from(atob(p.b64), (c) => c.charCodeAt(0)),
    }))
  );
}

/** Every capture, by name: one array of pieces per connection. */
export const CAPTURES: Record<string, CapturedPiece[][]> = {
  pg_psql: decode(pgPsql as Raw),
  pg_node: decode(pgNode as Raw),
  mariadb_cli: decode(mariadbCli as Raw),
  mariadb_mysql2: decode(mariadbMysql2 as Raw),
  http1_curl: decode(http1Curl as Raw),
  nginx_h2c: decode(http2Nginx as Raw),
  go_h2c_upgrade: decode(http2GoUpgrade as Raw),
  grpc_go: decode(http2Grpc as Raw),
};

/** Anything with a client and a server {@linkcode StreamSink}-like side. */
export interface TwoSided {
  data(side: "client" | "server", bytes: Uint8Array, monoNs: bigint, tid: number): void;
}

/** Client pieces get tid 1, server pieces tid 2. */
export function replay(conn: CapturedPiece[], into: TwoSided): void {
  for (const p of conn) {
    into.data(p.dir === "c2s" ? "client" : "server", p.bytes, p.ns, p.dir === "c2s" ? 1 : 2);
  }
}
