// A small HTTPS server for upspan's end-to-end tests (Node.js `https`, i.e. the OpenSSL
// built into the node binary).
//
// Usage: node https_server.mjs PORT CERT KEY [h2]   (CERT and KEY "-": plain HTTP)
//
// With `h2`, node:http2 serves the same routes: over TLS, HTTP/2 by ALPN (and HTTP/1.1);
// on a plain socket, prior-knowledge h2c.
//
// Listens on 127.0.0.1:PORT (0 picks a free port) and prints `listening PORT` on stdout
// once it accepts connections. HTTP/1.1 with keep-alive; every response with a body
// carries Content-Length (never chunked), so a reader can find where each response ends.
//
// Routes (the same as https_server.py):
//   GET  /hello       200 "hello\n"
//   GET  /status/NNN  status NNN (200-599) with a short body; 204 and 304 have none
//   GET  /bytes/N     N bytes of "x" (at most 64 MiB)
//   POST /echo        the request body, unchanged
//   anything else     404

import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createSecureServer as createH2Server, createServer as createH2cServer } from "node:http2";
import process from "node:process";

const MAX_BYTES = 64 * 1024 * 1024;
const NO_BODY_STATUSES = new Set([204, 304]);

/** Sends one complete response; the body length is always declared up front. */
function reply(res, code, body, contentType = "text/plain") {
  if (NO_BODY_STATUSES.has(code)) {
    res.writeHead(code);
    res.end();
    return;
  }
  res.writeHead(code, { "Content-Type": contentType, "Content-Length": body.length });
  res.end(body);
}

function route(req, res, body) {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (req.method === "POST") {
    if (path === "/echo") return reply(res, 200, body, "application/octet-stream");
    return reply(res, 404, Buffer.from("not found\n"));
  }
  if (path === "/hello") return reply(res, 200, Buffer.from("hello\n"));
  let m = /^\/status\/(\d{3})$/.exec(path);
  if (m && Number(m[1]) >= 200 && Number(m[1]) <= 599) {
    const code = Number(m[1]);
    return reply(res, code, Buffer.from(`status ${code}\n`));
  }
  m = /^\/bytes\/(\d+)$/.exec(path);
  if (m && Number(m[1]) <= MAX_BYTES) return reply(res, 200, Buffer.alloc(Number(m[1]), "x"));
  return reply(res, 404, Buffer.from("not found\n"));
}

function main() {
  if (process.argv.length !== 5 && !(process.argv.length === 6 && process.argv[5] === "h2")) {
    process.stderr.write("usage: node https_server.mjs PORT CERT KEY [h2]\n");
    process.exit(2);
  }
  const [port, cert, key, h2] = process.argv.slice(2);
  const handler = (req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => route(req, res, Buffer.concat(chunks)));
  };
  const tls = () => ({ cert: readFileSync(cert), key: readFileSync(key) });
  const server = h2 === "h2"
    ? (cert === "-"
      ? createH2cServer(handler)
      : createH2Server({ ...tls(), allowHTTP1: true }, handler))
    : cert === "-"
    ? createHttpServer(handler)
    : createHttpsServer(tls(), handler);
  // A client that hangs up or fails the handshake is normal in tests.
  server.on("tlsClientError", () => {});
  server.listen(Number(port), "127.0.0.1", () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  process.on("SIGTERM", () => process.exit(0));
}

main();
