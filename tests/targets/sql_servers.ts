/**
 * Throwaway database servers for tests: a PostgreSQL cluster and a MariaDB server,
 * each in its own temporary directory, listening on a free loopback port, run as the
 * `nobody` user (both refuse to run as root). Nothing here depends on upspan.
 *
 * @example
 * ```ts ignore
 * await using pg = await startPostgres();
 * // psql -h 127.0.0.1 -p ${pg.port} -U postgres postgres
 * ```
 *
 * @module
 */
import { makeCert } from "./certs.ts";

/**
 * PostgreSQL's programs (initdb, postgres, psql, pgbench), where `pg_config --bindir` says
 * (Debian: `/usr/lib/postgresql/N/bin`, whichever version is installed); "" without it.
 */
export const PG_BIN = pgBindir();

function pgBindir(): string {
  try {
    const out = new Deno.Command("pg_config", {
      args: ["--bindir"],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
  } catch {
    return ""; // no pg_config on PATH
  }
}

/** A running database server. */
export interface SqlServer extends AsyncDisposable {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Pid of the server process. */
  pid: number;
  /** Data directory (removed by `stop`). */
  dir: string;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** True when PostgreSQL's server programs are installed where pg_config says. */
export function havePostgres(): boolean {
  try {
    Deno.statSync(`${PG_BIN}/postgres`);
    return true;
  } catch {
    return false;
  }
}

/** True when the MariaDB server and client are installed. */
export function haveMariadb(): boolean {
  try {
    Deno.statSync("/usr/sbin/mariadbd");
    Deno.statSync("/usr/bin/mariadb");
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  return text;
}

/** Makes a temporary directory the `nobody` user owns. */
async function nobodyDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o777);
  await run("chown", ["nobody", dir]);
  return dir;
}

/** Runs `cmd` as `nobody` when this process is root (as tests here are). */
function asNobody(cmd: string, args: string[]): [string, string[]] {
  return Deno.uid() === 0 ? ["runuser", ["-u", "nobody", "--", cmd, ...args]] : [cmd, args];
}

async function waitForPort(port: number, child: Deno.ChildProcess, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < until && !exited) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server did not listen on port ${port} within ${timeoutMs} ms`);
}

function server(port: number, dir: string, child: Deno.ChildProcess): SqlServer {
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  return { port, pid: child.pid, dir, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Starts a fresh PostgreSQL cluster (superuser `postgres`, trust authentication, no
 * SSL) on a free loopback port.
 */
export async function startPostgres(options: { tls?: boolean } = {}): Promise<SqlServer> {
  const dir = await nobodyDir("upspan-pg-");
  const tls: string[] = [];
  if (options.tls) {
    // The server reads its key only when it is the key's owner, mode 0600.
    const { cert, key } = await makeCert(dir);
    await run("chown", ["nobody", cert, key]);
    await Deno.chmod(key, 0o600);
    tls.push("-c", "ssl=on", "-c", `ssl_cert_file=${cert}`, "-c", `ssl_key_file=${key}`);
  }
  const data = `${dir}/data`;
  const [c1, a1] = asNobody(`${PG_BIN}/initdb`, [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  await run(c1, a1);
  const port = freePort();
  const [c2, a2] = asNobody(`${PG_BIN}/postgres`, [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
    ...tls,
  ]);
  const child = new Deno.Command(c2, { args: a2, stdout: "null", stderr: "null" }).spawn();
  const s = server(port, dir, child);
  try {
    await waitForPort(port, child, 20_000);
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}

/**
 * Starts a fresh MariaDB server (grant tables skipped, so any user and password is let
 * in, though the handshake still runs) on a free loopback port.
 */
export async function startMariadb(): Promise<SqlServer> {
  const dir = await nobodyDir("upspan-maria-");
  const data = `${dir}/data`;
  const [c1, a1] = asNobody("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${data}`,
    "--skip-test-db",
    "--auth-root-authentication-method=normal",
  ]);
  await run(c1, a1);
  const port = freePort();
  const [c2, a2] = asNobody("/usr/sbin/mariadbd", [
    "--no-defaults",
    `--datadir=${data}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${dir}/mysqld.sock`,
    `--pid-file=${dir}/mysqld.pid`,
    "--skip-grant-tables",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=16M",
  ]);
  const child = new Deno.Command(c2, { args: a2, stdout: "null", stderr: "null" }).spawn();
  const s = server(port, dir, child);
  try {
    await waitForPort(port, child, 30_000);
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}
