/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Part of capture.bpf.c, included there only: Go's crypto/tls Conn.Write and Conn.Read. */

/*
 * (*crypto/tls.Conn).Write(b []byte) and Read(b []byte), Go's register ABI: the receiver in
 * RAX, b's pointer and length in RBX and RCX, n in RAX at return. Plain uprobes only, never
 * uretprobes (Go moves stacks): Read is probed at entry and at each RET, paired by the
 * goroutine's g (R14), which stays the same for one call even if the goroutine moves to
 * another thread while it waits for data.
 */
struct go_read_key {
	__u32 tgid;
	__u32 _pad;
	__u64 g;
};

struct go_read {
	__u64 conn;
	__u64 buf;
};

/* key: (tgid, g); value: the Read in progress on that goroutine. Entry → RET. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_read_key);
	__type(value, struct go_read);
} go_reads SEC(".maps");

SEC("uprobe")
int go_tls_write(struct pt_regs *ctx)
{
	return on_write(ctx, ctx->ax, ctx->bx, (__s64)ctx->cx);
}

SEC("uprobe")
int go_tls_read(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_READ_ENTRY_HITS);
	if (!traced(id >> 32))
		return 0;
	struct go_read_key key = { .tgid = id >> 32, .g = ctx->r14 };
	struct go_read r = { .conn = ctx->ax, .buf = ctx->bx };
	bpf_map_update_elem(&go_reads, &key, &r, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_tls_read_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_READ_RETURN_HITS);
	struct go_read_key key = { .tgid = id >> 32, .g = ctx->r14 };
	struct go_read *r = bpf_map_lookup_elem(&go_reads, &key);
	if (!r)
		return 0;
	struct go_read c = *r;
	bpf_map_delete_elem(&go_reads, &key);
	__s64 n = (__s64)ctx->ax;
	struct conn_state *st = n > 0 ? conn_of(id >> 32, c.conn) : NULL;
	if (st)
		emit_tls(id, st, c.conn, DIR_INGRESS, c.buf, (__u32)n, bpf_ktime_get_ns());
	return 0;
}
