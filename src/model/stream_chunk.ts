/**
 * What an instrumentation hands to the span stage: plaintext bytes of one connection in
 * one direction, with their position in that direction's byte stream, and what is known
 * about the socket underneath.
 *
 * @module
 */

/** `ingress`: bytes the traced process read; `egress`: bytes it wrote. */
export type Direction = "ingress" | "egress";

/** A piece of one direction of one connection's plaintext. */
export interface StreamChunk {
  /** Host pid (tgid) of the process. */
  pid: number;
  /** Thread id that made the call. */
  tid: number;
  /** Connection key, unique per process while the connection lives (e.g. the SSL* address). */
  conn: string;
  /** True for plaintext decrypted from TLS, false for bytes of a plain socket. */
  secure: boolean;
  direction: Direction;
  /**
   * Offset of `data[0]` in this direction's stream. Offsets go on counting when a new
   * connection reuses the key (a new {@link SocketInfo} says so); 0 again means the
   * producer started the key afresh.
   */
  pos: number;
  /**
   * Captured bytes (may be fewer than the call moved). From the capture they are a view
   * into the ring buffer, valid only while the chunk is being handled: copy what is kept.
   */
  data: Uint8Array;
  /**
   * Stream offset where the call that carried these bytes ends. When it is beyond
   * `pos + data.length` on the call's last chunk, the bytes in between were moved by the
   * target but not captured (a known gap, not a loss).
   */
  callEnd: number;
  /** True on the last chunk of a call. */
  last: boolean;
  /** Kernel monotonic time of the call, nanoseconds. */
  monoNs: bigint;
}

/**
 * The socket under a connection key, sent when it is first seen and again when the key
 * turns up on another socket (a new connection reusing a freed key).
 */
export interface SocketInfo {
  pid: number;
  conn: string;
  /** Identity of the kernel socket: differs between connections that share a key. */
  socket: string;
  fd: number;
  /** "ipv4" | "ipv6" | "unix" | "other" */
  family: "ipv4" | "ipv6" | "unix" | "other";
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
  /** Kernel monotonic time at which the socket was seen, nanoseconds. */
  monoNs: bigint;
  /**
   * Start of the call during which it was seen: bytes of calls that began at or after
   * this time belong to this socket, earlier ones to the key's previous connection.
   */
  callMonoNs: bigint;
}
