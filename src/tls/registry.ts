/**
 * The TLS libraries upspan probes, first asked first: a process gets the first one found in
 * it. A new library is one line here.
 *
 * @module
 */
import type { TlsLibrary } from "./library.ts";
import { OPENSSL } from "./openssl.ts";
import { GO_TLS } from "./go_tls.ts";

export const TLS_LIBRARIES: readonly TlsLibrary[] = [OPENSSL, GO_TLS];
