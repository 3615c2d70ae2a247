/**
 * Parent-based sampling (`--sample-ratio R`), applied to finished spans before they are
 * exported: a span whose parent came from an incoming `traceparent` follows that
 * header's sampled flag; every other span (a root, or a child whose parent's flag is
 * unknown) is kept by its trace id against the ratio, the way OpenTelemetry's consistent
 * probability sampling does (W3C Trace Context level 2: the trace id's rightmost 56 bits
 * are its randomness). The same trace id gives the same answer on every hop and in every
 * agent that uses the same ratio, so traces are kept or dropped whole.
 *
 * @module
 */
import type { Span } from "./model/span.ts";

/** What the sampler reads from a span. `parentSampled` is the incoming header's flag. */
export interface SamplingInput {
  traceId: string;
  parentSpanId: string;
  /** Bit 0 of the incoming `traceparent` flags, when the parent came from one. */
  parentSampled?: boolean;
}

const RANDOM_BITS = 56;
const RANDOM_RANGE = 2n ** 56n;

/**
 * The rejection threshold for a ratio: a trace is kept when its 56-bit randomness is at
 * least this. Ratio 1 -> 0 (keep all), ratio 0 -> 2^56 (keep none).
 */
export function ratioThreshold(ratio: number): bigint {
  if (!(ratio > 0)) return RANDOM_RANGE;
  if (ratio >= 1) return 0n;
  // 2^56 · (1 - ratio), rounded: a float has 53 bits, enough for any ratio given in text.
  return BigInt(Math.round((1 - ratio) * 2 ** RANDOM_BITS));
}

/**
 * True when a trace id is kept at `ratio` (deterministic in the trace id). Ids that are
 * not 32 hex digits are kept: dropping data we cannot judge would hide it.
 *
 * @example
 * ```ts
 * keepTraceId("4bf92f3577b34da6a3ce929d0e0e4736", 1); // true
 * keepTraceId("4bf92f3577b34da6a3ce929d0e0e4736", 0); // false
 * ```
 */
export function keepTraceId(traceId: string, ratio: number): boolean {
  return keepByThreshold(traceId, ratioThreshold(ratio));
}

function keepByThreshold(traceId: string, threshold: bigint): boolean {
  if (threshold === 0n) return true;
  if (threshold >= RANDOM_RANGE) return false;
  if (!/^[0-9a-f]{32}$/i.test(traceId)) return true;
  return BigInt("0x" + traceId.slice(32 - RANDOM_BITS / 4)) >= threshold;
}

/**
 * A parent-based, trace-id-ratio sampler for finished spans.
 *
 * @example
 * ```ts
 * const sampler = new ParentBasedRatioSampler(0.25);
 * // engine.onSpan((span) => { if (sampler.sample(span)) exporter.export(span); });
 * sampler.sample({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanId: "" });
 * ```
 */
export class ParentBasedRatioSampler {
  readonly ratio: number;
  #threshold: bigint;
  /** Spans kept and dropped so far. */
  readonly counts = { kept: 0, dropped: 0 };

  /** `ratio` from 0 to 1 (clamped); default 1, keep everything. */
  constructor(ratio = 1) {
    this.ratio = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 1));
    this.#threshold = ratioThreshold(this.ratio);
  }

  /** True when the span should be exported. */
  sample(span: SamplingInput | Span): boolean {
    const input = span as SamplingInput;
    let keep: boolean;
    if (input.parentSpanId !== "" && input.parentSampled !== undefined) {
      keep = input.parentSampled;
    } else {
      keep = keepByThreshold(input.traceId, this.#threshold);
    }
    if (keep) this.counts.kept++;
    else this.counts.dropped++;
    return keep;
  }
}
