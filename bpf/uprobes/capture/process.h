/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Part of capture.bpf.c, included there only: fork, exec and exit of processes, and dlopen. */

static __always_inline void send_process(__u32 kind, __u32 tgid, __u32 parent)
{
	struct process_event e = {
		.kind = kind,
		.tgid = tgid,
		.ts_ns = bpf_ktime_get_ns(),
		.parent = parent,
	};
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	/* A new program, a new process or a library load waits for probes, and a process may
	 * live only milliseconds: the reader is woken now, not at its next round. */
	__u64 flags = kind == EVENT_EXIT ? wakeup_flags() : BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, &e, sizeof(e), flags) < 0)
		count(STAT_DROPS);
}

/* Any process's exec, when user space watches for new processes: it decides whom to trace. */
SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (watch_exec || traced(tgid))
		send_process(EVENT_EXEC, tgid, 0);
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
	set_forked_bit(tgid, false);
	send_process(EVENT_EXIT, tgid, 0);
	return 0;
}

/*
 * A traced process forked (a pre-forking server's new worker, a forking server's handler):
 * the child runs the same program and is traced from its first instruction, before user
 * space hears of it. A new thread is not a new process.
 */
SEC("raw_tracepoint/sched_process_fork")
int sched_process_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)
		return 0;
	__u32 *flags = bpf_map_lookup_elem(&traced_tgids, &ptgid);
	if (!flags)
		return 0;
	__u32 f = *flags;
	if (bpf_map_update_elem(&traced_tgids, &ctgid, &f, BPF_NOEXIST) == 0) {
		set_forked_bit(ctgid, true);
		send_process(EVENT_FORK, ctgid, ptgid);
	}
	return 0;
}

/*
 * The dynamic loader's _dl_debug_state, which it calls for debuggers around every change to
 * a process's list of libraries (a dlopen: Python importing psycopg2 or ssl): user space
 * looks at once for newly mapped libraries to probe.
 */
SEC("uprobe")
int dl_debug_state(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (traced(tgid))
		send_process(EVENT_LOAD, tgid, 0);
	return 0;
}
