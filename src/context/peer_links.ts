/**
 * Trace context between traced processes on one host. When upspan sees both ends of a
 * connection -- a client it traces calling a server it traces -- the client's request
 * offers its span's ids under the connection's address pair, and the server's request
 * on the other end takes them, so the server span becomes the client span's child in one
 * trace, with no header on the wire.
 *
 * @module
 */
import type { SocketInfo } from "../model/stream_chunk.ts";
import type { TraceContext } from "../model/trace_context.ts";

/** Connection key of both ends: client address and port, then server address and port. */
export function clientToServer(socket: SocketInfo, server: boolean): string | undefined {
  if (socket.family !== "ipv4" && socket.family !== "ipv6") return undefined;
  const local = `${socket.localAddress}:${socket.localPort}`;
  const peer = `${socket.peerAddress}:${socket.peerPort}`;
  return server ? `${peer}>${local}` : `${local}>${peer}`;
}

/**
 * `METHOD target` as both ends spell it: the path percent-decoded where it decodes (Go's
 * probes read a request's decoded URL.Path, the wire carries the escaped one).
 */
export function sameRequest(line: string): string {
  const sp = line.indexOf(" ");
  const q = line.indexOf("?", sp);
  const pct = line.indexOf("%", sp);
  if (sp < 0 || pct < 0 || (q >= 0 && pct > q)) return line;
  try {
    const path = line.slice(sp + 1, q < 0 ? undefined : q);
    return line.slice(0, sp + 1) + decodeURIComponent(path) + (q < 0 ? "" : line.slice(q));
  } catch {
    return line; // not valid percent-encoding: as sent
  }
}

/**
 * How long after its end a server's span whose request found no offer waits for one: a
 * traced client's plain-socket write is recorded as its syscall ends, and the server it
 * woke may have read, served and answered by then (Go's servers and the socket capture's).
 */
export const OFFER_WAIT_NS = 30_000_000n;

// A client calling a server that is not traced offers ids nobody takes: keep few, briefly.
const MAX_CONNECTIONS = 2_000;
const MAX_PER_CONNECTION = 16;

interface Offer {
  context: TraceContext;
  /** What the request was (method and target): the server side must have read the same. */
  request: string;
}

/**
 * Client requests' contexts waiting for their server side, in order. Each side may have been
 * attached after the other had already passed a request, so an offer is taken only by the
 * request it describes; older offers that no server request matched are passed over.
 *
 * The two ends may be seen by different instrumentations, each with its own ring buffer
 * (Go's probes, the socket capture): an offer is made before its request is written, so
 * when a server's request finds none, `refresh` (the other rings read now) is asked once.
 */
export class PeerLinks {
  readonly #waiting = new Map<string, Offer[]>();
  /** Reads what other instrumentations have sent so far (their offers); default none. */
  refresh?: () => void;

  /** A client request (`request`: its method and target) on connection `key` had these ids. */
  offer(key: string, context: TraceContext, request = ""): void {
    let queue = this.#waiting.get(key);
    if (queue === undefined) {
      if (this.#waiting.size >= MAX_CONNECTIONS) {
        // Oldest first: a server that is not traced never takes its clients' offers.
        this.#waiting.delete(this.#waiting.keys().next().value!);
      }
      queue = [];
      this.#waiting.set(key, queue);
    }
    if (queue.length >= MAX_PER_CONNECTION) queue.shift();
    queue.push({ context, request: sameRequest(request) });
  }

  /**
   * The context of the oldest client request on connection `key` that is `request`, not yet
   * taken; offers before it (requests this side never saw) are dropped. None when nothing
   * waiting matches: the client side did not see this request. `refresh`: the other rings
   * may be read first (not from inside the reading of one).
   */
  take(key: string, request = "", refresh = true): TraceContext | undefined {
    const line = sameRequest(request);
    let queue = this.#waiting.get(key);
    let at = find(queue, line);
    if (at < 0 && refresh && this.refresh !== undefined) {
      this.refresh();
      queue = this.#waiting.get(key);
      at = find(queue, line);
    }
    if (at < 0) return undefined;
    const offer = queue![at]!;
    queue!.splice(0, at + 1);
    if (queue!.length === 0) this.#waiting.delete(key);
    return offer.context;
  }

  /** Connections with offers waiting. */
  get size(): number {
    return this.#waiting.size;
  }
}

/** Where in `queue` the offer for `request` is; -1 when none is. */
function find(queue: Offer[] | undefined, request: string): number {
  if (queue === undefined) return -1;
  for (let i = 0; i < queue.length; i++) if (queue[i]!.request === request) return i;
  return -1;
}
