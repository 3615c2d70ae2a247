/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Part of capture.bpf.c, included there only: exec and exit of processes. */

static __always_inline void send_process(__u32 kind, __u32 tgid)
{
	struct process_event e = { .kind = kind, .tgid = tgid, .ts_ns = bpf_ktime_get_ns() };
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (bpf_ringbuf_output(&events, &e, sizeof(e), wakeup_flags()) < 0)
		count(STAT_DROPS);
}

/* Any process's exec, when user space watches for new processes: it decides whom to trace. */
SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (watch_exec || traced(tgid))
		send_process(EVENT_EXEC, tgid);
	return 0;
}

/* A traced process's last thread ended: stop capturing for it (its pid may be reused). */
SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if ((__u32)id != tgid || !traced(tgid))
		return 0;
	bpf_map_delete_elem(&traced_tgids, &tgid);
	send_process(EVENT_EXIT, tgid);
	return 0;
}
