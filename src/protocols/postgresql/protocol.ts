/**
 * PostgreSQL's frontend/backend protocol (v3) as a {@linkcode Protocol}: a startup or
 * SSL request, or a frontend message, opens the client's direction; the wire state
 * machine (`wire.ts`) turns the conversation into one exchange per statement, mapped to a
 * span by the SQL family (`../sql/`).
 *
 * @module
 */
import type { Protocol } from "../protocol.ts";
import { SqlWireParser } from "../sql/wire_parser.ts";
import { PostgresWireParser, sniffPostgres } from "./wire.ts";

/**
 * PostgreSQL.
 *
 * @example
 * ```ts
 * import { postgresql } from "./protocol.ts";
 * postgresql.sniff(new TextEncoder().encode("Q\0\0\0\x0dSELECT 1\0"), "egress"); // "client"
 * ```
 */
export const postgresql: Protocol = {
  name: "postgresql",
  family: "sql",
  ports: [5432],
  sniff(bytes) {
    const verdict = sniffPostgres(bytes);
    return verdict === "startup" || verdict === "frontend" ? "client" : verdict;
  },
  open: (connection) =>
    new SqlWireParser(connection, (sink) => {
      const pg = new PostgresWireParser(sink, {
        maxTextBytes: connection.env.limits.maxTextBytes,
      });
      return {
        client: pg.frontend,
        server: pg.backend,
        get problems() {
          return pg.problems;
        },
        system: () => "postgresql",
        namespace: () => pg.facts.database,
        end: () => pg.end(),
      };
    }),
};
