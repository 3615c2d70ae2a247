/**
 * A traced process's command line with the credentials people pass on it taken out, for
 * `process.command_line`. An SDK reports its own process's command line; an agent reports
 * every process on the node, and `mysql -pSECRET`, `postgresql://u:pw@db/...` or
 * `--api-key=...` would then travel on every span and resource. Kept (it is what tells two
 * `python3` apart), but redacted: URL user info, `-p...` (the MySQL client's password), a
 * value given to a flag named like a secret (`--password=...`, `--token x`, `--db-secret=...`),
 * `NAME_KEY=...`-style assignments, `password=...` inside a connection string, and the value
 * of an `Authorization:` header.
 *
 * @module
 */

/** What stands in for a removed secret. */
export const REDACTED = "REDACTED";

/** A name that holds a secret: password, token, secret, key, credential, auth... */
const SECRET_NAME =
  /(?:password|passwd|token|secret|credentials?)$|(?:^|[-_.])(?:pass|pwd|key|api[-_]?key|apikey|auth|signature)$/i;

/** `--name=value` or `-name=value`. */
const FLAG_WITH_VALUE = /^(--?[A-Za-z][\w.-]*)=(.*)$/s;
/** `--name` (its value is the next argument). */
const FLAG = /^--?[A-Za-z][\w.-]*$/;
/** `NAME=value` as `env` or a shell assignment would take it. */
const ASSIGNMENT = /^([A-Za-z_][\w.]*)=(.*)$/s;

/** Redacts the secrets of one argument that stands alone. */
function redactInside(arg: string): string {
  return arg
    // scheme://user:password@host or scheme://token@host
    .replace(/([A-Za-z][\w+.-]*:\/\/)[^\s/@]+@/g, `$1${REDACTED}@`)
    // key=value pairs inside a connection string or query: password=..., token=...
    .replace(
      /(^|[\s;&?,])((?:password|passwd|pwd|token|secret|api[-_]?key|access_token|sslpassword)\s*=\s*)('[^']*'|"[^"]*"|[^\s;&,]*)/gi,
      `$1$2${REDACTED}`,
    )
    .replace(
      /\b(authorization:\s*)(?:(bearer|basic|token)\s+)?\S.*$/i,
      (_m, h, scheme) => `${h}${scheme ? scheme + " " : ""}${REDACTED}`,
    );
}

/**
 * The command line joined by spaces, secrets replaced by `REDACTED`.
 *
 * @example
 * ```ts
 * import { redactCommandLine } from "./command_line.ts";
 * redactCommandLine(["mysql", "-uroot", "-phunter2", "shop"]); // "mysql -uroot -pREDACTED shop"
 * ```
 */
export function redactCommandLine(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = FLAG_WITH_VALUE.exec(arg);
    if (flag && SECRET_NAME.test(flag[1]!.replace(/^-+/, ""))) {
      out.push(`${flag[1]}=${REDACTED}`);
      continue;
    }
    if (FLAG.test(arg) && SECRET_NAME.test(arg.replace(/^-+/, "")) && i + 1 < argv.length) {
      out.push(arg, REDACTED);
      i++;
      continue;
    }
    // The MySQL and MariaDB clients' -pPASSWORD (a password glued to the flag).
    if (/^-p.+/.test(arg) && !arg.startsWith("--")) {
      out.push(`-p${REDACTED}`);
      continue;
    }
    const assign = ASSIGNMENT.exec(arg);
    if (assign && SECRET_NAME.test(assign[1]!)) {
      out.push(`${assign[1]}=${REDACTED}`);
      continue;
    }
    out.push(redactInside(arg));
  }
  return out.join(" ");
}
