// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SQL client libraries, probed at their public functions: one span per statement from
 * libpq, the MariaDB/MySQL client library and SQLite, whatever the transport (a Unix
 * socket, TLS, or none at all for SQLite).
 *
 * - libpq, in one of two modes per process:
 *   - asynchronous, where every process starts: the four PQsend* calls at entry (text,
 *     statement name) and PQgetResult at entry and return (the PGresult's status, command
 *     tag, SQLSTATE): 1 + 2 × (results + 1) hits per statement, and two events (the send,
 *     and the NULL that ends it with the last command tag; an error result adds one). A PQexec* is seen through
 *     the same calls, which it makes through libpq's own PLT (2 hits more for its first,
 *     draining PQgetResult). The application's PLT stubs of PQexec* are probed too
 *     (pq_app_exec): PQEXEC_RUN of them in a row, with no PQsend* of the application's
 *     own between, and user space turns the process synchronous.
 *   - synchronous: PQexec, PQexecParams, PQprepare and PQexecPrepared at entry and return,
 *     two hits per statement, nothing else of libpq. The application's PLT stubs of the
 *     PQsend* calls are probed instead (pq_app_send): libpq's calls never pass there, the
 *     application's first asynchronous one does, and turns the process back asynchronous
 *     for good; the statements it sends until user space has attached the asynchronous
 *     probes again are not traced.
 * - MySQL: mysql_real_query, mysql_stmt_prepare, mysql_stmt_execute and
 *   mysql_read_query_result at entry and return (errno, SQLSTATE and message on failure);
 *   mysql_send_query at entry. Two hits per call.
 * - SQLite: nothing per row. sqlite3_prepare_v2/v3 (entry and return) give a statement's
 *   start; sqlite3_reset and sqlite3_finalize (entry and return) end an execution when the
 *   statement's VM ran (Vdbe.eVdbeState), with its text read from Vdbe.zSql and its result
 *   code from the return value. sqlite3_exec at entry and return, as it finalizes through
 *   an internal function. Four hits per statement, whatever the number of rows.
 *
 * Member offsets come per process from user space (sqllib_procs), which reads them from
 * the libraries' own accessor functions. Probes are attached per process or per file;
 * sqllib_procs says whose calls count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "sqllib.h"
#include "socket_of.h"
#include "entry_ip.h"

/* key: tgid; value: member offsets of its libraries. Absent: not traced. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sqllib_proc);
} sqllib_procs SEC(".maps");

/* key: tgid; present: the process's libpq calls are probed in the synchronous mode. Set by
 * user space, deleted by pq_app_send. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} pq_sync SEC(".maps");

/* key: tgid; value: the application's PQexec* calls in a row, none of its PQsend* between
 * (asynchronous mode). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} pq_execs SEC(".maps");

/* key: pid_tgid; present: the thread is in a PQexec* of the application's, whose own
 * PQsend* is still to come (asynchronous mode). LRU: that PQsend* may never come. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} pq_in_exec SEC(".maps");

/* A process's socket (pq_conns) or PGconn * (pq_tags). */
struct pq_conn_key {
	__u32 tgid;
	__u32 _pad;
	__u64 sk;
};

/* key: (tgid, struct sock *); present: a synchronous call on that socket was announced
 * (SQL_EVENT_PQ_CONN). LRU: sockets close unseen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pq_conn_key);
	__type(value, __u8);
} pq_conns SEC(".maps");

/* key: (tgid, PGconn *) as pq_conn_key; value: the command tag of the last successful
 * PGresult of the statement being read, sent with the NULL that ends it: one RESULT event
 * per statement (and one per error) rather than one per PGresult. LRU: a statement may
 * never be read to its end. */
struct pq_tag {
	char detail[SQL_DETAIL_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pq_conn_key);
	__type(value, struct pq_tag);
} pq_tags SEC(".maps");

/* PQexec* calls in a row that make a process synchronous. */
#define PQEXEC_RUN 16

/* Call flags. */
#define CALL_BOOL_RET 1 /* the function returns a one-byte my_bool */
#define CALL_RAN 2	/* SQLite: the statement's VM had run (an execution ends here) */
#define CALL_FINALIZE 4 /* SQLite: sqlite3_finalize, the statement is gone after it */

/* A library call in progress on a thread: its arguments, for its return. */
struct sql_call {
	__u64 ts;     /* entry time */
	__u64 handle; /* first argument */
	__u64 arg;    /* text pointer, or SQLite's sqlite3_stmt ** */
	__u64 len;    /* text length (MySQL), or 0 for a NUL-terminated text */
	__u64 text;   /* SQLite prepare: the statement text */
	__u64 name;   /* libpq PQprepare, PQexecPrepared: the statement name */
	__u64 sp;     /* stack pointer at entry: the return's is 8 more (pairs nested calls) */
	__u8 lib;
	__u8 op;
	__u8 flags;
};

/* key: pid_tgid; value: the thread's call in progress. Entry → return; LRU as a thread
 * may die inside a call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sql_call);
} sql_calls SEC(".maps");

/* key: pid_tgid; value: the thread's sqlite3_exec in progress (its prepares are inside). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct sql_call);
} lite_execs SEC(".maps");

struct lite_key {
	__u32 tgid;
	__u32 _pad;
	__u64 stmt;
};

/* key: (tgid, sqlite3_stmt*); value: when its next execution began (prepare or reset).
 * Deleted at finalize; LRU for statements of processes that died. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lite_key);
	__type(value, __u64);
} lite_stmts SEC(".maps");

/* 4 MiB: ~16,000 statements of backlog between the reader's polls (events are ~250 bytes
 * plus the text); the agent maps it twice, so 8 MiB of its memory. */
#define SQL_EVENTS_BYTES (4 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SQL_EVENTS_BYTES);
} sql_events SEC(".maps");

/* Event assembly space: an event is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sql_event);
} sql_scratch SEC(".maps");

/* key: enum sqllib_stat; value: its per-CPU count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SQLLIB_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sqllib_stats SEC(".maps");

/* Keep the enums in the object's BTF: user space reads their values there. */
const enum sql_event_kind *_sql_event_kind __attribute__((unused));
const enum sql_lib *_sql_lib __attribute__((unused));
const enum sql_op *_sql_op __attribute__((unused));
const enum sqllib_stat *_sqllib_stat __attribute__((unused));

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&sqllib_stats, &stat);
	if (v)
		*v += 1;
}

/* The traced process's offsets, counting the hit; NULL when it is not traced. */
static __always_inline struct sqllib_proc *traced(__u32 stat)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sqllib_proc *p = bpf_map_lookup_elem(&sqllib_procs, &tgid);
	if (p)
		count(stat);
	return p;
}

/* A zeroed-enough event header in the per-CPU scratch space. */
static __always_inline struct sql_event *new_event(__u32 kind, __u8 lib, __u8 op, __u64 handle)
{
	__u32 zero = 0;
	struct sql_event *e = bpf_map_lookup_elem(&sql_scratch, &zero);
	if (!e)
		return NULL;
	__u64 id = bpf_get_current_pid_tgid();
	e->kind = kind;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->lib = lib;
	e->op = op;
	e->truncated = 0;
	e->has_result = 0;
	e->start_ns = 0;
	e->end_ns = bpf_ktime_get_ns();
	e->handle = handle;
	e->rc = 0;
	e->code = 0;
	e->text_len = 0;
	e->sqlstate[0] = 0;
	e->detail[0] = 0;
	e->name[0] = 0;
	e->db[0] = 0;
	e->family = 0;
	e->peer_port = 0;
	e->sock = 0;
	e->ssl = 0;
	return e;
}

/* Copies a NUL-terminated text into text[]. */
static __always_inline void text_str(struct sql_event *e, __u64 ptr)
{
	long n = ptr ? bpf_probe_read_user_str(e->text, SQL_TEXT_BYTES, (void *)ptr) : 0;
	if (n <= 0) {
		e->text_len = 0;
		return;
	}
	e->text_len = n - 1;
	e->truncated = n >= SQL_TEXT_BYTES;
}

/* Copies a text of known length into text[]. */
static __always_inline void text_len(struct sql_event *e, __u64 ptr, __u64 len)
{
	__u64 n = len;
	if (n > SQL_TEXT_BYTES) {
		n = SQL_TEXT_BYTES;
		e->truncated = 1;
	}
	/* Keep n's bound in the register the verifier checks. */
	asm volatile("%0 &= 0x1fff" : "+r"(n));
	if (n > SQL_TEXT_BYTES)
		return;
	if (n > 0 && bpf_probe_read_user(e->text, n, (void *)ptr) < 0)
		n = 0;
	e->text_len = n;
}

static __always_inline void submit(struct sql_event *e)
{
	__u64 n = e->text_len;
	asm volatile("%0 &= 0x1fff" : "+r"(n));
	if (n > SQL_TEXT_BYTES)
		return;
	/* The agent polls on a timer; a wake-up per statement would cost the target more. */
	__u64 flags = bpf_ringbuf_query(&sql_events, BPF_RB_AVAIL_DATA) > SQL_EVENTS_BYTES / 4
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&sql_events, e, offsetof(struct sql_event, text) + n, flags) < 0)
		count(SQLLIB_STAT_DROPS);
	else
		count(SQLLIB_STAT_EVENTS);
}

static __always_inline void save_call(struct pt_regs *ctx, __u64 handle, __u64 arg, __u64 len, __u8 lib, __u8 op,
				      __u8 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call c = {
		.ts = bpf_ktime_get_ns(),
		.sp = PT_REGS_SP(ctx),
		.handle = handle,
		.arg = arg,
		.len = len,
		.lib = lib,
		.op = op,
		.flags = flags,
	};
	bpf_map_update_elem(&sql_calls, &id, &c, BPF_ANY);
}

/* True when this return is that of the call `c` recorded (not of a call nested in it). */
static __always_inline bool returning(struct pt_regs *ctx, struct sql_call *c)
{
	return c && PT_REGS_SP(ctx) == c->sp + 8;
}

/* ---- libpq ---- */

/* The connection's database (PQdb) and its socket's peer, read where PQsocket and PQdb do. */
static __always_inline void pq_server(struct sql_event *e, struct sqllib_proc *p, __u64 conn)
{
	__u64 db = 0;
	if (p->pg_db_name != SQL_OFFSET_ABSENT &&
	    bpf_probe_read_user(&db, sizeof(db), (void *)(conn + p->pg_db_name)) == 0 && db &&
	    bpf_probe_read_user_str(e->db, SQL_NAME_BYTES, (void *)db) < 0)
		e->db[0] = 0;
	if (p->pg_ssl != SQL_OFFSET_ABSENT)
		bpf_probe_read_user(&e->ssl, sizeof(e->ssl), (void *)(conn + p->pg_ssl));
	__s32 fd = -1;
	if (p->pg_sock == SQL_OFFSET_ABSENT ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(conn + p->pg_sock)) < 0)
		return;
	struct sock *sk = socket_of(fd);
	if (!sk)
		return;
	e->sock = (__u64)sk;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(e->peer_addr, 0, sizeof(e->peer_addr));
	if (e->family == AF_INET)
		BPF_CORE_READ_INTO((__be32 *)e->peer_addr, sk, __sk_common.skc_daddr);
	else if (e->family == AF_INET6)
		BPF_CORE_READ_INTO((struct in6_addr *)e->peer_addr, sk, __sk_common.skc_v6_daddr);
}

/* The traced process's offsets if its libpq calls are probed in the asynchronous mode. */
static __always_inline struct sqllib_proc *pq_traced_async(void)
{
	struct sqllib_proc *p = traced(SQLLIB_STAT_PQ_HITS);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return p && !bpf_map_lookup_elem(&pq_sync, &tgid) ? p : NULL;
}

static __always_inline int pq_send(__u64 conn, __u64 name, __u64 text, __u8 op)
{
	struct sqllib_proc *p = pq_traced_async();
	if (!p)
		return 0;
	/* PQexec's own PQsend*, or the application's: that one breaks a run of PQexec*. */
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (bpf_map_delete_elem(&pq_in_exec, &id) != 0)
		bpf_map_delete_elem(&pq_execs, &tgid);
	struct sql_event *e = new_event(SQL_EVENT_SEND, SQL_LIB_LIBPQ, op, conn);
	if (!e)
		return 0;
	e->start_ns = e->end_ns;
	pq_server(e, p, conn);
	if (name && bpf_probe_read_user_str(e->name, SQL_NAME_BYTES, (void *)name) < 0)
		e->name[0] = 0;
	text_str(e, text);
	submit(e);
	return 0;
}

/* PQsendQuery(conn, query) and PQsendQueryParams(conn, command, …). */
SEC("uprobe")
int BPF_KPROBE(pq_send_query, void *conn, const char *query)
{
	return pq_send((__u64)conn, 0, (__u64)query, SQL_OP_QUERY);
}

/* PQsendPrepare(conn, stmtName, query, …). */
SEC("uprobe")
int BPF_KPROBE(pq_send_prepare, void *conn, const char *name, const char *query)
{
	return pq_send((__u64)conn, (__u64)name, (__u64)query, SQL_OP_PREPARE);
}

/* PQsendQueryPrepared(conn, stmtName, …). */
SEC("uprobe")
int BPF_KPROBE(pq_send_query_prepared, void *conn, const char *name)
{
	return pq_send((__u64)conn, (__u64)name, 0, SQL_OP_EXECUTE);
}

SEC("uprobe")
int BPF_KPROBE(pq_get_result, void *conn)
{
	if (pq_traced_async())
		save_call(ctx, (__u64)conn, 0, 0, SQL_LIB_LIBPQ, SQL_OP_RESULT, 0);
	return 0;
}

/* The application's PLT stub of a PQexec* call (asynchronous mode). */
SEC("uprobe")
int BPF_KPROBE(pq_app_exec)
{
	if (!pq_traced_async())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, one = 1;
	__u8 yes = 1;
	bpf_map_update_elem(&pq_in_exec, &id, &yes, BPF_ANY);
	__u32 *run = bpf_map_lookup_elem(&pq_execs, &tgid);
	if (!run) {
		bpf_map_update_elem(&pq_execs, &tgid, &one, BPF_ANY);
		return 0;
	}
	if (++*run != PQEXEC_RUN)
		return 0;
	struct sql_event *e = new_event(SQL_EVENT_PQ_SYNC, SQL_LIB_LIBPQ, SQL_OP_QUERY, 0);
	if (e)
		submit(e);
	return 0;
}

/* The application's PLT stub of a PQsend* call (synchronous mode): asynchronous again. */
SEC("uprobe")
int BPF_KPROBE(pq_app_send, void *conn)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!traced(SQLLIB_STAT_PQ_HITS) || bpf_map_delete_elem(&pq_sync, &tgid) != 0)
		return 0;
	struct sql_event *e = new_event(SQL_EVENT_PQ_ASYNC, SQL_LIB_LIBPQ, SQL_OP_QUERY, (__u64)conn);
	if (e)
		submit(e);
	return 0;
}

/* Reads the SQLSTATE ('C') and primary message ('M') from a result's error fields. */
static __always_inline void pq_error_fields(struct sql_event *e, struct sqllib_proc *p,
					    __u64 res)
{
	__u64 field = 0;
	if (p->pg_err_fields == SQL_OFFSET_ABSENT ||
	    bpf_probe_read_user(&field, sizeof(field), (void *)(res + p->pg_err_fields)) < 0)
		return;
	for (int i = 0; i < PG_MAX_ERROR_FIELDS && field; i++) {
		char code = 0;
		bpf_probe_read_user(&code, 1, (void *)(field + p->pg_field_code));
		if (code == 'C')
			bpf_probe_read_user_str(e->sqlstate, sizeof(e->sqlstate),
						(void *)(field + p->pg_field_text));
		else if (code == 'M')
			bpf_probe_read_user_str(e->detail, SQL_DETAIL_BYTES,
						(void *)(field + p->pg_field_text));
		if (bpf_probe_read_user(&field, sizeof(field), (void *)(field + p->pg_field_next)) < 0)
			break;
	}
}

/* ExecStatusType values that carry an error (libpq-fe.h). */
#define PGRES_BAD_RESPONSE 5
#define PGRES_FATAL_ERROR 7
#define PGRES_PIPELINE_ABORTED 11

/* A PGresult's status, and its command tag or its error's SQLSTATE and message. */
static __always_inline void pq_result(struct sql_event *e, struct sqllib_proc *p, __u64 res)
{
	e->rc = -1;
	if (!res)
		return;
	__s32 status = -1;
	e->has_result = 1;
	if (p->pg_result_status != SQL_OFFSET_ABSENT)
		bpf_probe_read_user(&status, sizeof(status), (void *)(res + p->pg_result_status));
	e->rc = status;
	if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
	    status == PGRES_PIPELINE_ABORTED)
		pq_error_fields(e, p, res);
	else if (p->pg_cmd_status != SQL_OFFSET_ABSENT)
		bpf_probe_read_user_str(e->detail, SQL_DETAIL_BYTES, (void *)(res + p->pg_cmd_status));
}

SEC("uretprobe")
int BPF_KRETPROBE(pq_get_result_ret, void *result)
{
	struct sqllib_proc *p = traced(SQLLIB_STAT_PQ_HITS);
	if (!p)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (!returning(ctx, c) || c->lib != SQL_LIB_LIBPQ || c->op != SQL_OP_RESULT)
		return 0;
	__u64 conn = c->handle, ts = c->ts, res = (__u64)result;
	bpf_map_delete_elem(&sql_calls, &id);
	struct pq_conn_key key = { .tgid = id >> 32, .sk = conn };
	__s32 status = -1;
	if (res && p->pg_result_status != SQL_OFFSET_ABSENT)
		bpf_probe_read_user(&status, sizeof(status), (void *)(res + p->pg_result_status));
	if (res && status != PGRES_FATAL_ERROR && status != PGRES_BAD_RESPONSE &&
	    status != PGRES_PIPELINE_ABORTED) {
		/* A success: its tag is kept for the NULL (a row of single-row mode, too). */
		if (p->pg_cmd_status == SQL_OFFSET_ABSENT)
			return 0;
		struct pq_tag *tag = bpf_map_lookup_elem(&pq_tags, &key);
		if (!tag) {
			struct pq_tag empty = {};
			bpf_map_update_elem(&pq_tags, &key, &empty, BPF_ANY);
			tag = bpf_map_lookup_elem(&pq_tags, &key);
		}
		if (tag && bpf_probe_read_user_str(tag->detail, SQL_DETAIL_BYTES,
						   (void *)(res + p->pg_cmd_status)) < 0)
			tag->detail[0] = 0;
		return 0;
	}
	struct sql_event *e = new_event(SQL_EVENT_RESULT, SQL_LIB_LIBPQ, SQL_OP_RESULT, conn);
	if (!e)
		return 0;
	e->start_ns = ts;
	pq_result(e, p, res);
	if (!res) {
		struct pq_tag *tag = bpf_map_lookup_elem(&pq_tags, &key);
		if (tag) {
			__builtin_memcpy(e->detail, tag->detail, SQL_DETAIL_BYTES);
			bpf_map_delete_elem(&pq_tags, &key);
		}
	}
	submit(e);
	return 0;
}

/* The entry of a synchronous call, in a process in the synchronous mode. */
static __always_inline int pq_exec(struct pt_regs *ctx, __u64 conn, __u64 name, __u64 text, __u8 op)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sqllib_proc *p = traced(SQLLIB_STAT_PQ_HITS);
	if (!p || !bpf_map_lookup_elem(&pq_sync, &tgid))
		return 0;
	save_call(ctx, conn, text, 0, SQL_LIB_LIBPQ, op, 0);
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (c)
		c->name = name;
	/* A connection's first call here: announced before its bytes move, as a SEND is. */
	__s32 fd = -1;
	if (p->pg_sock == SQL_OFFSET_ABSENT ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(conn + p->pg_sock)) < 0)
		return 0;
	struct pq_conn_key key = { .tgid = tgid, .sk = (__u64)socket_of(fd) };
	if (!key.sk || bpf_map_lookup_elem(&pq_conns, &key))
		return 0;
	__u8 yes = 1;
	bpf_map_update_elem(&pq_conns, &key, &yes, BPF_ANY);
	struct sql_event *e = new_event(SQL_EVENT_PQ_CONN, SQL_LIB_LIBPQ, op, conn);
	if (!e)
		return 0;
	pq_server(e, p, conn);
	submit(e);
	return 0;
}

/* PQexec(conn, query) and PQexecParams(conn, command, …). */
SEC("uprobe")
int BPF_KPROBE(pq_exec_query, void *conn, const char *query)
{
	return pq_exec(ctx, (__u64)conn, 0, (__u64)query, SQL_OP_QUERY);
}

/* PQprepare(conn, stmtName, query, …). */
SEC("uprobe")
int BPF_KPROBE(pq_exec_prepare, void *conn, const char *name, const char *query)
{
	return pq_exec(ctx, (__u64)conn, (__u64)name, (__u64)query, SQL_OP_PREPARE);
}

/* PQexecPrepared(conn, stmtName, …). */
SEC("uprobe")
int BPF_KPROBE(pq_exec_prepared, void *conn, const char *name)
{
	return pq_exec(ctx, (__u64)conn, (__u64)name, 0, SQL_OP_EXECUTE);
}

/* The return of PQexec*: the whole statement, its last PGresult (NULL: not sent or lost). */
SEC("uretprobe")
int BPF_KRETPROBE(pq_exec_ret, void *result)
{
	struct sqllib_proc *p = traced(SQLLIB_STAT_PQ_HITS);
	if (!p)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (!returning(ctx, c) || c->lib != SQL_LIB_LIBPQ || c->op == SQL_OP_RESULT)
		return 0;
	struct sql_call call = *c;
	bpf_map_delete_elem(&sql_calls, &id);
	struct sql_event *e = new_event(SQL_EVENT_CALL, SQL_LIB_LIBPQ, call.op, call.handle);
	if (!e)
		return 0;
	e->start_ns = call.ts;
	pq_server(e, p, call.handle);
	if (call.name && bpf_probe_read_user_str(e->name, SQL_NAME_BYTES, (void *)call.name) < 0)
		e->name[0] = 0;
	pq_result(e, p, (__u64)result);
	text_str(e, call.arg);
	submit(e);
	return 0;
}

/* ---- MySQL / MariaDB client ---- */

/* mysql_real_query(mysql, query, length). */
SEC("uprobe")
int BPF_KPROBE(my_real_query, void *mysql, const char *query, __u64 length)
{
	if (traced(SQLLIB_STAT_MYSQL_HITS))
		save_call(ctx, (__u64)mysql, (__u64)query, length, SQL_LIB_MYSQL, SQL_OP_QUERY, 0);
	return 0;
}

/* mysql_stmt_prepare(stmt, query, length). */
SEC("uprobe")
int BPF_KPROBE(my_stmt_prepare, void *stmt, const char *query, __u64 length)
{
	if (traced(SQLLIB_STAT_MYSQL_HITS))
		save_call(ctx, (__u64)stmt, (__u64)query, length, SQL_LIB_MYSQL, SQL_OP_PREPARE, 0);
	return 0;
}

/* mysql_stmt_execute(stmt). */
SEC("uprobe")
int BPF_KPROBE(my_stmt_execute, void *stmt)
{
	if (traced(SQLLIB_STAT_MYSQL_HITS))
		save_call(ctx, (__u64)stmt, 0, 0, SQL_LIB_MYSQL, SQL_OP_EXECUTE, 0);
	return 0;
}

/* mysql_read_query_result(mysql): the end of a mysql_send_query. */
SEC("uprobe")
int BPF_KPROBE(my_read_result, void *mysql)
{
	if (traced(SQLLIB_STAT_MYSQL_HITS))
		save_call(ctx, (__u64)mysql, 0, 0, SQL_LIB_MYSQL, SQL_OP_RESULT, CALL_BOOL_RET);
	return 0;
}

/* mysql_send_query(mysql, query, length). */
SEC("uprobe")
int BPF_KPROBE(my_send_query, void *mysql, const char *query, __u64 length)
{
	if (!traced(SQLLIB_STAT_MYSQL_HITS))
		return 0;
	struct sql_event *e = new_event(SQL_EVENT_SEND, SQL_LIB_MYSQL, SQL_OP_QUERY, (__u64)mysql);
	if (!e)
		return 0;
	e->start_ns = e->end_ns;
	text_len(e, (__u64)query, length);
	submit(e);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(my_call_ret, long ret)
{
	struct sqllib_proc *p = traced(SQLLIB_STAT_MYSQL_HITS);
	if (!p)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (!returning(ctx, c) || c->lib != SQL_LIB_MYSQL)
		return 0;
	struct sql_call call = *c;
	bpf_map_delete_elem(&sql_calls, &id);
	__u32 kind = call.op == SQL_OP_RESULT ? SQL_EVENT_RESULT : SQL_EVENT_CALL;
	struct sql_event *e = new_event(kind, SQL_LIB_MYSQL, call.op, call.handle);
	if (!e)
		return 0;
	e->start_ns = call.ts;
	e->has_result = 1;
	e->rc = call.flags & CALL_BOOL_RET ? (__u8)ret : (__s32)ret;
	if (e->rc != 0) {
		bool stmt = call.op == SQL_OP_PREPARE || call.op == SQL_OP_EXECUTE;
		__u32 errno_off = stmt ? p->my_stmt_errno : p->my_errno;
		__u32 error_off = stmt ? p->my_stmt_error : p->my_error;
		__u32 state_off = stmt ? p->my_stmt_sqlstate : p->my_sqlstate;
		if (errno_off != SQL_OFFSET_ABSENT)
			bpf_probe_read_user(&e->code, sizeof(e->code), (void *)(call.handle + errno_off));
		if (error_off != SQL_OFFSET_ABSENT)
			bpf_probe_read_user_str(e->detail, SQL_DETAIL_BYTES,
						(void *)(call.handle + error_off));
		if (state_off != SQL_OFFSET_ABSENT)
			bpf_probe_read_user_str(e->sqlstate, 6, (void *)(call.handle + state_off));
	}
	/* The server's version tells MariaDB from MySQL; a statement handle has no MYSQL*. */
	__u64 version = 0;
	if (call.op != SQL_OP_PREPARE && call.op != SQL_OP_EXECUTE &&
	    p->my_server_version != SQL_OFFSET_ABSENT &&
	    bpf_probe_read_user(&version, sizeof(version),
				(void *)(call.handle + p->my_server_version)) == 0 &&
	    version)
		bpf_probe_read_user_str(e->name, SQL_NAME_BYTES, (void *)version);
	if (call.arg)
		text_len(e, call.arg, call.len);
	submit(e);
	return 0;
}

/* ---- SQLite ---- */

static __always_inline int lite_prepare(struct pt_regs *ctx, __u64 db, __u64 sql, __u64 pp_stmt)
{
	if (!traced(SQLLIB_STAT_SQLITE_HITS))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	/* sqlite3_exec's own statements are its span's; their finalize is not probed. */
	if (bpf_map_lookup_elem(&lite_execs, &id))
		return 0;
	save_call(ctx, db, pp_stmt, 0, SQL_LIB_SQLITE, SQL_OP_PREPARE, 0);
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (c)
		c->text = sql;
	return 0;
}

/* sqlite3_prepare_v2(db, zSql, nByte, ppStmt, pzTail). */
SEC("uprobe")
int BPF_KPROBE(lite_prepare_v2, void *db, const char *sql, int n, void **pp_stmt)
{
	return lite_prepare(ctx, (__u64)db, (__u64)sql, (__u64)pp_stmt);
}

/* sqlite3_prepare_v3(db, zSql, nByte, prepFlags, ppStmt, pzTail). */
SEC("uprobe")
int BPF_KPROBE(lite_prepare_v3, void *db, const char *sql, int n, __u32 flags, void **pp_stmt)
{
	return lite_prepare(ctx, (__u64)db, (__u64)sql, (__u64)pp_stmt);
}

SEC("uretprobe")
int BPF_KRETPROBE(lite_prepare_ret, int rc)
{
	if (!traced(SQLLIB_STAT_SQLITE_HITS))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (!returning(ctx, c) || c->lib != SQL_LIB_SQLITE || c->op != SQL_OP_PREPARE)
		return 0;
	__u64 pp = c->arg, ts = c->ts, db = c->handle, sql = c->text;
	bpf_map_delete_elem(&sql_calls, &id);
	if (rc != 0) {
		/* A statement that does not compile never runs: report it here. */
		struct sql_event *e = new_event(SQL_EVENT_CALL, SQL_LIB_SQLITE, SQL_OP_PREPARE, db);
		if (!e)
			return 0;
		e->start_ns = ts;
		e->rc = rc;
		e->has_result = 1;
		text_str(e, sql);
		submit(e);
		return 0;
	}
	__u64 stmt = 0;
	if (!pp || bpf_probe_read_user(&stmt, sizeof(stmt), (void *)pp) < 0 || !stmt)
		return 0;
	struct lite_key key = { .tgid = id >> 32, .stmt = stmt };
	bpf_map_update_elem(&lite_stmts, &key, &ts, BPF_ANY);
	return 0;
}

/* The entry of sqlite3_reset or sqlite3_finalize: an execution ends if the VM ran. */
static __always_inline int lite_end(struct pt_regs *ctx, __u64 stmt, __u8 flags)
{
	struct sqllib_proc *p = traced(SQLLIB_STAT_SQLITE_HITS);
	if (!p || !stmt || p->lite_state == SQL_OFFSET_ABSENT)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	struct lite_key key = { .tgid = id >> 32, .stmt = stmt };
	__u8 state = 0;
	bpf_probe_read_user(&state, 1, (void *)(stmt + p->lite_state));
	if (state != p->lite_run_state && state != p->lite_run_state + 1) {
		/* Not run since its prepare or last reset: a reset here readies the next run. */
		if (!(flags & CALL_FINALIZE))
			bpf_map_update_elem(&lite_stmts, &key, &now, BPF_ANY);
		else
			bpf_map_delete_elem(&lite_stmts, &key);
		return 0;
	}
	struct sql_event *e = new_event(SQL_EVENT_STMT_END, SQL_LIB_SQLITE, SQL_OP_EXECUTE, stmt);
	if (!e)
		return 0;
	__u64 *start = bpf_map_lookup_elem(&lite_stmts, &key);
	e->start_ns = start ? *start : now;
	e->end_ns = now;
	__u64 sql = 0;
	if (p->lite_sql != SQL_OFFSET_ABSENT)
		bpf_probe_read_user(&sql, sizeof(sql), (void *)(stmt + p->lite_sql));
	text_str(e, sql);
	submit(e);
	save_call(ctx, stmt, 0, 0, SQL_LIB_SQLITE, SQL_OP_EXECUTE, flags | CALL_RAN);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(lite_reset, void *stmt)
{
	return lite_end(ctx, (__u64)stmt, 0);
}

SEC("uprobe")
int BPF_KPROBE(lite_finalize, void *stmt)
{
	return lite_end(ctx, (__u64)stmt, CALL_FINALIZE);
}

/* The return of sqlite3_reset or sqlite3_finalize: the ended execution's result code. */
SEC("uretprobe")
int BPF_KRETPROBE(lite_end_ret, int rc)
{
	if (!traced(SQLLIB_STAT_SQLITE_HITS))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &id);
	if (!returning(ctx, c) || c->lib != SQL_LIB_SQLITE || c->op != SQL_OP_EXECUTE)
		return 0;
	__u64 stmt = c->handle;
	__u8 flags = c->flags;
	bpf_map_delete_elem(&sql_calls, &id);
	struct lite_key key = { .tgid = id >> 32, .stmt = stmt };
	__u64 now = bpf_ktime_get_ns();
	if (flags & CALL_FINALIZE)
		bpf_map_delete_elem(&lite_stmts, &key);
	else /* the next run begins at its first step, which is not probed: now at the latest */
		bpf_map_update_elem(&lite_stmts, &key, &now, BPF_ANY);
	struct sql_event *e = new_event(SQL_EVENT_STMT_RC, SQL_LIB_SQLITE, SQL_OP_EXECUTE, stmt);
	if (!e)
		return 0;
	e->rc = rc;
	e->has_result = 1;
	submit(e);
	return 0;
}

/* sqlite3_exec(db, sql, callback, arg, errmsg). */
SEC("uprobe")
int BPF_KPROBE(lite_exec, void *db, const char *sql)
{
	struct sqllib_proc *p = traced(SQLLIB_STAT_SQLITE_HITS);
	if (!p)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	/* Nested in another sqlite3_exec: that one's span covers it. */
	if (bpf_map_lookup_elem(&lite_execs, &id))
		return 0;
	/* Inside a prepare: SQLite reading its schema, part of that statement. */
	struct sql_call *outer = bpf_map_lookup_elem(&sql_calls, &id);
	if (outer && outer->lib == SQL_LIB_SQLITE)
		return 0;
	/* Called from inside the library itself (a statement's step running DDL). */
	if (p->lite_image_size) {
		__u64 ret = 0, base = entry_ip(ctx) - p->lite_exec_vaddr;
		bpf_probe_read_user(&ret, sizeof(ret), (void *)PT_REGS_SP(ctx));
		if (ret + 16 >= base && ret < base + p->lite_image_size)
			return 0;
	}
	struct sql_call c = {
		.ts = bpf_ktime_get_ns(),
		.sp = PT_REGS_SP(ctx),
		.handle = (__u64)db,
		.arg = (__u64)sql,
		.lib = SQL_LIB_SQLITE,
		.op = SQL_OP_QUERY,
	};
	bpf_map_update_elem(&lite_execs, &id, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lite_exec_ret, int rc)
{
	if (!traced(SQLLIB_STAT_SQLITE_HITS))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&lite_execs, &id);
	if (!returning(ctx, c))
		return 0;
	struct sql_call call = *c;
	bpf_map_delete_elem(&lite_execs, &id);
	struct sql_event *e = new_event(SQL_EVENT_CALL, SQL_LIB_SQLITE, SQL_OP_QUERY, call.handle);
	if (!e)
		return 0;
	e->start_ns = call.ts;
	e->rc = rc;
	e->has_result = 1;
	text_str(e, call.arg);
	submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
