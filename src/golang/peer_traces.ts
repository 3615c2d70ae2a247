/**
 * Go requests linked to the spans of other traced processes on this host. Go's probes
 * send each request's span ids with its connection's address pair (a client's before the
 * request is written, a server's when its handler starts). A client's go into the shared
 * {@linkcode PeerLinks}, where a server traced by the socket capture or OpenSSL takes them.
 * A Go server takes the offer of a traced client that is not Go (a Go client's it already
 * continued in BPF): its ids were made in BPF, so its trace is adopted — the server span gets
 * the client span as parent, and every later span of that BPF trace the client's trace id.
 *
 * @module
 */
import type { PeerLinks } from "../context/peer_links.ts";
import type { GoLinkEvent, GoSpanIds } from "./events.ts";

interface Adopted {
  traceId: string;
  /** The Go server span that took the offer, and its new parent. */
  root: string;
  parent: string;
  sampled?: boolean;
}

// Adopted traces are few (servers called by traced non-Go clients) and short-lived.
const MAX_ADOPTED = 10_000;

/** Go's link events on one host's shared offers. */
export class GoPeerTraces {
  readonly #peers: PeerLinks;
  readonly #adopted = new Map<string, Adopted>();

  constructor(peers: PeerLinks) {
    this.#peers = peers;
  }

  /** A request's span and connection, from Go's probes. */
  link(e: GoLinkEvent): void {
    const key = `${e.client.address}:${e.client.port}>${e.serverEnd.address}:${e.serverEnd.port}`;
    const line = `${e.method.text} ${e.path.text}${e.query.text === "" ? "" : `?${e.query.text}`}`;
    if (!e.server) {
      // Read when taken: the Go server above this call may adopt a trace after the offer.
      const ids = e.ids;
      const resolve = () => this.context(ids);
      this.#peers.offer(key, {
        get traceId() {
          return resolve().traceId;
        },
        get sampled() {
          return resolve().sampled;
        },
        spanId: ids.spanId,
        parentSpanId: ids.parentSpanId,
      }, line);
      return;
    }
    // Taken either way: a traced Go client's offer was already continued in BPF.
    const caller = this.#peers.take(key, line);
    if (caller === undefined || e.ids.parentSpanId !== "") return;
    if (this.#adopted.size >= MAX_ADOPTED) {
      this.#adopted.delete(this.#adopted.keys().next().value!);
    }
    this.#adopted.set(e.ids.traceId, {
      traceId: caller.traceId,
      root: e.ids.spanId,
      parent: caller.spanId,
      ...(caller.sampled === undefined ? {} : { sampled: caller.sampled }),
    });
  }

  /** The ids a Go span takes: as BPF made them, or in the trace its server adopted. */
  context(ids: GoSpanIds): GoSpanIds {
    const a = this.#adopted.get(ids.traceId);
    if (a === undefined) return ids;
    const sampled = a.sampled === undefined ? {} : { sampled: a.sampled };
    if (ids.spanId === a.root) {
      return {
        traceId: a.traceId,
        spanId: ids.spanId,
        parentSpanId: a.parent,
        via: "peer",
        ...sampled,
      };
    }
    return { ...ids, traceId: a.traceId, ...sampled };
  }
}
