/**
 * TLS plaintext capture: the TLS libraries as tables (which files, which functions, which
 * programs of `capture.bpf.o`), the registry that lists them, and where they are in a
 * process.
 *
 * @module
 */
export type { ProbeSite, TlsLibrary, TlsProbe } from "./library.ts";
export { OPENSSL } from "./openssl.ts";
export { GO_TLS } from "./go_tls.ts";
export { TLS_LIBRARIES } from "./registry.ts";
export { librarySites } from "./sites.ts";
export { locateTls, type TlsLocation } from "./locate.ts";
