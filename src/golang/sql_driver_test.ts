import assert from "node:assert/strict";
import { goSqlSystem } from "./sql_driver.ts";
import { goSpan } from "./spans.ts";
import type { GoSqlEvent } from "./events.ts";

Deno.test("goSqlSystem: the driver module names the system", () => {
  const cases: [string[], string][] = [
    [["github.com/lib/pq"], "postgresql"],
    [["github.com/jackc/pgx/v5", "github.com/jackc/puddle/v2"], "postgresql"],
    [["github.com/jackc/pgx/v4"], "postgresql"],
    [["filippo.io/edwards25519", "github.com/go-sql-driver/mysql"], "mysql"],
    [["github.com/mattn/go-sqlite3"], "sqlite"],
    [["modernc.org/sqlite", "modernc.org/libc"], "sqlite"],
    [["github.com/lib/pq", "github.com/jackc/pgx/v5"], "postgresql"],
    [["github.com/lib/pq", "github.com/go-sql-driver/mysql"], "other_sql"],
    [["github.com/lib/pqx"], "other_sql"],
    [[], "other_sql"],
  ];
  for (const [modules, want] of cases) assert.equal(goSqlSystem(modules), want, modules.join());
});

function sqlEvent(text: string): GoSqlEvent {
  return {
    type: "sql",
    pid: 1,
    ids: { traceId: "a".repeat(32), spanId: "b".repeat(16), parentSpanId: "", sampled: true },
    startMonoNs: 1n,
    endMonoNs: 2n,
    query: { text, truncated: false },
    error: false,
  } as unknown as GoSqlEvent;
}

Deno.test("Go database/sql spans: the driver's dialect, comments stripped, no literal left", () => {
  const text =
    `SELECT * FROM users /* pw=hunter2 */ WHERE pw = "hunter2" AND note = 'a\\'hunter2' -- hunter2`;
  const ctx = { resource: {}, toUnixNano: (ns: bigint) => ns };
  for (const sqlSystem of ["mysql", "other_sql", undefined] as const) {
    const span = goSpan(sqlEvent(text), { ...ctx, ...(sqlSystem ? { sqlSystem } : {}) });
    assert.equal(span.attributes["db.query.text"], "SELECT * FROM users WHERE pw = ? AND note = ?");
    assert.equal(span.attributes["db.system.name"], sqlSystem ?? "other_sql");
  }
  const pg = goSpan(sqlEvent(`SELECT "pw" FROM t /* hunter2 */ WHERE a = E'a\\'hunter2'`), {
    ...ctx,
    sqlSystem: "postgresql",
  });
  assert.equal(pg.attributes["db.query.text"], `SELECT "pw" FROM t WHERE a = ?`);
  assert.equal(pg.attributes["db.system.name"], "postgresql");
  assert.equal(pg.name, "SELECT t");
});
