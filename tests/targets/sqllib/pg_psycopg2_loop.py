"""psycopg2 in steps for the SQL library tests: WARM statements (`warm`), then COUNT more and
one on a new connection (`done`), each step started by a line on stdin. Usage: pg_psycopg2_loop.py DSN WARM COUNT"""
import sys

import psycopg2

dsn, warm, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = psycopg2.connect(dsn)
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS py_loop (id int)")
cur.execute("INSERT INTO py_loop VALUES (1)")
print("ready", flush=True)
for word, n in (("warm", warm), ("done", count)):
    sys.stdin.readline()
    for i in range(n):
        cur.execute("SELECT %s FROM py_loop WHERE id = %s", (i, 1))
        cur.fetchall()
    if word == "done":
        # A connection opened since: its statements are libpq's too.
        other = psycopg2.connect(dsn)
        other.autocommit = True
        other.cursor().execute("SELECT 2")
        other.close()
    print(word, flush=True)
conn.close()
