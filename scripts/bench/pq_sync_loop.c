/*
 * A synchronous libpq client for the benchmark: pgbench -S's statement (one account's
 * balance by a random id) through PQexec, one connection, for SECONDS; prints the number of
 * statements, their rate and the CPU time the client used per statement (the probes' traps
 * and programs run in its time). Usage: pq_sync_loop CONNINFO SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <libpq-fe.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pq_sync_loop CONNINFO SECONDS\n");
		return 2;
	}
	PGconn *c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		return 1;
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double seconds = atof(argv[2]), elapsed = 0;
	long n = 0;
	char sql[96];
	srand(1);
	while (elapsed < seconds) {
		snprintf(sql, sizeof(sql), "SELECT abalance FROM pgbench_accounts WHERE aid = %d",
			 1 + rand() % 100000);
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "query: %s", PQerrorMessage(c));
			return 1;
		}
		PQclear(r);
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
		elapsed = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
	}
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	printf("statements %ld\nper_second %.1f\ncpu_us_per_statement %.3f\n", n, n / elapsed,
	       (cpu.tv_sec * 1e6 + cpu.tv_nsec / 1e3) / n);
	PQfinish(c);
	return 0;
}
