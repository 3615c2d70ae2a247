"""psycopg2 client for the SQL library tests: waits for a line on stdin, then runs a
SELECT, an INSERT, a server-side prepared statement and a failing statement."""
import sys

import psycopg2

conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS py_items (id int, name text)")
print("ready", flush=True)
sys.stdin.readline()
cur.execute("SELECT count(*) FROM py_items WHERE id > %s", (0,))
cur.fetchall()
cur.execute("INSERT INTO py_items VALUES (%s, %s)", (1, "widget"))
cur.execute("PREPARE py_by_id(int) AS SELECT name FROM py_items WHERE id = $1")
cur.execute("EXECUTE py_by_id(%s)", (1,))
cur.fetchall()
try:
    cur.execute("SELECT * FROM py_missing")
except psycopg2.Error:
    pass
conn.close()
print("done", flush=True)
