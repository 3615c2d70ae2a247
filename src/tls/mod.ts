/**
 * TLS plaintext capture: OpenSSL's SSL_read/SSL_write, decoded into stream chunks.
 *
 * @module
 */
export {
  locateOpenSSL,
  OPENSSL_PROBES,
  type OpenSSLLocation,
  type ProbeSite,
  type ProbeSpec,
  SOCKET_TRACEPOINTS,
} from "./openssl.ts";
export { tlsDecoder, type TlsEvent } from "./events.ts";
