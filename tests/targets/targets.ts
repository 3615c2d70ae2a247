/**
 * Start the test target servers as child processes and talk to them in ways ordinary
 * clients do not (several requests in one TLS write). Nothing here depends on upspan.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const { cert, key } = await makeCert(dir);
 * await using server = await startPythonServer({ cert, key });
 * const raw = await pipelinedRequest(server.port, ["/hello", "/status/204"], { caCert: cert });
 * console.log(parseResponses(raw).map((r) => r.status)); // [200, 204]
 * ```
 *
 * @module
 */

import { tied } from "./tied.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** The Python (`http.server` + `ssl`) target. */
export const PYTHON_SERVER = `${HERE}https_server.py`;
/** The Node.js (`https`) target. */
export const NODE_SERVER = `${HERE}https_server.mjs`;

/** The real executable of `python` (a path, or a name on PATH), as Python itself reports. */
export function pythonExecutable(python: string): string {
  const out = new Deno.Command(python, {
    args: ["-c", "import os, sys; print(os.path.realpath(sys.executable))"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
}

/**
 * The interpreter `python3` on PATH runs, through any shim (Debian 12: `/usr/bin/python3.11`),
 * and its file name: what upspan names a Python server's service when nothing else does.
 */
export const PYTHON3 = pythonExecutable("python3");
export const PYTHON3_NAME = PYTHON3.slice(PYTHON3.lastIndexOf("/") + 1);

/** A running target server. */
export interface TargetServer extends AsyncDisposable {
  /** Pid of the server process (the process to trace). */
  pid: number;
  /** TCP port on 127.0.0.1. */
  port: number;
  child: Deno.ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM and waits for the process to end. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startPythonServer} and {@linkcode startNodeServer}. */
export interface ServerOptions {
  /** PEM certificate file (see `makeCert`). Default: none, plain HTTP. */
  cert?: string;
  /** PEM private key file. Default: none, plain HTTP. */
  key?: string;
  /** Port to listen on. Default: 0, a free port chosen by the kernel. */
  port?: number;
  /** How long to wait for the `listening PORT` line. Default: 10 000 ms. */
  timeoutMs?: number;
  /** Address to listen on (Python target only). Default: `127.0.0.1`. */
  host?: string;
  /** Interpreter to run. Default: `python3` or `node` from PATH. */
  interpreter?: string;
  /** Serve with node:http2 (Node target only): h2 over TLS, h2c on a plain socket. */
  http2?: boolean;
}

/** Starts `https_server.py` and waits until it listens. */
export function startPythonServer(options: ServerOptions): Promise<TargetServer> {
  const args = [PYTHON_SERVER, String(options.port ?? 0), options.cert ?? "-", options.key ?? "-"];
  if (options.host !== undefined) args.push(options.host);
  return startServer(options.interpreter ?? "python3", args, options);
}

/** Starts `https_server.mjs` and waits until it listens. */
export function startNodeServer(options: ServerOptions): Promise<TargetServer> {
  const args = [NODE_SERVER, String(options.port ?? 0), options.cert ?? "-", options.key ?? "-"];
  if (options.http2) args.push("h2");
  return startServer(options.interpreter ?? "node", args, options);
}

/**
 * Runs `command args…` and waits for a `listening PORT` line on its stdout. On timeout or
 * early exit the process is stopped and the error quotes its stderr.
 */
export async function startServer(
  command: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<TargetServer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const [cmd, argv] = tied([command, ...args]);
  const child = new Deno.Command(cmd, {
    args: argv,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(text) {
        if (stderrText.length < 65_536) stderrText += text;
      },
    }),
  ).catch(() => {});
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await stdout.cancel().catch(() => {});
      await child.status;
      await stderrDone;
    })();
    return stopped;
  };
  const what = `${command} ${args.join(" ")}`;

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    let seen = "";
    while (true) {
      const next = await Promise.race([stdout.read(), timeout]);
      if (next === "timeout") {
        await stop();
        throw new Error(
          `Cannot start "${what}": no "listening PORT" line within ${timeoutMs} ms; ` +
            `stderr: ${stderrText.trim() || "(empty)"}`,
        );
      }
      if (next.done) {
        await stop();
        const status = await child.status;
        throw new Error(
          `Cannot start "${what}": it exited with code ${status.code} before listening; ` +
            `stderr: ${stderrText.trim() || "(empty)"}`,
        );
      }
      seen += next.value;
      const m = /^listening (\d+)$/m.exec(seen);
      if (m) {
        return {
          pid: child.pid,
          port: Number(m[1]),
          child,
          stderr: () => stderrText,
          stop,
          [Symbol.asyncDispose]: stop,
        };
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@linkcode pipelinedRequest}. */
export interface PipelinedRequestOptions {
  /** PEM file of the certificate to trust (the server's self-signed one). */
  caCert: string;
  /** Host to connect to and verify. Default: `127.0.0.1`. */
  hostname?: string;
  /** Give up after this long. Default: 10 000 ms. */
  timeoutMs?: number;
}

/**
 * Opens one TLS connection, sends a `GET` for every path in a single write (HTTP/1.1
 * pipelining), and reads until all responses are complete. Returns the raw bytes of the
 * responses; {@linkcode parseResponses} splits them.
 */
export async function pipelinedRequest(
  port: number,
  paths: string[],
  options: PipelinedRequestOptions,
): Promise<Uint8Array> {
  const hostname = options.hostname ?? "127.0.0.1";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const request = paths.map((path) =>
    `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUser-Agent: upspan-test\r\n` +
    `Accept: */*\r\n\r\n`
  ).join("");
  const conn = await Deno.connectTls({
    hostname,
    port,
    caCerts: [await Deno.readTextFile(options.caCert)],
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  const received = new GrowableBytes();
  try {
    await writeAll(conn, new TextEncoder().encode(request));
    const chunk = new Uint8Array(64 * 1024);
    while (parseResponses(received.bytes()).length < paths.length) {
      const n = await conn.read(chunk);
      if (n === null) {
        throw new Error(
          `Connection to ${hostname}:${port} closed after ` +
            `${parseResponses(received.bytes()).length} of ${paths.length} responses`,
        );
      }
      received.push(chunk.subarray(0, n));
    }
    return received.bytes();
  } catch (err) {
    if (timedOut) {
      throw new Error(
        `No ${paths.length} complete responses from ${hostname}:${port} within ${timeoutMs} ms ` +
          `(got ${received.length} bytes)`,
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
}

/** One parsed HTTP/1.x response. */
export interface HttpResponse {
  status: number;
  /** Header names in lowercase; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/**
 * Splits raw HTTP/1.x response bytes into complete responses, in order. Bodies are
 * delimited by `Content-Length`; 1xx, 204 and 304 responses have none. A trailing
 * incomplete response (or one delimited by connection close or chunked encoding, which
 * the target servers never send) is left out.
 */
export function parseResponses(raw: Uint8Array): HttpResponse[] {
  const responses: HttpResponse[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = indexOfCrlfCrlf(raw, at);
    if (headEnd < 0) break;
    const lines = latin1(raw.subarray(at, headEnd)).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1]);
    if (!Number.isInteger(status)) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    const bodyStart = headEnd + 4;
    let length = 0;
    if (!(status < 200 || status === 204 || status === 304)) {
      if (headers["content-length"] === undefined) break;
      length = Number(headers["content-length"]);
    }
    if (bodyStart + length > raw.length) break;
    responses.push({ status, headers, body: raw.slice(bodyStart, bodyStart + length) });
    at = bodyStart + length;
  }
  return responses;
}

function indexOfCrlfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

/** An append-only byte buffer that doubles its capacity as needed. */
class GrowableBytes {
  #buf = new Uint8Array(16 * 1024);
  length = 0;

  push(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.#buf.length) {
      const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + chunk.length));
      next.set(this.#buf.subarray(0, this.length));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.length);
    this.length += chunk.length;
  }

  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}
