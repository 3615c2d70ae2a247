/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events of the TLS plaintext capture (OpenSSL SSL_read/SSL_write). This header is the one
 * definition of their layout: user space reads it from the object's BTF, by field name.
 * Fixed-width types only, no BPF includes.
 */
#ifndef UPSPAN_TLS_H
#define UPSPAN_TLS_H

/* Bytes per data event; a call that moved more is split into up to TLS_MAX_CHUNKS events. */
#define TLS_CHUNK 16384
#define TLS_MAX_CHUNKS 4

enum tls_event_kind {
	TLS_EVENT_DATA = 1,
	TLS_EVENT_SOCKET = 2,
};

enum tls_direction {
	TLS_INGRESS = 0, /* the process read these bytes (SSL_read) */
	TLS_EGRESS = 1,	 /* the process wrote these bytes (SSL_write) */
};

/* Indexes into the per-CPU `stats` array. */
enum tls_stat {
	TLS_STAT_WRITE_HITS,
	TLS_STAT_READ_ENTRY_HITS,
	TLS_STAT_READ_RETURN_HITS,
	TLS_STAT_EVENTS,
	TLS_STAT_DROPS,
	TLS_STAT_SOCKETS,
	TLS_STAT_MAX,
};

/*
 * Plaintext of one chunk of one SSL call. The direction's stream offset of data[0] is
 * call_pos + chunk_off; the call moved call_len bytes in all, so a call_len beyond what the
 * chunks carry is a known truncation, not a loss.
 */
struct tls_data_event {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u8 direction;
	__u8 last;	  /* 1 on the call's last chunk */
	__u16 _pad;
	__u64 ts_ns;	  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 conn;	  /* the SSL* */
	__u64 call_pos;	  /* stream offset where the call starts */
	__u32 call_len;	  /* bytes the call moved */
	__u32 chunk_off;  /* offset of data[0] within the call */
	__u32 data_len;	  /* bytes in data[] */
	__u32 _pad2;
	__u8 data[TLS_CHUNK];
};

/*
 * The socket under an SSL*, sent when a call on it reaches a socket syscall on a socket
 * other than the last one seen under that SSL* (the first, or a new connection that
 * reuses a freed SSL*'s address). Bytes of calls that began at or after call_ts belong
 * to this socket.
 */
struct tls_socket_event {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u64 ts_ns;
	__u64 call_ts;	  /* entry time of the SSL call that made the syscall */
	__u64 conn;
	__u64 sock;	  /* kernel struct sock address */
	__u16 family;	  /* AF_INET, AF_INET6, AF_UNIX, … */
	__u16 local_port; /* host byte order */
	__u16 peer_port;  /* host byte order */
	__u16 _pad;
	__u8 local_addr[16]; /* IPv4 in the first 4 bytes */
	__u8 peer_addr[16];
};

#endif /* UPSPAN_TLS_H */
