/**
 * A seeded fuzzer for {@linkcode MysqlWireParser}: mutates real captured connections
 * (mariadb CLI, mysql2), replays them with random piece boundaries, gaps and direction
 * orders, and checks that the parser neither throws nor reports an impossible exchange.
 *
 * @module
 */
import { MysqlWireParser, sniffMysql } from "../src/protocols/mysql/wire.ts";
import type { SqlExchange } from "../src/protocols/sql/exchange.ts";
import { type CapturedPiece, CAPTURES } from "../src/protocols/_testdata.ts";
import { feed, mutateConnection } from "./_wire.ts";
import type { FuzzSqlWireResult } from "./postgres_wire_fuzz.ts";
import { mulberry32 } from "../src/prng.ts";

const CORPUS: CapturedPiece[][] = [...CAPTURES.mariadb_cli!, ...CAPTURES.mariadb_mysql2!];
const TOKENS = [
  [0xff, 0xff, 0xff, 0],
  [5, 0, 0, 1, 0xfe, 0, 0, 8, 0],
  [7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0],
  [1, 0, 0, 0, 0x0e],
  [0xfc, 0xff],
  [0xfe],
  [1, 0, 0, 1, 0xfb],
].map((t) => Uint8Array.from(t));

function check(e: SqlExchange): void {
  if (e.endMonoNs < e.startMonoNs) throw new Error(`fuzz: exchange ends before it starts`);
  if (e.rows !== undefined && !(Number.isSafeInteger(e.rows) && e.rows >= 0)) {
    throw new Error(`fuzz: impossible rows ${e.rows}`);
  }
  if (typeof e.text !== "string") throw new Error("fuzz: text not a string");
  if (e.error !== undefined && !Number.isInteger(e.error.code)) {
    throw new Error("fuzz: error without a code");
  }
}

/**
 * Runs `iterations` random cases from `seed`; throws on the first failure, naming the
 * iteration and seed so that it can be replayed.
 *
 * @example
 * ```ts
 * import { fuzzMysqlWire } from "./mysql_wire_fuzz.ts";
 * fuzzMysqlWire(100, 1).iterations; // 100
 * ```
 */
export function fuzzMysqlWire(iterations: number, seed: number): FuzzSqlWireResult {
  const rand = mulberry32(seed);
  let exchanges = 0;
  let problems = 0;
  for (let it = 0; it < iterations; it++) {
    const conn = mutateConnection(CORPUS[Math.floor(rand() * CORPUS.length)]!, rand, TOKENS);
    const maxPending = rand() < 0.2 ? 4 : 1024;
    try {
      const my = new MysqlWireParser({
        onExchange: (e) => {
          check(e);
          exchanges++;
        },
      }, { maxPending, maxTextBytes: rand() < 0.2 ? 16 : 65536, maxStatements: 2 });
      feed(conn, my.client, my.server, rand);
      sniffMysql(conn[0]?.bytes ?? new Uint8Array(0));
      if (my.pending > maxPending) throw new Error(`fuzz: ${my.pending} pending`);
      if (rand() < 0.5) my.end();
      problems += my.problems;
    } catch (e) {
      throw new Error(`fuzzMysqlWire: iteration ${it} (seed ${seed}) failed`, { cause: e });
    }
  }
  return { iterations, exchanges, problems };
}
