#!/usr/bin/env python3
"""A plain-HTTP server for upspan's fault tests that does not load OpenSSL by itself.

Usage: fault_server.py        prints ``listening PORT`` once it accepts connections

It avoids http.server (which imports ssl through http.client) and speaks just enough
HTTP/1.1 with keep-alive. Routes:
  GET /hello     200 "hello\\n"
  GET /load      dlopen of $FAULT_LIBSSL (default "libssl.so.3") through ctypes; body: "loaded"
  GET /unload    dlclose of every handle /load opened; body: "unloaded"
  GET /mapped    "yes" when libssl is in /proc/self/maps, else "no"
  GET /fork      forks a child that sleeps until killed; body: the child's pid
  GET /silent    reads the request and never answers (the connection stays open)
  anything else  404
"""

import ctypes
import os
import signal
import socketserver
import sys
import time

handles = []


def libssl_mapped():
    with open("/proc/self/maps") as f:
        return "libssl.so" in f.read()


def route(path):
    if path == "/hello":
        return 200, b"hello\n"
    if path == "/load":
        handles.append(ctypes.CDLL(os.environ.get("FAULT_LIBSSL", "libssl.so.3"))._handle)
        return 200, b"loaded"
    if path == "/unload":
        dlclose = ctypes.CDLL(None).dlclose
        dlclose.argtypes = [ctypes.c_void_p]
        while handles:
            dlclose(handles.pop())
        return 200, b"unloaded"
    if path == "/mapped":
        return 200, b"yes" if libssl_mapped() else b"no"
    if path == "/fork":
        pid = os.fork()
        if pid == 0:
            time.sleep(300)
            os._exit(0)
        return 200, str(pid).encode()
    return 404, b"not found\n"


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline(65537)
            if not line:
                return
            while True:  # headers, ignored
                h = self.rfile.readline(65537)
                if h in (b"\r\n", b"\n", b""):
                    break
            parts = line.split()
            path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            if path == "/silent":
                time.sleep(3600)
                return
            code, body = route(path)
            reason = b"OK" if code == 200 else b"Not Found"
            self.wfile.write(
                b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s"
                % (code, reason, len(body), body)
            )
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they exit
    server = Server(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    assert "ssl" not in sys.modules and not libssl_mapped(), "OpenSSL loaded at start"
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
