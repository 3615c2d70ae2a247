# A plain-HTTP server that forks a child for every connection (socketserver.ForkingMixIn),
# for upspan's end-to-end tests: each request is served by a process that did not exist
# when the agent started.
#
# Usage: python3 forking_server.py
#
# Listens on 127.0.0.1 (a free port) and prints `listening PORT` once it accepts
# connections. GET any path: 200 with the path as the body.

import http.server
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ForkingMixIn, http.server.HTTPServer):
    pass


server = Server(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
sys.stdout.close()
server.serve_forever()
