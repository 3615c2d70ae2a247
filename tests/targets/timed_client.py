#!/usr/bin/env python3
"""A client that times its own calls, for comparing span durations with what it saw.

Usage: timed_client.py KIND PORT WHAT COUNT GAP_MS
  KIND http     GET WHAT (a path) on one keep-alive connection to 127.0.0.1:PORT
  KIND pg8000   runs the SQL WHAT over one pg8000 connection (user postgres, no TLS)
  KIND pymysql  runs the SQL WHAT over one PyMySQL connection (user root, no TLS)

Prints ``ready`` and waits for a line on stdin (so a tracer can attach first), then
connects, makes COUNT calls GAP_MS apart and prints one line per call: ``took MS``, the
call's duration by time.monotonic_ns() from just before its first byte is sent until its
answer has been read in full. Exits 0 when all calls succeeded.
"""

import sys
import time


def connect(kind, port):
    if kind == "http":
        import http.client

        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if kind == "pg8000":
        import pg8000.native

        return pg8000.native.Connection("postgres", host="127.0.0.1", port=port)
    if kind == "pymysql":
        import pymysql

        return pymysql.connect(host="127.0.0.1", port=port, user="root", password="")
    raise SystemExit(f"timed_client.py: unknown kind {kind!r}")


def call(kind, conn, what):
    if kind == "http":
        conn.request("GET", what)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"timed_client.py: GET {what} answered {answer.status}")
    elif kind == "pg8000":
        conn.run(what)
    else:
        with conn.cursor() as cur:
            cur.execute(what)
            cur.fetchall()


def main():
    if len(sys.argv) != 6:
        raise SystemExit("usage: timed_client.py KIND PORT WHAT COUNT GAP_MS")
    kind, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, gap = int(sys.argv[4]), int(sys.argv[5]) / 1000
    print("ready", flush=True)
    sys.stdin.readline()
    conn = connect(kind, port)
    if kind == "http":
        conn.connect()
    for i in range(count):
        if i > 0:
            time.sleep(gap)
        t0 = time.monotonic_ns()
        call(kind, conn, what)
        print(f"took {(time.monotonic_ns() - t0) / 1e6:.3f}", flush=True)
    conn.close()


if __name__ == "__main__":
    main()
