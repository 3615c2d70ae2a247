/**
 * The plain sockets whose bytes the capture stops shipping because nothing parses them: the
 * verdicts user space writes into the capture's `ignored_socks` map. A connection is known
 * to the span stage by its conn string; the map is keyed by the kernel's `struct sock *`, so
 * the key taken from the socket's own record is kept under its conn until the verdict.
 *
 * @module
 */
import type { SocketKey } from "./events.ts";

/** Where verdicts go: the capture's `ignored_socks` map (a `BpfMap`). */
export interface VerdictMap {
  update(key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>): void;
}

/** A Map that forgets its oldest entry beyond `max` entries. */
export class LruMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }
  override set(key: K, value: V): this {
    this.delete(key);
    super.set(key, value);
    if (this.size > this.max) this.delete(this.keys().next().value!);
    return this;
  }
}

/** As many as the kernel's `socks` map holds (sockets.h). */
const MAX_SOCKETS = 65536;
const ONE = new Uint8Array([1]);

/** The capture's ignored-socket verdicts. */
export class IgnoredSockets {
  readonly #map: VerdictMap;
  readonly #keys = new LruMap<string, SocketKey>(MAX_SOCKETS);

  constructor(map: VerdictMap) {
    this.#map = map;
  }

  /** A plain socket's first record: its key, under its connection. */
  opened(conn: string, key: SocketKey): void {
    this.#keys.set(conn, key);
  }

  /** The process closed the socket (the kernel forgets its verdict itself). */
  closed(conn: string): void {
    this.#keys.delete(conn);
  }

  /** Nothing parses the connection: the capture stops shipping its bytes. */
  ignore(conn: string): void {
    const key = this.#keys.get(conn);
    if (key === undefined) return; // a TLS connection, or a socket seen before its record
    this.#keys.delete(conn);
    this.#map.update(key, ONE);
  }
}
