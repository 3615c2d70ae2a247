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

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Ids from the platform's cryptographic random source.
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
  #pool = new Uint8Array(4096);
  #at = this.#pool.length;

  traceId(): string {
    return this.#hex(16);
  }

  spanId(): string {
    return this.#hex(8);
  }

  #hex(bytes: number): string {
    for (;;) {
      if (this.#at + bytes > this.#pool.length) {
        crypto.getRandomValues(this.#pool);
        this.#at = 0;
      }
      const p = this.#pool;
      const from = this.#at;
      this.#at += bytes;
      let s = "";
      let any = 0;
      for (let i = from; i < from + bytes; i++) {
        const b = p[i]!;
        any |= b;
        s += HEX[b]!;
      }
      if (any !== 0) return s;
    }
  }
}
