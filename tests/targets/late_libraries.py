"""A Python program that loads its database libraries late, for upspan's end-to-end tests:
it prints `listening 0` at once, imports on SIGUSR1 and runs its statements on SIGUSR2.

Usage: python late_libraries.py psycopg2 DSN COUNT   import psycopg2; run COUNT statements
       python late_libraries.py pg8000 PORT COUNT    import psycopg2 (libpq mapped, unused)
                                                     and pg8000; run COUNT statements through
                                                     pg8000
       python late_libraries.py both PORT COUNT      import psycopg2 and pg8000; run COUNT
                                                     statements through each, in turn
       python late_libraries.py both-tls PORT COUNT  the same over TLS, with the system's libpq
                                                     (through ctypes) in psycopg2's place: it
                                                     shares the system's OpenSSL with Python
"""
import signal
import sys

mode, where, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
modules = {}


def load(*_):
    # pg8000 first: libpq's mapping (what the test waits for) comes last.
    if mode in ("pg8000", "both", "both-tls"):
        import pg8000.native

        modules["pg8000"] = pg8000.native
    if mode == "both-tls":
        import ctypes

        pq = ctypes.CDLL("libpq.so.5")
        pq.PQconnectdb.restype = pq.PQexec.restype = ctypes.c_void_p
        pq.PQconnectdb.argtypes = [ctypes.c_char_p]
        pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        pq.PQclear.argtypes = pq.PQfinish.argtypes = [ctypes.c_void_p]
        modules["libpq"] = pq
        return
    import psycopg2

    modules["psycopg2"] = psycopg2


def run(*_):
    if mode == "psycopg2":
        conn = modules["psycopg2"].connect(where)
        cur = conn.cursor()
        for i in range(count):
            cur.execute("SELECT %s + 1", (i,))
            cur.fetchall()
        conn.close()
    elif mode == "both":
        lib = modules["psycopg2"].connect(
            f"host=127.0.0.1 port={where} user=postgres dbname=postgres sslmode=disable"
        )
        cur = lib.cursor()
        wire = modules["pg8000"].Connection("postgres", host="127.0.0.1", port=int(where))
        for i in range(count):
            cur.execute("SELECT %s + 1", (i,))
            cur.fetchall()
            wire.run("SELECT :i * 2", i=i)
        lib.close()
        wire.close()
    elif mode == "both-tls":
        pq = modules["libpq"]
        dsn = f"host=127.0.0.1 port={where} user=postgres dbname=postgres sslmode=require"
        lib = pq.PQconnectdb(dsn.encode())
        wire = modules["pg8000"].Connection("postgres", host="127.0.0.1", port=int(where))
        for i in range(count):
            pq.PQclear(pq.PQexec(lib, f"SELECT {i} + 1".encode()))
            wire.run("SELECT :i * 2", i=i)
        pq.PQfinish(lib)
        wire.close()
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
