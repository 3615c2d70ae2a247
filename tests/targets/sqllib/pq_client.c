/*
 * A libpq client for the SQL library tests. Waits for a line on stdin (so the agent can
 * attach first), then runs through the asynchronous API (PQsendQuery, PQsendQueryParams,
 * PQsendPrepare, PQsendQueryPrepared, each drained with PQgetResult) and the synchronous
 * one (PQexec, PQexecParams, PQprepare, PQexecPrepared): a SELECT, an INSERT, a prepared
 * statement and a failing statement in each. Usage: pq_client CONNINFO
 */
#include <stdio.h>
#include <stdlib.h>
#include <libpq-fe.h>

static void drain(PGconn *c)
{
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

int main(int argc, char **argv)
{
	char line[16];
	PGconn *c = PQconnectdb(argc > 1 ? argv[1] : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		return 1;
	}
	PQclear(PQexec(c, "CREATE TABLE IF NOT EXISTS pq_items (id int, name text)"));
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;

	const char *one[] = { "1" };
	const char *two[] = { "2", "bolt" };
	PQsendQuery(c, "SELECT count(*) FROM pq_items WHERE id > 0");
	drain(c);
	PQsendQueryParams(c, "INSERT INTO pq_items VALUES ($1, $2)", 2, NULL, two, NULL, NULL, 0);
	drain(c);
	PQsendPrepare(c, "async_by_id", "SELECT name FROM pq_items WHERE id = $1", 1, NULL);
	drain(c);
	PQsendQueryPrepared(c, "async_by_id", 1, one, NULL, NULL, 0);
	drain(c);
	PQsendQuery(c, "SELECT * FROM pq_missing");
	drain(c);

	PQclear(PQexec(c, "SELECT 1"));
	PQclear(PQexecParams(c, "INSERT INTO pq_items VALUES ($1, 'x')", 1, NULL, one, NULL, NULL, 0));
	PQclear(PQprepare(c, "sync_by_id", "SELECT name FROM pq_items WHERE id = $1", 1, NULL));
	PQclear(PQexecPrepared(c, "sync_by_id", 1, two, NULL, NULL, 0));
	PQclear(PQexec(c, "INSERT INTO pq_items VALUES ('not a number')"));
	PQfinish(c);
	printf("done\n");
	return 0;
}
