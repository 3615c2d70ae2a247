/*
 * A MariaDB Connector/C client for the SQL library tests. Waits for a line on stdin (so
 * the agent can attach first), then runs a SELECT (mysql_real_query), an INSERT
 * (mysql_send_query + mysql_read_query_result), a prepared statement (mysql_stmt_prepare
 * + mysql_stmt_execute), a failing statement and a failing prepare.
 * Usage: my_client PORT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mysql.h>

static void query(MYSQL *m, const char *q)
{
	if (mysql_real_query(m, q, strlen(q)) == 0)
		mysql_free_result(mysql_store_result(m));
}

int main(int argc, char **argv)
{
	char line[16];
	MYSQL *m = mysql_init(NULL);
	if (!mysql_real_connect(m, "127.0.0.1", "root", "", NULL, argc > 1 ? atoi(argv[1]) : 3306,
				NULL, 0)) {
		fprintf(stderr, "connect: %s\n", mysql_error(m));
		return 1;
	}
	query(m, "CREATE DATABASE IF NOT EXISTS shop");
	query(m, "USE shop");
	query(m, "CREATE TABLE IF NOT EXISTS my_items (id int, name text)");
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;

	query(m, "SELECT count(*) FROM my_items WHERE id > 0");
	const char *ins = "INSERT INTO my_items VALUES (1, 'widget')";
	if (mysql_send_query(m, ins, strlen(ins)) == 0)
		mysql_read_query_result(m);
	MYSQL_STMT *s = mysql_stmt_init(m);
	const char *sel = "SELECT name FROM my_items WHERE id = 1";
	if (mysql_stmt_prepare(s, sel, strlen(sel)) == 0 && mysql_stmt_execute(s) == 0)
		mysql_stmt_store_result(s);
	mysql_stmt_close(s);
	query(m, "SELECT * FROM my_missing");
	s = mysql_stmt_init(m);
	const char *bad = "SELECT nothing FROM my_missing";
	mysql_stmt_prepare(s, bad, strlen(bad));
	mysql_stmt_close(s);
	mysql_close(m);
	printf("done\n");
	return 0;
}
