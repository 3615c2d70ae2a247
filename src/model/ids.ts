/**
 * Random trace and span ids (lower-case hex, never all zero), drawn from
 * `crypto.getRandomValues` a few kilobytes at a time.
 *
 * @module
 */

/** Makes ids for new spans. */
export interface IdGenerator {
  /** 32 lower-case hex digits, not all zero. */
  traceId(): string;
  /** 16 lower-case hex digits, not all zero. */
  spanId(): string;
}

const POOL_BYTES = 4096;

/**
 * Ids from the platform's cryptographic random source. Each refill of random bytes is
 * turned into one hex string (`Uint8Array.prototype.toHex`), and an id is a slice of it: building each id from 8 or 16
 * two-digit strings cost twice as much (the pieces were joined again when printed).
 *
 * @example
 * ```ts
 * import { RandomIdGenerator } from "./ids.ts";
 * const ids = new RandomIdGenerator();
 * ids.traceId(); // e.g. "4bf92f3577b34da6a3ce929d0e0e4736"
 * ids.spanId(); // e.g. "00f067aa0ba902b7"
 * ```
 */
export class RandomIdGenerator implements IdGenerator {
  #pool = new Uint8Array(POOL_BYTES);
  #hexPool = "";
  #at = POOL_BYTES;

  traceId(): string {
    return this.#hex(16);
  }

  spanId(): string {
    return this.#hex(8);
  }

  #hex(bytes: number): string {
    for (;;) {
      if (this.#at + bytes > POOL_BYTES) this.#refill();
      const p = this.#pool;
      const from = this.#at;
      this.#at += bytes;
      let any = 0;
      for (let i = from; i < from + bytes; i++) any |= p[i]!;
      if (any !== 0) return this.#hexPool.slice(2 * from, 2 * (from + bytes));
    }
  }

  #refill(): void {
    // Native: a JavaScript loop over the pool was compiled on stack replacement at each
    // refill and thrown away after it (V8 found no type feedback past the loop), over and
    // over while the agent ran.
    this.#hexPool = crypto.getRandomValues(this.#pool).toHex();
    this.#at = 0;
  }
}
