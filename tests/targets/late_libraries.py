"""A Python program that loads its database libraries late, for upspan's end-to-end tests:
it prints `listening 0` at once, imports on SIGUSR1 and runs its statements on SIGUSR2.

Usage: python late_libraries.py psycopg2 DSN COUNT   import psycopg2; run COUNT statements
       python late_libraries.py pg8000 PORT COUNT    import psycopg2 (libpq mapped, unused)
                                                     and pg8000; run COUNT statements through
                                                     pg8000
"""
import signal
import sys

mode, where, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
modules = {}


def load(*_):
    import psycopg2

    modules["psycopg2"] = psycopg2
    if mode == "pg8000":
        import pg8000.native

        modules["pg8000"] = pg8000.native


def run(*_):
    if mode == "psycopg2":
        conn = modules["psycopg2"].connect(where)
        cur = conn.cursor()
        for i in range(count):
            cur.execute("SELECT %s + 1", (i,))
            cur.fetchall()
        conn.close()
    else:
        conn = modules["pg8000"].Connection("postgres", host="127.0.0.1", port=int(where))
        for i in range(count):
            conn.run("SELECT :i + 1", i=i)
        conn.close()
    print("done", flush=True)


signal.signal(signal.SIGUSR1, load)
signal.signal(signal.SIGUSR2, run)
print("listening 0", flush=True)
while True:
    signal.pause()
