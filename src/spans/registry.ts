/**
 * Every protocol the span stage parses, in the order a connection's opening bytes are
 * put to them. Adding a protocol is one folder under `src/protocols/` (exporting a
 * `Protocol`, see `src/protocols/protocol.ts`) and one line here.
 *
 * @module
 */
import type { Protocol } from "../protocols/protocol.ts";
import { http1 } from "../protocols/http1/protocol.ts";
import { postgresql } from "../protocols/postgresql/protocol.ts";
import { mysql } from "../protocols/mysql/protocol.ts";
import { http2 } from "../protocols/http2/protocol.ts";

/** The protocols, first asked first. */
export const PROTOCOLS: readonly Protocol[] = [
  http1,
  postgresql,
  mysql,
  http2,
];
