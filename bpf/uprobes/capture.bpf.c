// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The conversation capture: the bytes traced processes read and write on their
 * connections, numbered per direction so user space can reassemble them exactly.
 *
 * - TLS: OpenSSL SSL_write/SSL_write_ex and SSL_read/SSL_read_ex at entry and return (two
 *   hits per call; a write's bytes go at entry, its return says how many count). The
 *   socket under an SSL* is learnt from the first socket syscall made inside an SSL call on the same thread.
 * - Plain sockets: the read and write syscall families, at entry (arguments) and exit
 *   (bytes moved), on TCP sockets only, skipping ciphertext (syscalls inside an SSL call,
 *   or a connection that opens with a TLS record) and connections user space gave up on.
 *
 * Syscall tracepoints stand in for kprobes, which may be unavailable. Uprobes are attached
 * once per file, tracepoints once: the traced_tgids map says whose calls count. The parts,
 * one per concern, are in capture/ and share this one object's maps.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.h"
#include "capture/shared.h"
#include "capture/openssl.h"
#include "capture/go_tls.h"
#include "capture/sockets.h"
#include "capture/raw_syscalls.h"
#include "capture/sock_tracepoints.h"
#include "capture/process.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
