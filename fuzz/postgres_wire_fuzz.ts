/**
 * A seeded fuzzer for {@linkcode PostgresWireParser}: mutates real captured connections
 * (psql, node-postgres), replays them with random piece boundaries, gaps and direction
 * orders, and checks that the parser neither throws nor reports an impossible exchange.
 *
 * @module
 */
import { PostgresWireParser, sniffPostgres } from "../src/protocols/postgresql/wire.ts";
import type { SqlExchange } from "../src/protocols/sql/exchange.ts";
import { type CapturedPiece, CAPTURES } from "../src/protocols/_testdata.ts";
import { feed, mutateConnection } from "./_wire.ts";
import { mulberry32 } from "../src/prng.ts";

/** What a fuzz run saw. */
export interface FuzzSqlWireResult {
  iterations: number;
  exchanges: number;
  problems: number;
}

const CORPUS: CapturedPiece[][] = [...CAPTURES.pg_psql!, ...CAPTURES.pg_node!];
const TOKENS = [
  "Z\0\0\0\x05I",
  "S\0\0\0\x04",
  "\0\0\0\x08\x04\xd2\x16\x2f",
  "N",
  "S",
  "E\0\0",
  "\0\0\0",
]
  .map((t) => Uint8Array.from(t, (c) => c.charCodeAt(0)));

function check(e: SqlExchange, maxPending: number, pending: number): void {
  if (e.endMonoNs < e.startMonoNs) throw new Error(`fuzz: exchange ends before it starts`);
  if (e.rows !== undefined && !(Number.isSafeInteger(e.rows) && e.rows >= 0)) {
    throw new Error(`fuzz: impossible rows ${e.rows}`);
  }
  if (typeof e.text !== "string") throw new Error("fuzz: text not a string");
  if (e.error !== undefined && typeof e.error.sqlstate !== "string") {
    throw new Error("fuzz: sqlstate not a string");
  }
  if (pending > maxPending) throw new Error(`fuzz: ${pending} pending > ${maxPending}`);
}

/**
 * Runs `iterations` random cases from `seed`; throws on the first failure, naming the
 * iteration and seed so that it can be replayed.
 *
 * @example
 * ```ts
 * import { fuzzPostgresWire } from "./postgres_wire_fuzz.ts";
 * fuzzPostgresWire(100, 1).iterations; // 100
 * ```
 */
export function fuzzPostgresWire(iterations: number, seed: number): FuzzSqlWireResult {
  const rand = mulberry32(seed);
  let exchanges = 0;
  let problems = 0;
  for (let it = 0; it < iterations; it++) {
    const conn = mutateConnection(CORPUS[Math.floor(rand() * CORPUS.length)]!, rand, TOKENS);
    const maxPending = rand() < 0.2 ? 4 : 1024;
    let pg: PostgresWireParser | undefined;
    try {
      pg = new PostgresWireParser({
        onExchange: (e) => {
          check(e, maxPending, pg?.pending ?? 0);
          exchanges++;
        },
      }, { maxPending, maxTextBytes: rand() < 0.2 ? 16 : 65536, maxStatements: 4 });
      feed(conn, pg.frontend, pg.backend, rand);
      sniffPostgres(conn[0]?.bytes ?? new Uint8Array(0));
      if (rand() < 0.5) pg.end();
      problems += pg.problems;
    } catch (e) {
      throw new Error(`fuzzPostgresWire: iteration ${it} (seed ${seed}) failed`, { cause: e });
    }
  }
  return { iterations, exchanges, problems };
}
