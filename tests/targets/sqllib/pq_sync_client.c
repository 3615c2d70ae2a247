/*
 * A synchronous libpq client for the SQL library tests, in steps, each started by a line on
 * stdin and ended by a line on stdout (so that the test reads the probes' counters between
 * steps): WARM PQexec calls (`warm`); COUNT PQexec calls, a PQexecParams, a PQprepare, a
 * PQexecPrepared and a failing PQexec (`sync`); one statement through PQsendQuery, the
 * application's first asynchronous call (`async`); then a PQsendQuery and a PQexec
 * (`done`). Usage: pq_sync_client CONNINFO WARM COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <libpq-fe.h>

static int step(const char *done)
{
	char line[16];
	printf("%s\n", done);
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) != NULL;
}

static void drain(PGconn *c)
{
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: pq_sync_client CONNINFO WARM COUNT\n");
		return 2;
	}
	PGconn *c = PQconnectdb(argv[1]);
	int warm = atoi(argv[2]), count = atoi(argv[3]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		return 1;
	}
	PQclear(PQexec(c, "CREATE TABLE IF NOT EXISTS sync_items (id int, name text)"));
	if (!step("ready"))
		return 1;
	for (int i = 0; i < warm; i++)
		PQclear(PQexec(c, "SELECT 1"));
	if (!step("warm"))
		return 1;
	const char *one[] = { "1" };
	for (int i = 0; i < count; i++)
		PQclear(PQexec(c, "SELECT 2"));
	PQclear(PQexecParams(c, "INSERT INTO sync_items VALUES ($1, 'x')", 1, NULL, one, NULL, NULL, 0));
	PQclear(PQprepare(c, "by_id", "SELECT name FROM sync_items WHERE id = $1", 1, NULL));
	PQclear(PQexecPrepared(c, "by_id", 1, one, NULL, NULL, 0));
	PQclear(PQexec(c, "SELECT * FROM sync_missing"));
	if (!step("sync"))
		return 1;
	PQsendQuery(c, "SELECT 3");
	drain(c);
	if (!step("async"))
		return 1;
	PQsendQuery(c, "SELECT 4");
	drain(c);
	PQclear(PQexec(c, "SELECT 5"));
	PQfinish(c);
	printf("done\n");
	return 0;
}
