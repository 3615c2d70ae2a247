import assert from "node:assert/strict";
import { sanitizeSql, sqlCollectionName, sqlOperationName, summarizeSql } from "./sql_text.ts";

Deno.test("sqlOperationName: first keyword, upper-cased, through comments, parens and WITH", () => {
  const cases: [string, string | undefined][] = [
    ["select 1", "SELECT"],
    ["  \n\tINSERT INTO t VALUES (1)", "INSERT"],
    ["/* app=web */ update t set a = 1", "UPDATE"],
    ["-- note\nDELETE FROM t", "DELETE"],
    ["(SELECT 1) UNION (SELECT 2)", "SELECT"],
    ["BEGIN", "BEGIN"],
    ["commit", "COMMIT"],
    ["CREATE TABLE t (a int)", "CREATE"],
    ["WITH x AS (SELECT 1) SELECT * FROM x", "SELECT"],
    ["WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) DELETE FROM t", "DELETE"],
    ["with a as (select 1), b as materialized (select 2) insert into t select * from a", "INSERT"],
    ["WITH broken", "WITH"],
    ["", undefined],
    ["123", undefined],
    ["'str'", undefined],
  ];
  for (const [text, want] of cases) assert.equal(sqlOperationName(text), want, text);
});

Deno.test("sqlCollectionName: the main table of each statement kind", () => {
  const cases: [string, string | undefined][] = [
    ["SELECT * FROM users WHERE id = 1", "users"],
    ["select a from public.users u join orders o on o.uid = u.id", "public.users"],
    ['SELECT * FROM "Sales"."Order Items"', "Sales.Order Items"],
    ['SELECT * FROM "we""ird"', 'we"ird'],
    ["SELECT * FROM `shop`.`items`", "shop.items"],
    ["SELECT (SELECT max(x) FROM inner_t) FROM outer_t", "outer_t"],
    ["SELECT * FROM (SELECT 1) AS sub", undefined],
    ["SELECT 1", undefined],
    ["SELECT * FROM ONLY parent", "parent"],
    ["INSERT INTO app.events (a) VALUES ($1)", "app.events"],
    ["INSERT IGNORE INTO logs VALUES (1)", "logs"],
    ["REPLACE INTO kv VALUES (1, 2)", "kv"],
    ["UPDATE ONLY accounts SET balance = 0", "accounts"],
    ["update `db`.`t` set a = 1", "db.t"],
    ["DELETE FROM sessions WHERE expired", "sessions"],
    ["DELETE LOW_PRIORITY FROM q", "q"],
    ["WITH old AS (SELECT id FROM s) DELETE FROM sessions USING old", "sessions"],
    ["WITH x AS (SELECT * FROM a) SELECT * FROM b", "b"],
    ["CREATE TABLE IF NOT EXISTS items (id int)", "items"],
    ["CREATE TEMP TABLE scratch (id int)", "scratch"],
    ["DROP TABLE IF EXISTS old_items", "old_items"],
    ["ALTER TABLE items ADD COLUMN x int", "items"],
    ["CREATE INDEX i ON items (a)", undefined],
    ["TRUNCATE TABLE logs", "logs"],
    ["COPY users TO STDOUT", "users"],
    ["MERGE INTO target t USING src s ON t.id = s.id WHEN MATCHED THEN DELETE", "target"],
    ["BEGIN", undefined],
    ["SELECT * FROM t; SELECT * FROM u", "t"],
    ["SELECT a FROM", undefined],
  ];
  for (const [text, want] of cases) assert.equal(sqlCollectionName(text), want, text);
});

Deno.test("sanitizeSql: literals become ?, the rest stays", () => {
  const cases: [string, string, "postgresql" | "mysql" | "generic"][] = [
    [
      "SELECT * FROM t WHERE name = 'bob' AND id IN (1, 2) AND x = $1",
      "SELECT * FROM t WHERE name = ? AND id IN (?, ?) AND x = $1",
      "postgresql",
    ],
    ["SELECT 'it''s', E'a\\'b', 'c'", "SELECT ?, ?, ?", "postgresql"],
    ["SELECT $$a 'quoted' $x$ body$$, $tag$x$$y$tag$ + 1", "SELECT ?, ? + ?", "postgresql"],
    ["SELECT 1.5e-3, .5, 0x1F, X'AB', B'0101', -7", "SELECT ?, ?, ?, ?, ?, -?", "generic"],
    [
      "SELECT t1.c2 FROM t1 WHERE c3 = TRUE AND c4 IS NULL",
      "SELECT t1.c2 FROM t1 WHERE c3 = TRUE AND c4 IS NULL",
      "generic",
    ],
    ['SELECT "col" FROM "t" WHERE a = \'x\'', 'SELECT "col" FROM "t" WHERE a = ?', "postgresql"],
    [
      "SELECT \"secret\", 'it\\'s' FROM `t` # comment 5\nWHERE a = ?",
      "SELECT ?, ? FROM `t`\nWHERE a = ?",
      "mysql",
    ],
    [
      "SELECT 1 -- trailing 'x'\n, 2 /* 3 /* nested */ 4 */",
      "SELECT ?\n, ?",
      "postgresql",
    ],
    ["INSERT INTO t VALUES (:name, ?, $2)", "INSERT INTO t VALUES (:name, ?, $2)", "generic"],
    ["SELECT 'unterminated", "SELECT ?", "generic"],
    ["SELECT a::int, N'x', U&'d\\0061t'", "SELECT a::int, ?, ?", "postgresql"],
    // Comments go, whatever they hold; the words they parted stay apart.
    ["/* pw=hunter2 */ SELECT 1/*hunter2*/FROM t -- hunter2", "SELECT ? FROM t", "generic"],
    ["SELECT a /* x */ , b", "SELECT a , b", "postgresql"],
    // A no-break space ends a number as any space does: the literal is still hidden.
    ["SELECT 12\u00a0/* x */, 3\u00a0FROM t", "SELECT ?\u00a0, ?\u00a0FROM t", "generic"],
    // A type's arguments are sizes, not values; a function's arguments are values.
    [
      "CREATE TABLE t (a VARCHAR(50), b NUMERIC(10, 2), c CHARACTER VARYING (8) DEFAULT 'x')",
      "CREATE TABLE t (a VARCHAR(50), b NUMERIC(10, 2), c CHARACTER VARYING (8) DEFAULT ?)",
      "postgresql",
    ],
    [
      "SELECT CAST(x AS DECIMAL(12,4)), LEFT(name, 3), ROUND(y, 2) FROM t",
      "SELECT CAST(x AS DECIMAL(12,4)), LEFT(name, ?), ROUND(y, ?) FROM t",
      "mysql",
    ],
  ];
  for (const [text, want, dialect] of cases) {
    assert.equal(sanitizeSql(text, { dialect }), want, text);
  }
});

Deno.test("sql text: bounded work on huge input, a cut literal still hidden", () => {
  const huge = "SELECT * FROM t WHERE a IN (" + "'secret', ".repeat(200_000) + "'x')";
  const out = sanitizeSql(huge, { maxLength: 1000 });
  assert.ok(out.length <= 1000);
  assert.ok(!out.includes("secret"));
  assert.ok(!sanitizeSql("SELECT 'abcdef'", { maxLength: 10 }).includes("abc"));
  assert.deepEqual(summarizeSql(huge), { operation: "SELECT", collection: "t" });
});

Deno.test("summarizeSql", () => {
  assert.deepEqual(summarizeSql("INSERT INTO app.users (name) VALUES ($1)"), {
    operation: "INSERT",
    collection: "app.users",
  });
  assert.deepEqual(summarizeSql("VACUUM"), { operation: "VACUUM" });
  assert.deepEqual(summarizeSql(""), {});
});

Deno.test("a statement's operation and main table are those of its sanitized text", () => {
  // The span path reads them from the sanitized text (statements that differ only in their
  // literals share one summary): checked on statements and on seeded mutations of them.
  const statements = [
    "SELECT abalance FROM pgbench_accounts WHERE aid = 76577;",
    "WITH x AS (SELECT 1) SELECT * FROM t JOIN u ON u.id = t.id WHERE t.a = 'b'",
    "INSERT INTO app.users (name, n) VALUES ('bob', 1.5e3), (E'a\\'b', 0x1F)",
    "UPDATE `shop`.`orders` SET total = 10 WHERE id IN (1, 2) -- 'note'",
    "DELETE /* 'x' */ FROM t WHERE s = $$dollar$$ AND b = B'01'",
    "CREATE TABLE t (a VARCHAR(50), b NUMERIC(10, 2))",
    'SELECT "Col" FROM "My Table" WHERE x = N\'y\' LIMIT 5 OFFSET 10',
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = 2",
  ];
  const pieces = [
    "'",
    '"',
    "`",
    "--",
    "/*",
    "*/",
    "$1",
    "$$",
    "1",
    "0x1F",
    "1e5",
    "(",
    ")",
    ",",
    ";",
    " ",
    "\n",
    "FROM",
    "JOIN",
    "INTO",
    "E'a\\'b'",
    "X'AF'",
    "VARCHAR(5)",
    "?",
    ":name",
    "\\",
  ];
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const cases = [...statements];
  for (let k = 0; k < 2000; k++) {
    let t = statements[rand(statements.length)]!;
    for (let m = 0; m <= rand(4); m++) {
      const at = rand(t.length + 1);
      t = t.slice(0, at) + pieces[rand(pieces.length)] + t.slice(at + rand(3));
    }
    cases.push(t);
  }
  for (const text of cases) {
    for (const dialect of ["postgresql", "mysql", "generic"] as const) {
      assert.deepEqual(
        summarizeSql(sanitizeSql(text, { dialect }), { dialect }),
        summarizeSql(text, { dialect }),
        `${dialect}: ${text}`,
      );
    }
  }
});
