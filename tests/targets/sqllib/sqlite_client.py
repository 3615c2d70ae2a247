"""Python sqlite3 client for the SQL library tests: waits for a line on stdin, then runs
a SELECT, an INSERT, a parameterized (prepared, cached) statement twice, a failing
statement and a 10,000-row query; waits for another line, then runs N small statements
if asked (the benchmark). Usage: sqlite_client.py [N]"""
import sqlite3
import sys

db = sqlite3.connect(":memory:", isolation_level=None)
db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
db.executemany("INSERT INTO items (name) VALUES (?)", [("n%d" % i,) for i in range(10000)])
print("ready", flush=True)
sys.stdin.readline()
db.execute("SELECT count(*) FROM items").fetchall()
db.execute("INSERT INTO items (name) VALUES ('widget')")
for i in (1, 2):
    db.execute("SELECT name FROM items WHERE id = ?", (i,)).fetchall()
try:
    db.execute("INSERT INTO items (id, name) VALUES (1, 'dup')")
except sqlite3.IntegrityError:
    pass
rows = db.execute("SELECT id, name FROM items").fetchall()
print("rows", len(rows), flush=True)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
if n:
    sys.stdin.readline()
    import time
    t = time.perf_counter_ns()
    for i in range(n):
        db.execute("SELECT ?", (i,)).fetchall()
    print("ns_per_statement", (time.perf_counter_ns() - t) / n, flush=True)
print("done", flush=True)
