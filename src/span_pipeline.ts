/**
 * What happens to every finished span before anyone outside the engine sees it, in this
 * order: a server span without a framework route gets a derived `http.route`; the span
 * feeds the RED metrics (all spans, so rates stay true under sampling); then the sampler
 * decides whether it is handed on. The command line and library users of `trace()` get
 * the same spans.
 *
 * @module
 */
import { ParentBasedRatioSampler } from "./sampling.ts";
import { withRoute } from "./spans/route.ts";
import type { Span } from "./model/mod.ts";

/** Where every finished span is measured, sampled or not (the RED metrics). */
export interface SpanRecorder {
  record(span: Span): void;
}

/** Options for {@linkcode SpanPipeline}. */
export interface SpanPipelineOptions {
  /** Receives each span the sampler keeps. */
  onSpan(span: Span): void;
  /** The share of traces handed on, 0 to 1. Default 1: every span. */
  sampleRatio?: number;
  /** Measures every span before sampling. Default: none. */
  metrics?: SpanRecorder;
}

/**
 * Routes, measures and samples finished spans.
 *
 * @example
 * ```ts
 * const pipeline = new SpanPipeline({ onSpan: (s) => console.log(s.name), sampleRatio: 0.5 });
 * // pipeline.push(span) for each span the engine finishes
 * ```
 */
export class SpanPipeline {
  readonly #opts: SpanPipelineOptions;
  readonly #sampler: ParentBasedRatioSampler;
  /** Spans finished, and those of them the sampler dropped. */
  readonly counts = { spans: 0, sampledOut: 0 };

  constructor(options: SpanPipelineOptions) {
    this.#opts = options;
    this.#sampler = new ParentBasedRatioSampler(options.sampleRatio ?? 1);
  }

  /** Takes one finished span. */
  push(span: Span): void {
    withRoute(span);
    this.counts.spans++;
    this.#opts.metrics?.record(span);
    if (!this.#sampler.sample(span)) {
      this.counts.sampledOut++;
      return;
    }
    this.#opts.onSpan(span);
  }
}
