#!/usr/bin/env python3
"""A small HTTPS server for upspan's end-to-end tests (Python's ssl, i.e. libssl.so).

Usage: https_server.py PORT CERT KEY [HOST]   (CERT and KEY "-": plain HTTP)

Listens on 127.0.0.1:PORT, or HOST:PORT (0 picks a free port) and prints ``listening PORT`` on stdout
once it accepts connections. HTTP/1.1 with keep-alive; every response with a body carries
Content-Length (never chunked), so a reader can find where each response ends.

Routes:
  GET  /hello       200 "hello\\n"
  GET  /status/NNN  status NNN (200-599) with a short body; 204 and 304 have none
  GET  /bytes/N     N bytes of "x" (at most 64 MiB)
  GET  /sleep/MS    200 "slept\\n" after sleeping MS milliseconds (at most 10 s)
  GET  /call/PORT/P  calls http://127.0.0.1:PORT/P (plain HTTP) from the handling thread and
                    answers with that call's status and body
  GET  /traceparent the traceparent header received, or "none"
  ANY  /request     the request as received: method, target, then each header line but
                    traceparent (sorted, names lowercased), then the body
  POST /echo        the request body, unchanged
  anything else     404

Each connection's TLS handshake runs in that connection's thread, so a stalled client
cannot hold up accept(). Nothing is logged per request.
"""

import http.client
import re
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BYTES = 64 * 1024 * 1024
NO_BODY_STATUSES = (204, 304)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; pipelined requests are served in order
    # Head and body go out as two writes: without TCP_NODELAY the second waits ~40 ms for
    # the peer's delayed ACK, which would make the server look 100x slower than it is.
    disable_nagle_algorithm = True

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/hello":
            return self._reply(200, b"hello\n")
        if path == "/traceparent":
            return self._reply(200, self.headers.get("traceparent", "none").encode())
        if path == "/request":
            return self._request()
        m = re.fullmatch(r"/status/(\d{3})", path)
        if m and 200 <= int(m.group(1)) <= 599:
            code = int(m.group(1))
            return self._reply(code, b"" if code in NO_BODY_STATUSES else b"status %d\n" % code)
        m = re.fullmatch(r"/call/(\d+)(/.*)", path)
        if m:
            conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=10)
            conn.request("GET", m.group(2))
            answer = conn.getresponse()
            body = answer.read()
            conn.close()
            return self._reply(answer.status, body)
        m = re.fullmatch(r"/sleep/(\d+)", path)
        if m and int(m.group(1)) <= 10_000:
            time.sleep(int(m.group(1)) / 1000)
            return self._reply(200, b"slept\n")
        m = re.fullmatch(r"/bytes/(\d+)", path)
        if m and int(m.group(1)) <= MAX_BYTES:
            return self._reply(200, b"x" * int(m.group(1)))
        self._reply(404, b"not found\n")

    def do_POST(self):
        if self.path.split("?", 1)[0] == "/request":
            return self._request()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if self.path.split("?", 1)[0] == "/echo":
            return self._reply(200, body, "application/octet-stream")
        self._reply(404, b"not found\n")

    def _request(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        lines = sorted(
            "%s: %s" % (k.lower(), v) for k, v in self.headers.items() if k.lower() != "traceparent"
        )
        head = "%s %s\n%s\n" % (self.command, self.path, "\n".join(lines))
        return self._reply(200, head.encode() + body)

    def _reply(self, code, body, content_type="text/plain"):
        self.send_response(code)
        if code not in NO_BODY_STATUSES:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and code not in NO_BODY_STATUSES:
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # quiet: tests read stderr only when something went wrong


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context):
        self.context = context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        # Runs in the connection's own thread: handshake here, not in accept().
        if self.context is None:
            return self.RequestHandlerClass(request, client_address, self)
        tls = self.context.wrap_socket(request, server_side=True)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        # A client that hangs up or fails the handshake is normal in tests; anything else
        # is worth one line.
        err = sys.exc_info()[1]
        if not isinstance(err, (ssl.SSLError, ConnectionError, TimeoutError, socket.timeout)):
            print(f"https_server.py: {client_address}: {err!r}", file=sys.stderr, flush=True)


def main():
    if len(sys.argv) not in (4, 5):
        print("usage: https_server.py PORT CERT KEY [HOST]", file=sys.stderr)
        sys.exit(2)
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host = sys.argv[4] if len(sys.argv) == 5 else "127.0.0.1"
    context = None
    if cert != "-":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    if ":" in host:
        Server.address_family = socket.AF_INET6
    server = Server((host, port), context)
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
