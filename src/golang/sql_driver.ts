/**
 * Which database a Go program's database/sql talks to, from the driver modules its build
 * information lists. database/sql itself never says, and the system decides how statement
 * text is read and sanitized: double quotes are names in PostgreSQL, strings in MySQL.
 *
 * @module
 */
import type { SqlSystem } from "../protocols/sql/semconv.ts";

/** Driver modules by path (a major-version suffix such as `/v5` included by prefix). */
const DRIVERS: readonly [string, SqlSystem][] = [
  ["github.com/lib/pq", "postgresql"],
  ["github.com/jackc/pgx", "postgresql"],
  ["github.com/go-sql-driver/mysql", "mysql"],
  ["github.com/mattn/go-sqlite3", "sqlite"],
  ["modernc.org/sqlite", "sqlite"],
  ["github.com/glebarez/go-sqlite", "sqlite"],
  ["github.com/ncruces/go-sqlite3", "sqlite"],
];

/**
 * The system of the drivers among `modules` (module paths): `other_sql` when there is
 * none or they disagree (a program with two drivers: which query went where is unknown).
 *
 * @example
 * ```ts
 * import { goSqlSystem } from "./sql_driver.ts";
 * goSqlSystem(["github.com/jackc/pgx/v5", "golang.org/x/text"]); // "postgresql"
 * ```
 */
export function goSqlSystem(modules: readonly string[]): SqlSystem {
  const found = new Set<SqlSystem>();
  for (const path of modules) {
    for (const [driver, system] of DRIVERS) {
      if (path === driver || path.startsWith(`${driver}/`)) found.add(system);
    }
  }
  return found.size === 1 ? [...found][0]! : "other_sql";
}
