import assert from "node:assert/strict";
import { PostgresWireParser, rowsFromTag, sniffPostgres } from "./wire.ts";
import type { SqlExchange } from "../sql/exchange.ts";
import { type CapturedPiece, CAPTURES } from "../_testdata.ts";

const enc = new TextEncoder();

function run(conn: CapturedPiece[], feed?: (p: PostgresWireParser) => void) {
  const got: SqlExchange[] = [];
  const problems: string[] = [];
  const pg = new PostgresWireParser({
    onExchange: (e) => got.push(e),
    onProblem: (p) => problems.push(p),
  });
  if (feed) feed(pg);
  else {
    for (const p of conn) {
      (p.dir === "c2s" ? pg.frontend : pg.backend).data(p.bytes, p.ns, p.dir === "c2s" ? 1 : 2);
    }
  }
  return { got, problems, pg };
}

/** What a test compares: the parts that do not depend on capture timing. */
function summary(e: SqlExchange) {
  return {
    text: e.text,
    statementName: e.statementName,
    rows: e.rows,
    tag: e.commandTag,
    sqlstate: e.error?.sqlstate,
  };
}

const PSQL_EXPECTED = [
  { text: "CREATE TABLE users (id int PRIMARY KEY, name text)", tag: "CREATE TABLE" },
  { text: "INSERT INTO users VALUES (1, 'ann'), (2, 'bob')", rows: 2, tag: "INSERT 0 2" },
  { text: "SELECT id, name FROM users ORDER BY id", rows: 2, tag: "SELECT 2" },
  { text: "SELECT * FROM missing_table", sqlstate: "42P01" },
  { text: "UPDATE users SET name = 'eve' WHERE id = 2", rows: 1, tag: "UPDATE 1" },
  { text: "BEGIN; DELETE FROM users WHERE id = 1; COMMIT", tag: "COMMIT" },
  { text: "COPY users TO STDOUT", rows: 1, tag: "COPY 1" },
].map((e) => ({
  statementName: undefined,
  rows: undefined,
  tag: undefined,
  sqlstate: undefined,
  ...e,
}));

const SEL = "SELECT id, name FROM items WHERE name = $1";
const NODE_EXPECTED = [
  {
    text: "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric)",
    tag: "CREATE TABLE",
  },
  {
    text: "INSERT INTO items (name, price) VALUES ($1, $2)",
    statementName: "",
    rows: 1,
    tag: "INSERT 0 1",
  },
  {
    text: "INSERT INTO items (name, price) VALUES ($1, $2), ($3, $4)",
    statementName: "",
    rows: 2,
    tag: "INSERT 0 2",
  },
  { text: SEL, statementName: "by_name", rows: 1, tag: "SELECT 1" },
  { text: SEL, statementName: "by_name", rows: 1, tag: "SELECT 1" },
  {
    text: "UPDATE items SET price = price * $1 WHERE price < $2",
    statementName: "",
    rows: 2,
    tag: "UPDATE 2",
  },
  { text: "SELECT * FROM missing_table WHERE id = $1", statementName: "", sqlstate: "42P01" },
  { text: "SELECT 10 / $1::int AS q", statementName: "", sqlstate: "22012" },
  { text: "DELETE FROM items WHERE name = $1", statementName: "", rows: 1, tag: "DELETE 1" },
].map((e) => ({
  statementName: undefined,
  rows: undefined,
  tag: undefined,
  sqlstate: undefined,
  ...e,
}));

const psql = CAPTURES.pg_psql![0]!;
const node = CAPTURES.pg_node![0]!;

Deno.test("postgres: psql simple queries (real capture, SSLRequest refused first)", () => {
  const { got, problems, pg } = run(psql);
  assert.deepEqual(got.map(summary), PSQL_EXPECTED);
  assert.deepEqual(problems, []);
  assert.equal(pg.pending, 0);
  assert.equal(pg.facts.user, "postgres");
  assert.equal(pg.facts.database, "postgres");
  assert.equal(pg.facts.applicationName, "psql");
  assert.match(pg.facts.serverVersion ?? "", /^15\./);
  assert.equal(pg.facts.encrypted, false);
  for (const e of got) {
    assert.equal(e.tid, 1);
    assert.equal(e.namespace, "postgres");
    assert.ok(e.endMonoNs > e.startMonoNs);
  }
  assert.equal(got[3]!.error?.message, 'relation "missing_table" does not exist');
});

Deno.test("postgres: times are the request's first byte and the completion message", () => {
  const { got } = run(psql);
  const q = psql.find((p) => p.dir === "c2s" && p.bytes[0] === 0x51)!; // first Query
  assert.equal(got[0]!.startMonoNs, q.ns);
  const i = psql.indexOf(q);
  const answer = psql.slice(i).find((p) => p.dir === "s2c")!;
  assert.equal(got[0]!.endMonoNs, answer.ns);
});

Deno.test("postgres: node-postgres extended protocol, named statement reused (real capture)", () => {
  const { got, problems, pg } = run(node);
  assert.deepEqual(got.map(summary), NODE_EXPECTED);
  assert.deepEqual(problems, []);
  assert.equal(pg.facts.applicationName, "upspan-test");
  assert.ok(pg.statementNames.includes("by_name"));
  assert.equal(got[7]!.error?.message, "division by zero");
  // The reused statement's request is the Bind (no Parse) piece.
  const reuse = node.find((p) => p.dir === "c2s" && p.bytes[0] === 0x42)!;
  assert.equal(got[4]!.startMonoNs, reuse.ns);
});

Deno.test("postgres: the same exchanges whatever the piece boundaries", () => {
  for (const conn of [psql, node]) {
    const whole = run(conn).got.map(summary);
    // One byte at a time.
    const bytewise = run(conn, (pg) => {
      for (const p of conn) {
        const side = p.dir === "c2s" ? pg.frontend : pg.backend;
        for (let i = 0; i < p.bytes.length; i++) side.data(p.bytes.subarray(i, i + 1), p.ns, 1);
      }
    }).got.map(summary);
    assert.deepEqual(bytewise, whole);
    // Each direction in one piece (pipelined), the server's bytes fed before the client's.
    const merged = run(conn, (pg) => {
      const cat = (dir: string) => {
        const parts = conn.filter((p) => p.dir === dir).map((p) => p.bytes);
        const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
        let at = 0;
        for (const b of parts) {
          out.set(b, at);
          at += b.length;
        }
        return out;
      };
      pg.backend.data(cat("s2c"), 2n, 2);
      pg.frontend.data(cat("c2s"), 1n, 1);
    });
    assert.deepEqual(merged.got.map(summary), whole);
    assert.deepEqual(merged.problems, []);
  }
});

function frame(type: string, body: string): Uint8Array {
  const b = enc.encode(body);
  const out = new Uint8Array(5 + b.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setUint32(1, 4 + b.length);
  out.set(b, 5);
  return out;
}

const READY = frame("Z", "I");

Deno.test("postgres: pipelined extended queries in one write, second fails, skip to Sync", () => {
  const { got, problems } = run([], (pg) => {
    const fe = [
      frame("P", "s1\0SELECT 1\0\0\0"),
      frame("B", "\0s1\0\0\0\0\0\0\0"),
      frame("E", "\0\0\0\0\0"),
      frame("P", "\0SELECT nope\0\0\0"),
      frame("B", "\0\0\0\0\0\0\0\0"),
      frame("E", "\0\0\0\0\0"),
      frame("S", ""),
      frame("B", "\0s1\0\0\0\0\0\0\0"),
      frame("E", "\0\0\0\0\0"),
      frame("S", ""),
    ];
    pg.frontend.data(concat(fe), 10n, 3);
    pg.backend.data(
      concat([
        frame("1", ""),
        frame("2", ""),
        frame("D", "\0\x01\0\0\0\x011"),
        frame("C", "SELECT 1\0"),
        frame("E", 'SERROR\0C42703\0Mcolumn "nope" does not exist\0\0'),
        READY,
        frame("2", ""),
        frame("D", "\0\x01\0\0\0\x011"),
        frame("C", "SELECT 1\0"),
        READY,
      ]),
      20n,
      4,
    );
  });
  assert.deepEqual(got.map(summary), [
    { text: "SELECT 1", statementName: "s1", rows: 1, tag: "SELECT 1", sqlstate: undefined },
    { text: "SELECT nope", statementName: "", rows: undefined, tag: undefined, sqlstate: "42703" },
    { text: "SELECT 1", statementName: "s1", rows: 1, tag: "SELECT 1", sqlstate: undefined },
  ]);
  assert.deepEqual(problems, []);
});

Deno.test("postgres: a Query text cut by a capture limit is kept as far as seen", () => {
  const { got } = run([], (pg) => {
    const q = frame("Q", "SELECT * FROM big WHERE note = '" + "x".repeat(100) + "'\0");
    pg.frontend.data(q.subarray(0, 40), 1n, 1);
    pg.frontend.gap(q.length - 40, 1n, false);
    pg.backend.data(concat([frame("C", "SELECT 0\0"), READY]), 2n, 2);
  });
  assert.equal(got.length, 1);
  assert.equal(got[0]!.text, "SELECT * FROM big WHERE note = 'xxx"); // 40 bytes less the header
  assert.equal(got[0]!.truncated, true);
  assert.equal(got[0]!.rows, 0);
});

Deno.test("postgres: a gap that loses framing drops that batch and resynchronises", () => {
  const { got, problems } = run([], (pg) => {
    pg.frontend.data(frame("Q", "SELECT 1\0"), 1n, 1);
    pg.frontend.gap(7, 2n, true); // part of a second Query's header: framing lost
    pg.frontend.data(frame("Q", "SELECT 3\0"), 3n, 1);
    pg.backend.data(concat([frame("C", "SELECT 1\0"), READY]), 4n, 2);
    pg.backend.data(concat([frame("C", "SELECT 1\0"), READY]), 5n, 2); // the lost one's
    pg.backend.data(concat([frame("C", "SELECT 1\0"), READY]), 6n, 2);
  });
  assert.deepEqual(got.map((e) => e.text), ["SELECT 1", "SELECT 3"]);
  assert.ok(problems.includes("gap-lost-framing"));
});

Deno.test("postgres: large DataRows cut by gaps keep the framing", () => {
  const { got, problems } = run([], (pg) => {
    pg.frontend.data(frame("Q", "SELECT blob FROM t\0"), 1n, 1);
    const row = frame("D", "\0\x01\0\0\x10\0" + "y".repeat(4096));
    pg.backend.data(row.subarray(0, 100), 2n, 2);
    pg.backend.gap(row.length - 100, 2n, false);
    pg.backend.data(concat([frame("C", "SELECT 1\0"), READY]), 3n, 2);
  });
  assert.deepEqual(got.map(summary), [
    {
      text: "SELECT blob FROM t",
      statementName: undefined,
      rows: 1,
      tag: "SELECT 1",
      sqlstate: undefined,
    },
  ]);
  assert.deepEqual(problems, []);
});

Deno.test("postgres: SSL accepted stops the parser (the rest is ciphertext)", () => {
  const { got, pg } = run([], (pg) => {
    pg.frontend.data(Uint8Array.of(0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f), 1n, 1);
    pg.backend.data(enc.encode("S"), 2n, 2);
    pg.frontend.data(Uint8Array.of(0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc), 3n, 1);
    pg.backend.data(Uint8Array.of(0x16, 3, 3, 0, 0x7a, 2), 4n, 2);
  });
  assert.equal(pg.facts.encrypted, true);
  assert.equal(pg.stopped, true);
  assert.deepEqual(got, []);
});

Deno.test("postgres: reset forgets statements; end drops unanswered queries", () => {
  const { pg, problems } = run(node);
  pg.frontend.data(frame("Q", "SELECT pg_sleep(10)\0"), 1n, 1);
  assert.equal(pg.pending, 1);
  pg.end();
  assert.equal(pg.pending, 0);
  assert.deepEqual(problems, ["unanswered"]);
  pg.reset();
  assert.deepEqual(pg.statementNames, []);
});

Deno.test("sniffPostgres: openings, mid-way messages, and other protocols", () => {
  assert.equal(sniffPostgres(psql[0]!.bytes), "startup"); // SSLRequest
  assert.equal(sniffPostgres(node[0]!.bytes), "startup"); // StartupMessage
  assert.equal(sniffPostgres(frame("Q", "SELECT 1\0")), "frontend");
  assert.equal(sniffPostgres(frame("P", "\0SELECT $1\0\0\0")), "frontend");
  assert.equal(sniffPostgres(frame("S", "")), "frontend");
  assert.equal(sniffPostgres(frame("Q", "SELECT 1\0").subarray(0, 3)), "more");
  assert.equal(sniffPostgres(new Uint8Array(0)), "more");
  assert.equal(sniffPostgres(enc.encode("GET / HTTP/1.1\r\n")), "no");
  assert.equal(sniffPostgres(enc.encode("POST /x HTTP/1.1\r\n")), "no");
  assert.equal(sniffPostgres(enc.encode("PUT /x HTTP/1.1\r\n")), "no");
  assert.equal(sniffPostgres(Uint8Array.of(0x16, 3, 1, 2, 0)), "no"); // TLS ClientHello
  assert.equal(sniffPostgres(CAPTURES.mariadb_cli![0]![0]!.bytes), "no");
  assert.equal(sniffPostgres(frame("Q", "SEL\x01ECT\0")), "no");
});

Deno.test("rowsFromTag", () => {
  assert.equal(rowsFromTag("SELECT 3"), 3);
  assert.equal(rowsFromTag("INSERT 0 5"), 5);
  assert.equal(rowsFromTag("MERGE 2"), 2);
  assert.equal(rowsFromTag("CREATE TABLE"), undefined);
  assert.equal(rowsFromTag("SELECT x"), undefined);
  assert.equal(rowsFromTag(""), undefined);
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
