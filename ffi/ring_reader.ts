/**
 * A BPF ring buffer read in place: the kernel's pages are mapped into this process and
 * records are handed to the caller as offsets into that memory, with no copy and no FFI
 * call per record. Layout as in the kernel's kernel/bpf/ringbuf.c: a consumer page
 * (read-write), then a producer page and the data area mapped twice back to back, so a
 * record that wraps around is still contiguous.
 *
 * @module
 */
import { type Mapping, mapShared, pageSize, waitReadable } from "./libc.ts";

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HEADER = 8;

/** Receives one record: `bytes[offset, offset + length)`, valid only during the call. */
export type RecordHandler = (
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  length: number,
) => void;

/** What a decoder makes of one record: an event, or why it could not. */
export type DecodeResult<E> = { ok: true; event: E } | { ok: false; error: string };

/** Decodes one record `bytes[at, at + length)` (as a {@link RecordHandler} is given it). */
export type RecordDecoder<E> = (...record: Parameters<RecordHandler>) => DecodeResult<E>;

/** Zero-copy consumer of one BPF ring buffer map. */
export class RingReader {
  readonly #fd: number;
  readonly #consumer: Mapping;
  readonly #producer: Mapping;
  readonly #consumerPos: BigUint64Array;
  readonly #producerPos: BigUint64Array;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #header: Uint32Array;
  readonly #mask: number;
  readonly #dataStart: number;
  #pos: number;

  constructor(fd: number, size: number, name = "ring buffer") {
    if (size <= 0 || (size & (size - 1)) !== 0) {
      throw new Error(`Cannot read ${name}: size ${size} is not a power of two`);
    }
    const page = pageSize();
    this.#fd = fd;
    this.#consumer = mapShared(fd, page, 0, true);
    this.#producer = mapShared(fd, page + 2 * size, page, false);
    this.#consumerPos = new BigUint64Array(this.#consumer.bytes, 0, 1);
    this.#producerPos = new BigUint64Array(this.#producer.bytes, 0, 1);
    this.#bytes = new Uint8Array(this.#producer.bytes);
    this.#view = new DataView(this.#producer.bytes);
    this.#header = new Uint32Array(this.#producer.bytes);
    this.#mask = size - 1;
    this.#dataStart = page;
    this.#pos = Number(Atomics.load(this.#consumerPos, 0));
  }

  /** Hands up to `max` committed records to `handler`; returns how many were read. */
  consume(handler: RecordHandler, max = 4096): number {
    const end = Number(Atomics.load(this.#producerPos, 0));
    let pos = this.#pos;
    let n = 0;
    while (pos < end && n < max) {
      const at = this.#dataStart + (pos & this.#mask);
      const header = Atomics.load(this.#header, at >>> 2);
      if (header & BUSY) break; // reserved, not yet committed
      const length = header & ~(BUSY | DISCARD) >>> 0;
      if (!(header & DISCARD)) {
        handler(this.#bytes, this.#view, at + HEADER, length);
        n++;
      }
      pos += (length + HEADER + 7) & ~7;
    }
    if (pos !== this.#pos) {
      this.#pos = pos;
      Atomics.store(this.#consumerPos, 0, BigInt(pos)); // frees the space for the kernel
    }
    return n;
  }

  /** The ring's map descriptor (a {@link WakeupSet} may watch it). */
  get fd(): number {
    return this.#fd;
  }

  /** Records committed but not yet consumed, in bytes. */
  get pending(): number {
    return Number(Atomics.load(this.#producerPos, 0)) - this.#pos;
  }

  /** Waits (off the main thread) until records are available or `timeoutMs` passes. */
  wait(timeoutMs: number): Promise<boolean> {
    return waitReadable(this.#fd, timeoutMs);
  }

  /** Unmaps the ring's memory. */
  close(): void {
    this.#consumer.unmap();
    this.#producer.unmap();
  }
}
