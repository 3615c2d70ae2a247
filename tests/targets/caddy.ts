/**
 * Debian's caddy (a Go program nobody here built) as a test target: it serves a directory
 * of files over HTTPS on a free loopback port, with a certificate made by the test, its
 * configuration and state in a temp dir.
 *
 * @module
 */
import { makeCert } from "./certs.ts";
import { tied } from "./tied.ts";

/** A running caddy. */
export interface Caddy extends AsyncDisposable {
  pid: number;
  port: number;
  /** The certificate to trust (`curl --cacert`). */
  cert: string;
}

/** Starts caddy serving `files` (name → content) over HTTPS; resolves once it accepts. */
export async function startCaddy(files: Record<string, string>): Promise<Caddy> {
  const dir = await Deno.makeTempDir({ prefix: "upspan-caddy-" });
  const { cert, key } = await makeCert(dir);
  await Deno.mkdir(`${dir}/www`);
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/www/${name}`, text);
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await Deno.writeTextFile(
    `${dir}/Caddyfile`,
    `{
  admin off
  auto_https off
  storage file_system ${dir}/data
}
https://127.0.0.1:${port} {
  tls ${cert} ${key}
  root * ${dir}/www
  file_server
}
`,
  );
  const [cmd, argv] = tied([
    "caddy",
    "run",
    "--config",
    `${dir}/Caddyfile`,
    "--adapter",
    "caddyfile",
  ]);
  const child = new Deno.Command(cmd, {
    args: argv,
    env: { HOME: dir, XDG_DATA_HOME: `${dir}/data`, XDG_CONFIG_HOME: `${dir}/config` },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const up = await Deno.connect({ hostname: "127.0.0.1", port }).then(
      (c) => (c.close(), true),
      () => false,
    );
    if (up) return { pid: child.pid, port, cert, [Symbol.asyncDispose]: stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`caddy did not start on port ${port}`);
}
