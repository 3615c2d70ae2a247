/**
 * An HPACK decoder (RFC 7541) for one direction of an HTTP/2 connection: header blocks in
 * the order the encoder wrote them, each turned into its field list while the dynamic
 * table follows the encoder's.
 *
 * It decodes what it can prove and no more. When the table may be missing entries (the
 * connection was joined mid-way, or a block was lost), a field that references one of them
 * is counted as unknown rather than guessed, and every insertion is still followed so that
 * later references stay right (see `header_table.ts`). A malformed block means the table
 * can no longer be trusted: it is forgotten. It never throws.
 *
 * The table's size follows the block's own size updates (§6.3): an encoder must signal any
 * change of size that way, whatever SETTINGS_HEADER_TABLE_SIZE its peer announced, so the
 * setting is not needed to decode (and may not have been seen: a connection joined mid-way,
 * or the `HTTP2-Settings` header of an `Upgrade: h2c` request). What is held is bounded by
 * `tableLimit` instead.
 *
 * @module
 */
import { DynamicTable, type Lookup } from "./header_table.ts";
import { huffmanDecode } from "./huffman.ts";

/** One decoded field, name as sent (lower case in HTTP/2). */
export type HeaderField = [name: string, value: string];

/** A decoded header block. */
export interface HeaderBlock {
  /** The fields, in order (those that fit in the list limit). */
  fields: HeaderField[];
  /** Fields that referenced table entries never seen: their names and values are unknown. */
  unknown: number;
  /** True when fields past the list limit were left out. */
  truncated: boolean;
}

/** Options for {@linkcode HpackDecoder}. */
export interface HpackDecoderOptions {
  /** Most bytes the dynamic table holds (RFC 7541 sizes). Default 65536. */
  tableLimit?: number;
  /** Most bytes of fields (name + value + 32 each) kept per block. Default 65536. */
  maxListBytes?: number;
  /** The encoder's table size before any size update. Default 4096 (HTTP/2's default). */
  initialTableSize?: number;
  /**
   * Whether the decoder starts at the connection's beginning (an empty table). False for
   * a connection joined mid-way. Default true.
   */
  fromStart?: boolean;
}

/** Largest integer accepted (RFC 7541 §5.1 leaves it open; lengths beyond are nonsense). */
const MAX_INT = 2 ** 28;

/**
 * Decodes header blocks of one direction.
 *
 * @example
 * ```ts
 * import { HpackDecoder } from "./hpack.ts";
 * const d = new HpackDecoder();
 * // RFC 7541 C.2.4: indexed field 2 (:method GET)
 * d.decode(Uint8Array.of(0x82)); // { fields: [[":method", "GET"]], unknown: 0, truncated: false }
 * ```
 */
export class HpackDecoder {
  readonly #table: DynamicTable;
  readonly #maxListBytes: number;
  /** Where in the block being decoded the next octet is. */
  readonly #cursor = { at: 0 };
  /** Blocks found malformed. */
  malformed = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.#table = new DynamicTable(options.tableLimit ?? 65536, options.initialTableSize);
    this.#maxListBytes = options.maxListBytes ?? 65536;
    if (options.fromStart === false) this.#table.lose();
  }

  /** Whether every reference can be resolved (the table is known in full). */
  get complete(): boolean {
    return this.#table.complete;
  }

  /** Known dynamic table entries and their size, for tests and limits. */
  get tableState(): { entries: number; size: number } {
    return { entries: this.#table.length, size: this.#table.size };
  }

  /** A header block of this direction was lost: what the table holds is unknown now. */
  lose(): void {
    this.#table.lose();
  }

  /**
   * Decodes one complete header block (HEADERS/PUSH_PROMISE payload plus CONTINUATIONs).
   * Returns undefined when the block is malformed; the table is then forgotten.
   */
  decode(block: Uint8Array): HeaderBlock | undefined {
    const r = this.#decode(block);
    if (r === undefined) {
      this.malformed++;
      this.#table.lose();
    }
    return r;
  }

  #decode(b: Uint8Array): HeaderBlock | undefined {
    const table = this.#table;
    const fields: HeaderField[] = [];
    let unknown = 0;
    let truncated = false;
    let listBytes = 0;
    let fieldsSeen = false;
    const cursor = this.#cursor;
    cursor.at = 0;
    const maxListBytes = this.#maxListBytes;
    while (cursor.at < b.length) {
      const first = b[cursor.at]!;
      if (first & 0x80) { // indexed field (§6.1)
        const index = readInt(b, cursor, 7);
        if (index === undefined) return undefined;
        const entry = table.lookup(index);
        if (entry === "invalid") return undefined;
        if (entry === "unknown" || entry.name === undefined) unknown++;
        else {
          listBytes += entry.name.length + entry.value.length + 32;
          if (listBytes > maxListBytes) truncated = true;
          else fields.push([entry.name, entry.value]);
        }
        fieldsSeen = true;
      } else if ((first & 0xe0) === 0x20) { // dynamic table size update (§6.3)
        if (fieldsSeen) return undefined; // only at the start of a block (§4.2)
        const size = readInt(b, cursor, 5);
        if (size === undefined) return undefined;
        table.resize(size);
      } else { // literal (§6.2): with incremental indexing, without, never indexed
        const indexing = (first & 0xc0) === 0x40;
        const index = readInt(b, cursor, indexing ? 6 : 4);
        if (index === undefined) return undefined;
        let name: string | undefined;
        if (index === 0) {
          name = readString(b, cursor);
          if (name === undefined) return undefined;
        } else {
          const entry: Lookup = table.lookup(index);
          if (entry === "invalid") return undefined;
          name = entry === "unknown" ? undefined : entry.name;
        }
        const value = readString(b, cursor);
        if (value === undefined) return undefined;
        if (name === undefined) unknown++;
        else {
          listBytes += name.length + value.length + 32;
          if (listBytes > maxListBytes) truncated = true;
          else fields.push([name, value]);
        }
        if (indexing) table.insert(name, value);
        fieldsSeen = true;
      }
    }
    return { fields, unknown, truncated };
  }
}

/** Reads an integer with an `n`-bit prefix (§5.1) at `cursor`, advancing it. */
function readInt(b: Uint8Array, cursor: { at: number }, n: number): number | undefined {
  const mask = (1 << n) - 1;
  let value = b[cursor.at++]! & mask;
  if (value < mask) return value;
  let shift = 0;
  for (;;) {
    const byte = b[cursor.at++];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** shift;
    if (value > MAX_INT) return undefined;
    if ((byte & 0x80) === 0) return value;
    shift += 7;
  }
}

/** Reads a string literal (§5.2) at `cursor`, advancing it. */
function readString(b: Uint8Array, cursor: { at: number }): string | undefined {
  const from = cursor.at;
  if (from >= b.length) return undefined;
  const huffman = (b[from]! & 0x80) !== 0;
  const len = readInt(b, cursor, 7);
  if (len === undefined || cursor.at + len > b.length) return undefined;
  const end = cursor.at + len;
  cursor.at = end;
  // The literal as sent (its length prefix, with the Huffman bit, and its octets) names it.
  const slot = end - from <= CACHED_BYTES ? literalSlot(b, from, end) : -1;
  if (slot >= 0) {
    const seen = cachedLiteral(slot, b, from, end);
    if (seen !== undefined) return seen;
  }
  const raw = b.subarray(end - len, end);
  const octets = huffman ? huffmanDecode(raw) : raw;
  if (octets === undefined) return undefined;
  const text = latin1(octets);
  if (slot >= 0) {
    literalBytes[slot] = b.slice(from, end);
    literalTexts[slot] = text;
  }
  return text;
}

/**
 * Literals decoded before, by the octets that carried them. A peer sends most of its
 * literals again and again (nginx's `server`, `content-type` and `etag` in every response,
 * never indexed): a hit costs a comparison of a few dozen octets, where decoding cost
 * Huffman's walk and a new string (a third of the HTTP/2 path's allocations under
 * h2load). Shared by every connection: a literal decodes the same wherever it is sent.
 */
const CACHE_SLOTS = 512;
/** Longer literals (cookies, long paths) are decoded each time: rarely the same twice. */
const CACHED_BYTES = 64;
const literalBytes: (Uint8Array | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
const literalTexts: string[] = new Array(CACHE_SLOTS).fill("");

/**
 * The cache slot of octets [from, end) of `b`, by every octet: literals that differ in a few
 * octets only are common (a response's `date` and `last-modified` in the same second, but
 * for the seconds), and sharing a slot they would push each other out at every block.
 */
function literalSlot(b: Uint8Array, from: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 23; // 9 bits: CACHE_SLOTS
}

function cachedLiteral(slot: number, b: Uint8Array, from: number, end: number): string | undefined {
  const seen = literalBytes[slot];
  if (seen === undefined || seen.length !== end - from) return undefined;
  for (let i = 0; i < seen.length; i++) if (seen[i] !== b[from + i]) return undefined;
  return literalTexts[slot];
}

/** Octets to a string, one character per octet (ISO-8859-1 exactly, 0x80-0x9f included). */
export function latin1(b: Uint8Array): string {
  if (b.length <= 64) { // most fields: a plain loop is the fastest here
    let s = "";
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  // `apply` takes the typed array as it is (no iterator, unlike a spread).
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}
