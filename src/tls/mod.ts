/**
 * TLS plaintext capture: where OpenSSL's SSL_read/SSL_write and Go's crypto/tls Read/Write are,
 * and which programs probe them.
 *
 * @module
 */
export {
  locateOpenSSL,
  OPENSSL_PROBES,
  type OpenSSLLocation,
  type ProbeSite,
  type ProbeSpec,
} from "./openssl.ts";
export { locateGoTls } from "./go_tls.ts";
