/**
 * Debian's nginx as a test target: one master and one worker serving a directory of files
 * on a free loopback port, with its own configuration, logs and pid file in a temp dir.
 *
 * @module
 */
import { tied } from "./tied.ts";

/** A running nginx. */
export interface Nginx extends AsyncDisposable {
  port: number;
  masterPid: number;
  /** The first worker. */
  workerPid: number;
  workerPids: number[];
  /** Master and workers. */
  pids: number[];
}

/** Files to serve: name → text, or a size in bytes of filler. */
export type Site = Record<string, string | number>;

/** Options for {@linkcode startNginx}. */
export interface NginxOptions {
  /** Serve HTTPS with this certificate and key (PEM files). Default: plain HTTP. */
  tls?: { cert: string; key: string };
  /** Offer HTTP/2 too (`listen … http2`; with `tls`, by ALPN). Default false. */
  http2?: boolean;
  /** Worker processes. Default 1. */
  workers?: number;
  /** More directives inside the `server` block (`location`s, …). Default none. */
  server?: string;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function children(pid: number): Promise<number[]> {
  const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
  return text.split(" ").filter(Boolean).map(Number);
}

/** Starts nginx serving `site`; resolves once it accepts connections and has its workers. */
export async function startNginx(site: Site, options: NginxOptions = {}): Promise<Nginx> {
  const workerCount = options.workers ?? 1;
  const dir = await Deno.makeTempDir({ prefix: "upspan-nginx-" });
  await Deno.chmod(dir, 0o755); // the worker runs as an unprivileged user
  const root = `${dir}/www`;
  await Deno.mkdir(root);
  for (const [name, content] of Object.entries(site)) {
    const text = typeof content === "number" ? "x".repeat(content) : content;
    await Deno.writeTextFile(`${root}/${name}`, text);
  }
  const port = freePort();
  const listen = [
    `127.0.0.1:${port}`,
    options.tls ? "ssl" : "",
    options.http2 ? "http2" : "",
  ].filter(Boolean).join(" ");
  const tls = options.tls
    ? `ssl_certificate ${options.tls.cert};\n    ssl_certificate_key ${options.tls.key};`
    : "";
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    `daemon off;
worker_processes ${workerCount};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 30;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen ${listen};
    root ${root};
    ${tls}
    ${options.server ?? ""}
  }
}
`,
  );
  const [cmd, args] = tied(["nginx", "-p", dir, "-c", `${dir}/nginx.conf`]);
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const workers = await children(child.pid);
    const up = await Deno.connect({ hostname: "127.0.0.1", port }).then(
      (c) => (c.close(), true),
      () => false,
    );
    if (up && workers.length >= workerCount) {
      return {
        port,
        masterPid: child.pid,
        workerPid: workers[0]!,
        workerPids: workers,
        pids: [child.pid, ...workers],
        [Symbol.asyncDispose]: stop,
      };
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
