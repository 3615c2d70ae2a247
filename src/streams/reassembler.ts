/**
 * Reassembles one direction of one connection from {@linkcode StreamChunk}s into an ordered,
 * gap-marked byte stream.
 *
 * The BPF side numbers every byte of a direction (`pos`), so the reassembler only has to put
 * chunks back in order, drop what it has already passed on, and say where bytes are missing:
 *
 * - bytes that a call moved but the probe did not capture (`callEnd` beyond the captured
 *   data on the call's last chunk) are a *known* gap, passed on at once;
 * - a jump in `pos` is either reordering or lost ring-buffer records; the later chunk is held
 *   until the hole fills, until it has waited `maxWaitNs`, or until too much is held, and
 *   then the hole becomes a *lost* gap;
 * - `pos` 0 on a stream that has moved on means the producer started counting the key
 *   afresh (the BPF side forgot it): the sink is told to reset before those bytes arrive.
 *
 * @module
 */
import type { StreamChunk } from "../model/stream_chunk.ts";

/** Receives the reassembled stream, strictly in order and without overlaps. */
export interface StreamSink {
  /**
   * Contiguous captured bytes. `bytes` may be a view into the caller's chunk: use it before
   * returning, or copy it.
   */
  data(bytes: Uint8Array, monoNs: bigint, tid: number): void;
  /**
   * `size` bytes of the stream that will never be seen. `lost` is false for a known
   * truncation (the call moved more than was captured) and true for a hole left by lost or
   * very late records.
   */
  gap(size: number, monoNs: bigint, lost: boolean): void;
  /** The connection key now belongs to a new connection; forget everything about the old. */
  reset(): void;
}

/** The fields of a {@linkcode StreamChunk} the reassembler reads. */
export type StreamPart = Pick<StreamChunk, "pos" | "data" | "callEnd" | "last" | "monoNs" | "tid">;

/** Counters a reassembler adds to; several reassemblers may share one object. */
export interface ReassemblyCounters {
  /** Chunks dropped or trimmed because their bytes had already been passed on. */
  duplicateChunks: number;
  /** Chunks that arrived ahead of a hole and had to be held. */
  outOfOrderChunks: number;
}

/** Options for {@linkcode StreamReassembler}. */
export interface StreamReassemblerOptions {
  /** How long a chunk waits behind a hole before the hole is declared lost. Default 50 ms. */
  maxWaitNs?: bigint;
  /** Most bytes held behind holes before the first hole is declared lost. Default 1 MiB. */
  maxPendingBytes?: number;
  /** Most chunks held behind holes before the first hole is declared lost. Default 64. */
  maxPendingChunks?: number;
  /** Where to count duplicates and reordering. Default: a private object. */
  counters?: ReassemblyCounters;
}

/** A chunk held behind a hole. */
interface Held {
  pos: number;
  data: Uint8Array;
  /** End of the captured bytes plus any known truncation gap after them. */
  end: number;
  monoNs: bigint;
  tid: number;
  /** Our best lower bound of when it arrived (kernel monotonic ns). */
  since: bigint;
}

/**
 * Orders one direction's chunks and reports bytes, gaps and resets to a {@linkcode StreamSink}.
 * The reassembler copies what it holds, so callers may reuse a chunk's buffer after `push`.
 *
 * @example
 * ```ts
 * import { StreamReassembler } from "./reassembler.ts";
 * const seen: string[] = [];
 * const r = new StreamReassembler({
 *   data: (b) => seen.push(new TextDecoder().decode(b)),
 *   gap: (n) => seen.push(`<gap ${n}>`),
 *   reset: () => seen.push("<reset>"),
 * });
 * const at = (pos: number, text: string, callEnd = pos + text.length) => ({
 *   pos, data: new TextEncoder().encode(text), callEnd, last: true, monoNs: 1n, tid: 1,
 * });
 * r.push(at(4, "EFGH")); // held: bytes 0..3 are missing
 * r.push(at(0, "ABCD", 4));
 * r.push(at(8, "IJ", 100)); // the call moved 92 bytes, only 2 captured
 * // seen: ["ABCD", "EFGH", "IJ", "<gap 90>"]
 * ```
 */
export class StreamReassembler {
  readonly #sink: StreamSink;
  readonly #maxWaitNs: bigint;
  readonly #maxPendingBytes: number;
  readonly #maxPendingChunks: number;
  readonly #counters: ReassemblyCounters;
  /** Next stream position to pass on. */
  #next = 0;
  /** Held chunks, sorted by `pos`. */
  #held: Held[] = [];
  #heldBytes = 0;
  /** Latest monotonic time known (chunks and ticks). */
  #clock = 0n;
  /** Latest call time among chunks accepted since the last reset. */
  #lastMonoNs = -1n;

  /** Makes a reassembler that reports to `sink`. */
  constructor(sink: StreamSink, options: StreamReassemblerOptions = {}) {
    this.#sink = sink;
    this.#maxWaitNs = options.maxWaitNs ?? 50_000_000n;
    this.#maxPendingBytes = options.maxPendingBytes ?? 1 << 20;
    this.#maxPendingChunks = options.maxPendingChunks ?? 64;
    this.#counters = options.counters ?? { duplicateChunks: 0, outOfOrderChunks: 0 };
  }

  /** Next stream position the sink will be given. */
  get position(): number {
    return this.#next;
  }

  /** Number of chunks held behind holes. */
  get pendingChunks(): number {
    return this.#held.length;
  }

  /** Number of captured bytes held behind holes. */
  get pendingBytes(): number {
    return this.#heldBytes;
  }

  /** Takes one chunk. */
  push(c: StreamPart): void {
    const dataEnd = c.pos + c.data.length;
    const end = c.last && c.callEnd > dataEnd ? c.callEnd : dataEnd;
    if (end <= c.pos) return; // nothing captured, nothing skipped
    if (c.monoNs > this.#clock) this.#clock = c.monoNs;

    if (c.pos === 0 && this.#next > 0) {
      // A second start: a new connection under the same key, unless it is older than what
      // we have seen (then it can only be a late duplicate of the first chunk).
      if (c.monoNs < this.#lastMonoNs) {
        this.#counters.duplicateChunks++;
        return;
      }
      this.reset();
      this.#sink.reset();
    }
    if (c.monoNs > this.#lastMonoNs) this.#lastMonoNs = c.monoNs;

    if (c.pos <= this.#next) {
      this.#pass(c.pos, c.data, end, c.monoNs, c.tid);
      if (this.#held.length > 0) this.#drain();
      return;
    }
    this.#hold(c, end);
  }

  /**
   * Lets time pass: holes that have kept a chunk waiting for `maxWaitNs` or longer become
   * lost gaps.
   */
  tick(nowMonoNs: bigint): void {
    if (nowMonoNs > this.#clock) this.#clock = nowMonoNs;
    while (this.#held.length > 0) {
      let oldest = this.#held[0]!.since;
      for (const h of this.#held) if (h.since < oldest) oldest = h.since;
      if (nowMonoNs - oldest < this.#maxWaitNs) return;
      this.#releaseFirstHole();
    }
  }

  /** Gives up on every hole and passes on everything held (end of the run or connection). */
  flush(): void {
    while (this.#held.length > 0) this.#releaseFirstHole();
  }

  /**
   * Starts passing on at `pos` (a stream another parser had until now): what lies before
   * it is not this sink's business.
   */
  skipTo(pos: number): void {
    if (pos <= this.#next) return;
    this.#next = pos;
    if (this.#held.length > 0) this.#drain();
  }

  /** Forgets everything; the next chunk is expected at position 0. */
  reset(): void {
    this.#next = 0;
    this.#held = [];
    this.#heldBytes = 0;
    this.#lastMonoNs = -1n;
  }

  /** Passes on the part of [pos, end) beyond `#next`; requires `pos <= #next`. */
  #pass(pos: number, data: Uint8Array, end: number, monoNs: bigint, tid: number): void {
    const next = this.#next;
    if (end <= next) {
      this.#counters.duplicateChunks++;
      return;
    }
    const dataEnd = pos + data.length;
    if (dataEnd > next) {
      if (pos < next) this.#counters.duplicateChunks++;
      this.#next = dataEnd;
      this.#sink.data(pos < next ? data.subarray(next - pos) : data, monoNs, tid);
    }
    if (end > this.#next) {
      const size = end - this.#next;
      this.#next = end;
      this.#sink.gap(size, monoNs, false);
    }
  }

  #hold(c: StreamPart, end: number): void {
    this.#counters.outOfOrderChunks++;
    const held = this.#held;
    let i = held.length;
    while (i > 0 && held[i - 1]!.pos > c.pos) i--;
    const same = held[i - 1];
    if (same !== undefined && same.pos === c.pos && same.end >= end) {
      this.#counters.duplicateChunks++;
      return;
    }
    held.splice(i, 0, {
      pos: c.pos,
      data: c.data.slice(),
      end,
      monoNs: c.monoNs,
      tid: c.tid,
      since: this.#clock,
    });
    this.#heldBytes += c.data.length;
    while (
      held.length > 0 &&
      (held.length > this.#maxPendingChunks || this.#heldBytes > this.#maxPendingBytes)
    ) {
      this.#releaseFirstHole();
    }
  }

  /** Passes on held chunks that have become contiguous. */
  #drain(): void {
    const held = this.#held;
    while (held.length > 0 && held[0]!.pos <= this.#next) {
      const h = held.shift()!;
      this.#heldBytes -= h.data.length;
      this.#pass(h.pos, h.data, h.end, h.monoNs, h.tid);
    }
  }

  /** Declares the hole before the first held chunk lost, then passes on what follows it. */
  #releaseFirstHole(): void {
    const first = this.#held[0];
    if (first === undefined) return;
    if (first.pos > this.#next) {
      const size = first.pos - this.#next;
      this.#next = first.pos;
      this.#sink.gap(size, first.monoNs, true);
    }
    this.#drain();
  }
}
