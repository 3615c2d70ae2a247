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

/** ASCII of each byte's two hex digits. */
const HEX_DIGITS = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, "0");
  HEX_DIGITS[2 * i] = h.charCodeAt(0);
  HEX_DIGITS[2 * i + 1] = h.charCodeAt(1);
}
const POOL_BYTES = 4096;
// Hex digits are ASCII: the UTF-8 decoder reads them as Latin-1 would, three times as fast
// (the "latin1" label is windows-1252, decoded by a slower path).
const ascii = new TextDecoder();

/**
 * Ids from the platform's cryptographic random source. Each refill of random bytes is
 * turned into one hex string, and an id is a slice of it: building each id from 8 or 16
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
  #digits = new Uint8Array(2 * POOL_BYTES);
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
    const p = crypto.getRandomValues(this.#pool);
    const d = this.#digits;
    for (let i = 0; i < POOL_BYTES; i++) {
      const b = p[i]! << 1;
      d[2 * i] = HEX_DIGITS[b]!;
      d[2 * i + 1] = HEX_DIGITS[b + 1]!;
    }
    this.#hexPool = ascii.decode(d);
    this.#at = 0;
  }
}
