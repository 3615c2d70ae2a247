/**
 * The capture's record of which processes it traces: `traced_tgids` (tgid -> trace flags),
 * and the same tgids as bits in `traced_bits`, which the programs every process on the host
 * runs look at first (see capture/shared.h). User space owns the bitmap's first half; the
 * fork and exit programs own the second.
 *
 * @module
 */
import type { BpfMap } from "../../ffi/mod.ts";

/** Processes the capture traces, as its maps hold them. */
export class TracedPids {
  readonly #flags: BpfMap;
  readonly #bits: BpfMap;
  /** Words of the bitmap's user-space half as last written, by index. */
  readonly #words = new Map<number, bigint>();
  readonly #key = new Uint32Array(1);
  readonly #value = new BigUint64Array(1);

  constructor(flags: BpfMap, bits: BpfMap) {
    this.#flags = flags;
    this.#bits = bits;
  }

  /** Traces `pid`'s calls, with `flags` (enum trace_flags). */
  set(pid: number, flags: number): void {
    this.#flags.update(pidKey(pid), new Uint8Array(new Uint32Array([flags]).buffer));
    this.#setBit(pid, true);
  }

  /** Stops tracing `pid`; false if it was not traced (the exit program forgot it first). */
  delete(pid: number): boolean {
    this.#setBit(pid, false);
    return this.#flags.delete(pidKey(pid));
  }

  #setBit(pid: number, on: boolean): void {
    const index = Math.floor(pid / 64), bit = 1n << BigInt(pid % 64);
    const was = this.#words.get(index) ?? 0n;
    const word = on ? was | bit : was & ~bit;
    if (word === was) return;
    if (word === 0n) this.#words.delete(index);
    else this.#words.set(index, word);
    this.#key[0] = index;
    this.#value[0] = word;
    this.#bits.update(
      new Uint8Array(this.#key.buffer),
      new Uint8Array(this.#value.buffer),
    );
  }
}

function pidKey(pid: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new Uint32Array([pid]).buffer);
}
