/**
 * TLS plaintext capture: where OpenSSL's SSL_read/SSL_write are and which programs probe them.
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
