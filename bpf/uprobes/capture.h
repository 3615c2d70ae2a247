/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events of the conversation capture: plaintext of TLS connections (OpenSSL
 * SSL_read/SSL_write uprobes) and of plain sockets (read/write syscall tracepoints). This
 * header is the one definition of their layout: user space reads it from the object's BTF,
 * by field name. Fixed-width types only, no BPF includes.
 */
#ifndef UPSPAN_CAPTURE_H
#define UPSPAN_CAPTURE_H

/* Bytes per data event; a call that moved more is split into up to MAX_CHUNKS events. */
#define CHUNK_BYTES 16384
#define MAX_CHUNKS 4
/* Buffers of a readv/writev/recvmsg/sendmsg call that are looked at (gRPC writes dozens). */
#define MAX_IOVECS 64

enum event_kind {
	EVENT_DATA = 1,
	EVENT_SOCKET = 2,
	EVENT_CLOSE = 3, /* the process closed a plain socket or freed an SSL* (a socket_event) */
	EVENT_EXEC = 4,	 /* a process executed a new program (a process_event) */
	EVENT_EXIT = 5,	 /* a traced process ended (a process_event) */
	EVENT_FORK = 6,	 /* a traced process forked a new one, traced already (a process_event) */
	EVENT_LOAD = 7,	 /* a traced process's loader changed its libraries (a process_event) */
};

/* Where a connection's bytes come from, and so what `conn` is. */
enum event_source {
	SOURCE_TLS = 0,	   /* conn is the SSL* in the process */
	SOURCE_SOCKET = 1, /* conn is the kernel struct sock */
};

enum direction {
	DIR_INGRESS = 0, /* the process read these bytes */
	DIR_EGRESS = 1,	 /* the process wrote these bytes */
};

/* What user space tells the capture about each traced process (traced_tgids values). */
enum trace_flags {
	TRACE_TLS = 1,	   /* capture OpenSSL plaintext */
	TRACE_SOCKETS = 2, /* capture plain sockets */
};

/* Indexes into the per-CPU `stats` array. */
enum capture_stat {
	STAT_WRITE_HITS,
	STAT_READ_ENTRY_HITS,
	STAT_READ_RETURN_HITS,
	STAT_EVENTS,
	STAT_DROPS,
	STAT_SOCKETS,
	STAT_SYSCALLS,	    /* socket syscalls of traced processes that were looked at */
	STAT_IGNORED_BYTES, /* plain-socket bytes not shipped: ciphertext or unparsed protocols */
	STAT_MAX,
};

/*
 * Bytes of one chunk of one call. The direction's stream offset of data[0] is
 * call_pos + chunk_off; the call moved call_len bytes in all, so a call_len beyond what the
 * chunks carry is a known truncation, not a loss.
 */
struct data_event {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u8 direction;
	__u8 last;	  /* 1 on the call's last chunk */
	__u8 source;	  /* enum event_source */
	__u8 _pad;
	__u64 ts_ns;	  /* CLOCK_MONOTONIC: a read's return, a write's entry */
	__u64 conn;	  /* the SSL* or the struct sock, by source */
	__u64 call_pos;	  /* stream offset where the call starts */
	__u32 call_len;	  /* bytes the call moved */
	__u32 chunk_off;  /* offset of data[0] within the call */
	__u32 data_len;	  /* bytes in data[] */
	__u32 _pad2;
	__u8 data[CHUNK_BYTES];
};

/*
 * The socket under a connection. For TLS: sent when a call on an SSL* reaches a socket
 * syscall on a socket other than the last one seen under it (the first, or a new connection
 * that reuses a freed SSL*'s address); bytes of calls that began at or after call_ts belong
 * to this socket. For a plain socket: sent before its first bytes, and with kind
 * EVENT_CLOSE when the process closes it. With kind EVENT_CLOSE and source SOURCE_TLS: the
 * process freed the SSL* (SSL_free); sock is 0.
 */
struct socket_event {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u64 ts_ns;
	__u64 call_ts;	  /* entry time of the call that made the syscall */
	__u64 conn;
	__u64 sock;	  /* kernel struct sock address */
	__u16 family;	  /* AF_INET, AF_INET6, AF_UNIX, … */
	__u16 local_port; /* host byte order */
	__u16 peer_port;  /* host byte order */
	__u8 source;	  /* enum event_source */
	__u8 _pad;
	__u8 local_addr[16]; /* IPv4 in the first 4 bytes */
	__u8 peer_addr[16];
};

/* A process started a new program, or a traced process ended. */
struct process_event {
	__u32 kind;
	__u32 tgid;
	__u64 ts_ns;
	char comm[16];
	__u32 parent; /* EVENT_FORK: the process that forked */
	__u32 _pad;
};

#endif /* UPSPAN_CAPTURE_H */
