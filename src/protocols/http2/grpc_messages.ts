/**
 * Counts gRPC messages in one direction of one stream: DATA content is a sequence of
 * length-prefixed messages (a compressed-flag octet, a 4-octet big-endian length, the
 * message), per the gRPC over HTTP/2 protocol. Only the 5-octet prefixes are read; the
 * messages themselves are skipped, so any size costs nothing. A gap inside a message is
 * skipped with it; a gap that covers a prefix makes the count a lower bound (`exact` false).
 *
 * @module
 */

/**
 * One direction's message counter.
 *
 * @example
 * ```ts
 * import { GrpcMessages } from "./grpc_messages.ts";
 * const m = new GrpcMessages();
 * m.push(Uint8Array.of(0, 0, 0, 0, 2, 8, 1)); // one 2-byte message
 * m.count; // 1
 * ```
 */
export class GrpcMessages {
  /** Messages whose prefix was seen. */
  count = 0;
  /** False once a gap hid where a message began. */
  exact = true;
  /** Octets of the current message still to skip. */
  #skip = 0;
  /** Prefix octets collected so far (0-4) and the length they spell. */
  #prefixAt = 0;
  #length = 0;
  /** After a lost prefix, nothing more can be framed. */
  #lost = false;

  /** Whether the stream ended between messages (not inside a prefix or a message). */
  get atBoundary(): boolean {
    return !this.#lost && this.#skip === 0 && this.#prefixAt === 0;
  }

  /** DATA content, or the size of a stretch lost in a gap. */
  push(piece: Uint8Array | number): void {
    if (this.#lost) return;
    if (typeof piece === "number") {
      if (this.#prefixAt === 0 && piece <= this.#skip) this.#skip -= piece;
      else {
        this.#lost = true;
        this.exact = false;
      }
      return;
    }
    let at = 0;
    while (at < piece.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, piece.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      const b = piece[at++]!;
      if (this.#prefixAt === 0) { // the compressed flag
        this.#prefixAt = 1;
        this.#length = 0;
        continue;
      }
      this.#length = this.#length * 256 + b;
      if (++this.#prefixAt === 5) {
        this.count++;
        this.#skip = this.#length;
        this.#prefixAt = 0;
      }
    }
  }
}
