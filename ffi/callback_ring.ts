/**
 * libbpf's own ring-buffer consumer, one JS callback per record (`ring_buffer__consume`).
 * upspan reads rings with {@link RingReader} instead; this one stays as the baseline the
 * ingest benchmark measures against.
 *
 * @module
 */
import { checkPointer, libbpf } from "./libbpf.ts";
import type { RecordHandler } from "./ring_reader.ts";

const sampleDefinition = { parameters: ["pointer", "pointer", "usize"], result: "i32" } as const;

/** A ring buffer consumed through libbpf callbacks. */
export class CallbackRing {
  readonly #rb: Deno.PointerObject;
  readonly #callback: Deno.UnsafeCallback<typeof sampleDefinition>;
  #handler: RecordHandler = () => {};
  #left = 0;
  #read = 0;

  constructor(mapFd: number) {
    this.#callback = new Deno.UnsafeCallback(sampleDefinition, (_ctx, data, size) => {
      const length = Number(size);
      if (!data) return 0;
      const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(data, length));
      this.#handler(bytes, new DataView(bytes.buffer), 0, length);
      this.#read++;
      // libbpf keeps consuming while records arrive; a negative return ends the batch.
      return --this.#left > 0 ? 0 : -1;
    });
    this.#rb = checkPointer(
      libbpf().ring_buffer__new(mapFd, this.#callback.pointer, null, null),
      "create libbpf ring buffer",
    );
  }

  /** Hands up to `max` available records to `handler`; returns how many were read. */
  consume(handler: RecordHandler, max = 4096): number {
    this.#handler = handler;
    this.#left = max;
    this.#read = 0;
    libbpf().ring_buffer__consume(this.#rb);
    return this.#read;
  }

  close(): void {
    libbpf().ring_buffer__free(this.#rb);
    this.#callback.close();
  }
}
