/**
 * The `traceparent` headers a traced process received, so that one it passes on is known
 * for what it is. A proxy (nginx's `proxy_pass`, which forwards request headers unchanged)
 * sends its caller's header onwards: that header names the caller's span, not the proxy's
 * outgoing call. The call is then the child of the request that brought the header in,
 * with an id of its own -- never the caller's id, or the proxy's own server span would seem
 * the child of its call.
 *
 * @module
 */
import type { TraceContext } from "../model/trace_context.ts";

// A header is passed on while its request is served: recent ones suffice.
const MAX_HEADERS = 10_000;

/** Incoming requests' headers, by process. */
export class ReceivedHeaders {
  readonly #byHeader = new Map<string, TraceContext>();

  /** Process `pid` received a request carrying `traceId`/`parentId` and gave it `context`. */
  received(pid: number, traceId: string, parentId: string, context: TraceContext): void {
    const key = `${pid}/${traceId}/${parentId}`;
    this.#byHeader.delete(key);
    if (this.#byHeader.size >= MAX_HEADERS) {
      this.#byHeader.delete(this.#byHeader.keys().next().value!);
    }
    this.#byHeader.set(key, context);
  }

  /** The request of `pid` that received this header, if it did: the one passing it on. */
  receivedBy(pid: number, traceId: string, parentId: string): TraceContext | undefined {
    return this.#byHeader.get(`${pid}/${traceId}/${parentId}`);
  }
}
