/**
 * The MySQL client/server protocol (MySQL and MariaDB) as a {@linkcode Protocol}: the
 * server's greeting opens its direction, a command the client's; the wire state machine
 * (`wire.ts`) turns the conversation into one exchange per statement, mapped to a span by
 * the SQL family (`../sql/`).
 *
 * @module
 */
import type { Protocol } from "../protocol.ts";
import { SqlWireParser } from "../sql/wire_parser.ts";
import { MysqlWireParser, sniffMysql } from "./wire.ts";

/**
 * MySQL and MariaDB.
 *
 * @example
 * ```ts
 * import { mysql } from "./protocol.ts";
 * mysql.sniff(new TextEncoder().encode("\x09\0\0\0\x03SELECT 1"), "egress"); // "client"
 * ```
 */
export const mysql: Protocol = {
  name: "mysql",
  family: "sql",
  ports: [3306],
  sniff(bytes) {
    const verdict = sniffMysql(bytes);
    return verdict === "greeting" ? "server" : verdict === "command" ? "client" : verdict;
  },
  open: (connection) =>
    new SqlWireParser(connection, (sink) => {
      const my = new MysqlWireParser(sink, { maxTextBytes: connection.env.limits.maxTextBytes });
      return {
        client: my.client,
        server: my.server,
        get problems() {
          return my.problems;
        },
        system: () => my.facts.system ?? "mysql",
        namespace: () => my.facts.database,
        end: () => my.end(),
      };
    }),
};
