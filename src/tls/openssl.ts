/**
 * OpenSSL (and the libraries that keep its API: BoringSSL, LibreSSL) as a TLS library table:
 * a mapped `libssl.so.*`, or an executable that links it statically and exports `SSL_read`
 * (Node.js does). Its programs are in `bpf/uprobes/capture/openssl.h`.
 *
 * @module
 */
import type { ProcessInfo } from "../discovery/mod.ts";
import type { TlsLibrary } from "./library.ts";

const LIBSSL = /(^|\/)libssl\.so(\.[0-9.]+)?$/;

/**
 * Writes are captured at entry, where the buffer already holds the plaintext and before the
 * peer can answer; their return says how much was written, and bytes given but not written
 * (a write made before the handshake completed, or on a full socket, is made again) are not
 * sent twice. Reads at entry (arguments kept per thread) and at return, when the buffer has
 * been filled. Two hits per call. SSL_free ends what was known of the SSL*: the next
 * connection may get the same address. The `_ex` calls came in 1.1.1. Where a plain call and
 * its `_ex` twin reach one internal function that starts with an instruction the kernel
 * emulates (OpenSSL 3 as Debian builds it), that function is probed instead of both, with the
 * `_ex` programs: a hit there costs a seventh of one on their `sub rsp` entries.
 */
export const OPENSSL: TlsLibrary = {
  name: "OpenSSL",
  symbols: "elf",
  probes: [
    { symbol: "SSL_write", program: "ssl_write" },
    { symbol: "SSL_write", program: "ssl_write_return", at: "return" },
    { symbol: "SSL_write_ex", program: "ssl_write_ex", optional: true },
    { symbol: "SSL_write_ex", program: "ssl_write_return", at: "return", optional: true },
    { symbol: "SSL_read", program: "ssl_read" },
    { symbol: "SSL_read", program: "ssl_read_return", at: "return" },
    { symbol: "SSL_read_ex", program: "ssl_read_ex", optional: true },
    { symbol: "SSL_read_ex", program: "ssl_read_return", at: "return", optional: true },
    { symbol: "SSL_free", program: "ssl_free" },
  ],
  inner: [{ plain: "SSL_read", ex: "SSL_read_ex" }, { plain: "SSL_write", ex: "SSL_write_ex" }],
  files: (proc: ProcessInfo) => [
    ...proc.files.filter((f) => LIBSSL.test(f.path)),
    ...proc.files.filter((f) => f.path === proc.exe),
  ],
  loadedLate: true,
  absent(proc, problems) {
    const detail = problems.length ? ` (${problems.join("; ")})` : "";
    return `does not use OpenSSL: no libssl is mapped and ${proc.exe} does not export SSL_read${detail}`;
  },
};
