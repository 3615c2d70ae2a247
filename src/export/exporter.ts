/**
 * The one interface every span exporter implements (console tree, JSON lines, OTLP, ...).
 *
 * @module
 */

import type { Span } from "../model/span.ts";

/**
 * Receives finished spans. `export` must not block for long and must not throw on a
 * span it cannot show; `shutdown` sends or prints whatever is still buffered.
 *
 * @example
 * ```ts
 * import type { Span } from "../model/span.ts";
 *
 * class CountingExporter implements SpanExporter {
 *   count = 0;
 *   export(_span: Span): void {
 *     this.count++;
 *   }
 *   shutdown(): Promise<void> {
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export interface SpanExporter {
  /** Takes one finished span. */
  export(span: Span): void;
  /** Flushes anything held back; the exporter receives no spans afterwards. */
  shutdown(): Promise<void>;
}
