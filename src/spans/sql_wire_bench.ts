// Parser throughput on the real captures: `deno bench -A src/spans/sql_wire_bench.ts`.
import { PostgresWireParser } from "../protocols/postgresql/wire.ts";
import { MysqlWireParser } from "../protocols/mysql/wire.ts";
import { sanitizeSql, summarizeSql } from "../protocols/sql/sql_text.ts";
import { CAPTURES } from "../protocols/_testdata.ts";

const pgConn = CAPTURES.pg_node![0]!;
const myConn = CAPTURES.mariadb_mysql2![1]!;
const noop = { onExchange: () => {} };

Deno.bench("postgres: node-postgres connection (9 statements, extended protocol)", () => {
  const pg = new PostgresWireParser(noop);
  for (const p of pgConn) (p.dir === "c2s" ? pg.frontend : pg.backend).data(p.bytes, p.ns, 1);
});

Deno.bench("mysql: mysql2 connection (8 statements, prepared)", () => {
  const my = new MysqlWireParser(noop);
  for (const p of myConn) (p.dir === "c2s" ? my.client : my.server).data(p.bytes, p.ns, 1);
});

const text = "SELECT u.id, u.name FROM public.users u JOIN orders o ON o.uid = u.id " +
  "WHERE u.email = 'someone@example.com' AND o.total > 100.50 AND o.state IN ('a', 'b')";

Deno.bench("sql text: summarize + sanitize a 160-character SELECT", () => {
  summarizeSql(text, { dialect: "postgresql" });
  sanitizeSql(text, { dialect: "postgresql" });
});
