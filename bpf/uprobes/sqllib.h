/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events and settings of the SQL client library instrumentation (sqllib.bpf.c): libpq,
 * the MariaDB/MySQL client library and SQLite. This header is the one definition of their
 * layout: user space reads it from the object's BTF, by field name. Fixed-width types
 * only, no BPF includes.
 */
#ifndef UPSPAN_SQLLIB_H
#define UPSPAN_SQLLIB_H

/* Bytes kept of each text field; longer text is flagged `truncated`. */
#define SQL_TEXT_BYTES 4096
#define SQL_NAME_BYTES 64
#define SQL_DETAIL_BYTES 128
/* Most PostgreSQL error fields walked looking for the SQLSTATE and the message. */
#define PG_MAX_ERROR_FIELDS 16

enum sql_event_kind {
	SQL_EVENT_CALL = 1,	/* a whole synchronous call: start, end, text and outcome */
	SQL_EVENT_SEND = 2,	/* a statement sent (PQsend*, mysql_send_query): start and text */
	/* a result read for a handle (mysql_read_query_result); libpq (PQgetResult): an error
	 * result, or the NULL that ends a statement with its last success's command tag */
	SQL_EVENT_RESULT = 3,
	SQL_EVENT_STMT_END = 4, /* an SQLite statement that ran is being reset or finalized */
	SQL_EVENT_STMT_RC = 5,	/* that reset's or finalize's return value, same thread */
	/* libpq: the application called PQexec* PQEXEC_RUN times in a row: make it synchronous */
	SQL_EVENT_PQ_SYNC = 6,
	/* libpq: a synchronous process's application called a PQsend* itself: asynchronous */
	SQL_EVENT_PQ_ASYNC = 7,
	/* libpq: a connection's first synchronous call (entry): its socket and SSL*, whose
	 * bytes are the probes' and not the wire parsers' (a SEND tells so in the other mode) */
	SQL_EVENT_PQ_CONN = 8,
};

enum sql_lib {
	SQL_LIB_LIBPQ = 1,
	SQL_LIB_MYSQL = 2,
	SQL_LIB_SQLITE = 3,
};

enum sql_op {
	SQL_OP_QUERY = 1,   /* text executed directly */
	SQL_OP_PREPARE = 2, /* text prepared (under `name` for libpq) */
	SQL_OP_EXECUTE = 3, /* a prepared statement executed (by `name` or by handle) */
	SQL_OP_RESULT = 4,  /* the result of an earlier send */
};

/* Indexes into the per-CPU `sqllib_stats` array. */
enum sqllib_stat {
	SQLLIB_STAT_PQ_HITS,	 /* libpq probe hits (every program run) */
	SQLLIB_STAT_MYSQL_HITS,	 /* MySQL client probe hits */
	SQLLIB_STAT_SQLITE_HITS, /* SQLite probe hits */
	SQLLIB_STAT_EVENTS,
	SQLLIB_STAT_DROPS,
	SQLLIB_STAT_MAX,
};

/* A member offset the library does not have, or that could not be found. */
#define SQL_OFFSET_ABSENT 0xffffffffu

/*
 * Member offsets inside one traced process's libraries (sqllib_procs values), in bytes,
 * read from the machine code of the libraries' own accessor functions (PQresultStatus,
 * mysql_errno, sqlite3_sql, …). The entry doubles as the "this process is traced" flag.
 */
struct sqllib_proc {
	__u32 pg_result_status; /* struct pg_result.resultStatus (PQresultStatus) */
	__u32 pg_cmd_status;	/* struct pg_result.cmdStatus[] (PQcmdStatus) */
	__u32 pg_err_fields;	/* struct pg_result.errFields (PQresultErrorField) */
	__u32 pg_field_next;	/* struct pgMessageField.next */
	__u32 pg_field_code;	/* struct pgMessageField.code */
	__u32 pg_field_text;	/* struct pgMessageField.contents[] */
	__u32 my_errno;		/* MYSQL net.last_errno (mysql_errno) */
	__u32 my_error;		/* MYSQL net.last_error[] (mysql_error) */
	__u32 my_sqlstate;	/* MYSQL net.sqlstate[] (mysql_sqlstate) */
	__u32 my_stmt_errno;	/* MYSQL_STMT last_errno (mysql_stmt_errno) */
	__u32 my_stmt_error;	/* MYSQL_STMT last_error[] (mysql_stmt_error) */
	__u32 my_stmt_sqlstate; /* MYSQL_STMT sqlstate[] (mysql_stmt_sqlstate) */
	__u32 my_server_version; /* MYSQL server_version, a char * (mysql_get_server_info) */
	__u32 lite_state;	/* Vdbe.eVdbeState, a byte (sqlite3_stmt_busy) */
	__u32 lite_run_state;	/* its value while running (VDBE_RUN_STATE); halted is one more */
	__u32 lite_sql;		/* Vdbe.zSql (sqlite3_sql) */
	/* sqlite3_exec's virtual address in its file and the file's loaded size: a call whose
	 * return address is inside the library is SQLite's own (schema reads); 0: no filter. */
	__u32 lite_exec_vaddr;
	__u32 lite_image_size;
	__u32 pg_sock;		/* PGconn.sock, an int (PQsocket) */
	__u32 pg_db_name;	/* PGconn.dbName, a char * (PQdb) */
	__u32 pg_ssl;		/* PGconn.ssl, the SSL * (PQgetssl) */
};

/*
 * One event. `handle` is what pairs events: the PGconn* (SEND, RESULT), the MYSQL* or
 * MYSQL_STMT* (CALL, SEND, RESULT), the sqlite3_stmt* (STMT_END) or the sqlite3* (CALL of
 * sqlite3_exec). Only the first text_len bytes of text[] are sent.
 */
struct sql_event {
	__u32 kind;	/* enum sql_event_kind */
	__u32 tgid;
	__u32 tid;
	__u8 lib;	/* enum sql_lib */
	__u8 op;	/* enum sql_op */
	__u8 truncated; /* text[] holds only the start of the statement */
	__u8 has_result; /* RESULT: 0 when PQgetResult returned NULL (the statement is done) */
	__u64 start_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC; the call's entry */
	__u64 end_ns;	/* the call's return (CALL, RESULT, STMT_RC), else the event's time */
	__u64 handle;
	__s64 rc;	/* return value: ExecStatusType of a PGresult, MySQL's 0/nonzero, SQLite's code */
	__u32 code;	/* vendor error number (MySQL errno), 0 when none */
	__u32 text_len; /* bytes in text[] */
	char sqlstate[8];		  /* NUL-terminated, "" when none */
	char detail[SQL_DETAIL_BYTES];	  /* PG command status or error message, MySQL error */
	char name[SQL_NAME_BYTES];	  /* libpq statement name; MySQL server version */
	/* libpq SEND: the connection's database and its socket's peer (family 0: unknown). */
	char db[SQL_NAME_BYTES];
	__u64 sock;	  /* the socket's struct sock *, as the capture keys its connection; 0: none */
	__u64 ssl;	  /* the connection's SSL *, the capture's key of its TLS plaintext; 0: none */
	__u16 family;	  /* AF_INET, AF_INET6, AF_UNIX… of the socket */
	__u16 peer_port;  /* host order */
	__u8 peer_addr[16]; /* IPv4 in the first 4 bytes */
	char text[SQL_TEXT_BYTES];
};

#endif /* UPSPAN_SQLLIB_H */
