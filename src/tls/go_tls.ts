/**
 * Go's own TLS (`crypto/tls`) as a TLS library table: the plaintext of `(*Conn).Write` at
 * entry and of `(*Conn).Read` at entry and at each of its `RET`s (never a uretprobe on Go),
 * in the executable. Its programs are in `bpf/uprobes/capture/go_tls.h`.
 *
 * @module
 */
import type { TlsLibrary } from "./library.ts";

const WRITE = "crypto/tls.(*Conn).Write";
const READ = "crypto/tls.(*Conn).Read";

/** Go's crypto/tls. */
export const GO_TLS: TlsLibrary = {
  name: "Go's crypto/tls",
  symbols: "go",
  probes: [
    { symbol: WRITE, program: "go_tls_write" },
    { symbol: READ, program: "go_tls_read" },
    { symbol: READ, program: "go_tls_read_ret", at: "rets" },
  ],
  files: (proc) => proc.files.slice(0, 1),
};
