/**
 * HPACK's indexing tables (RFC 7541 §2.3): the static table and one direction's dynamic
 * table, as far as it is known.
 *
 * A decoder that joined a connection mid-way (or lost a header block) does not know what
 * the encoder's dynamic table holds. It still knows the entries inserted since, because
 * insertion is always at the front: index 62 is the newest entry whichever older ones
 * exist. So the table keeps those known entries and says whether anything older may exist
 * (`complete`). A reference past the known entries is then "unknown", never a guess; only a
 * size update to 0 (which empties the encoder's table) makes the table complete again.
 *
 * Entries the encoder has evicted are never referenced by it, so keeping one longer than
 * the encoder does (sizes unknown while incomplete) cannot yield a wrong field; evicting
 * one earlier can only turn a reference into "unknown".
 *
 * @module
 */

/** The static table, index 1-61 (RFC 7541 Appendix A). */
export const STATIC_TABLE: ReadonlyArray<readonly [name: string, value: string]> = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** An entry of the dynamic table; `name` is undefined when it came from an unknown index. */
export interface TableEntry {
  name: string | undefined;
  value: string;
}

/** What a lookup found: a field, a field whose name is unknown, or nothing there. */
export type Lookup = Readonly<TableEntry> | "unknown" | "invalid";

/** The static table as lookups return it, made once. */
const STATIC_ENTRIES: readonly Readonly<TableEntry>[] = STATIC_TABLE.map(([name, value]) =>
  Object.freeze({ name, value })
);

/** Per-entry overhead counted by RFC 7541 §4.1. */
const ENTRY_OVERHEAD = 32;

/**
 * One direction's dynamic table, bounded by `limit` bytes whatever size the encoder
 * announces.
 *
 * @example
 * ```ts
 * import { DynamicTable } from "./header_table.ts";
 * const t = new DynamicTable(65536);
 * t.insert("x-a", "1");
 * t.lookup(62); // { name: "x-a", value: "1" }
 * ```
 */
export class DynamicTable {
  /**
   * A ring, newest first from `#newest`: an insert is O(1), where `unshift` moved every
   * entry (a per-field cost under HTTP/2 floods). Its length is a power of two.
   */
  #ring: (TableEntry & { size: number })[] = new Array(16);
  #newest = 0;
  #count = 0;
  #size = 0;
  /** The encoder's maximum as last announced (4096 until a size update says otherwise). */
  #max: number;
  readonly #limit: number;
  /** Whether the known entries are all the encoder has. */
  #complete = true;

  /**
   * `limit`: most bytes (RFC 7541 sizes) this table holds; `max`: the encoder's maximum
   * until a size update says otherwise (4096, the HTTP/2 default).
   */
  constructor(limit: number, max = 4096) {
    this.#limit = limit;
    this.#max = max;
  }

  /** Whether the table is known to hold exactly what the encoder's does. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Known entries. */
  get length(): number {
    return this.#count;
  }

  /** Bytes held, as RFC 7541 counts them. */
  get size(): number {
    return this.#size;
  }

  /** Forgets everything: what the encoder holds is unknown from now on. */
  lose(): void {
    this.#clear();
    this.#complete = false;
  }

  /** A dynamic table size update; 0 empties the encoder's table, so all is known again. */
  resize(max: number): void {
    this.#max = max;
    if (max === 0) this.#complete = true;
    this.#evict(0);
  }

  /** Looks up an index of the combined address space (1-61 static, 62... dynamic). */
  lookup(index: number): Lookup {
    if (index <= 0) return "invalid";
    if (index <= STATIC_ENTRIES.length) return STATIC_ENTRIES[index - 1]!;
    const age = index - STATIC_ENTRIES.length - 1;
    if (age < this.#count) return this.#ring[(this.#newest + age) & (this.#ring.length - 1)]!;
    return this.#complete ? "invalid" : "unknown";
  }

  /** Inserts at the front, evicting from the back (RFC 7541 §4.4). */
  insert(name: string | undefined, value: string): void {
    const size = (name?.length ?? 0) + value.length + ENTRY_OVERHEAD;
    // (An entry with an unknown name exists only while the table is incomplete; its size
    // is underestimated, which keeps entries longer than the encoder: harmless, see above.)
    if (size > Math.min(this.#max, this.#limit)) {
      // Larger than the table: the encoder empties its table (§4.4); so do we. Past our own
      // limit, what the encoder keeps is unknown.
      const fits = size <= this.#max;
      this.#clear();
      if (fits) this.#complete = false;
      return;
    }
    this.#evict(size);
    if (this.#count === this.#ring.length) this.#grow();
    this.#newest = (this.#newest - 1) & (this.#ring.length - 1);
    this.#ring[this.#newest] = { name, value, size };
    this.#count++;
    this.#size += size;
  }

  #clear(): void {
    this.#ring = new Array(16);
    this.#newest = this.#count = this.#size = 0;
  }

  /** Twice the room, the entries in the same order from index 0. */
  #grow(): void {
    const old = this.#ring, ring = new Array(old.length * 2);
    for (let i = 0; i < this.#count; i++) ring[i] = old[(this.#newest + i) & (old.length - 1)];
    this.#ring = ring;
    this.#newest = 0;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  #evict(room: number): void {
    const max = Math.min(this.#max, this.#limit);
    while (this.#size + room > max && this.#count > 0) {
      const oldest = (this.#newest + this.#count - 1) & (this.#ring.length - 1);
      this.#size -= this.#ring[oldest]!.size;
      this.#ring[oldest] = undefined!; // its strings may go
      this.#count--;
      // Our limit, not the encoder's, forced this one out: the encoder may still have it.
      if (this.#max > this.#limit) this.#complete = false;
    }
  }
}
