/**
 * Go's function table (`.gopclntab`, the `runtime.pcHeader` the runtime itself uses for
 * stack traces): every function's name, entry and end address. It survives
 * `-ldflags='-s -w'`, so it is how a stripped Go binary's functions are found.
 *
 * Supported layouts: Go 1.18-1.19 (magic `0xfffffff0`) and Go 1.20 and later
 * (`0xfffffff1`), whose header is `runtime.pcHeader` in `src/runtime/symtab.go`:
 * magic u32, two pad bytes, minLC, ptrSize, then nfunc, nfiles, textStart, and the
 * offsets of funcnametab, cutab, filetab, pctab and pclntab, each pointer-sized. The
 * function table at the start of pclntab holds `nfunc + 1` pairs of u32
 * (entry offset from textStart, offset of the `_func` record); the last pair's entry is the
 * end of the last function. Go 1.26 no longer fills textStart (it is 0): the caller
 * supplies it (see {@linkcode textStartFromElf} in `go_binary.ts`).
 *
 * Older tables (Go 1.2-1.17) are recognised and reported as unsupported. Untrusted bytes
 * never make anything here throw.
 *
 * @module
 */

/** Magic of the Go 1.18-1.19 table. */
export const PCLNTAB_MAGIC_118 = 0xfffffff0;
/** Magic of the Go 1.20+ table. */
export const PCLNTAB_MAGIC_120 = 0xfffffff1;
const OLD_MAGICS: Record<number, string> = {
  0xfffffffb: "Go 1.2 to 1.15",
  0xfffffffa: "Go 1.16 to 1.17",
};

/** A function from the table. Addresses are virtual addresses; `end` is exclusive. */
export interface GoFunction {
  /** Full name, as `go tool nm` prints it (`net/http.(*conn).serve`). */
  name: string;
  /** Entry address. */
  entry: number;
  /** First address after the function (the next function's entry). */
  end: number;
}

/** What {@linkcode parsePclntab} returns: the table or why not. */
export type PclntabResult = { ok: true; table: Pclntab } | { ok: false; error: string };

/** Options for {@linkcode parsePclntab}. */
export interface PclntabOptions {
  /**
   * The address of `runtime.text`, used when the header does not carry it (Go 1.26+,
   * where the field is 0). Ignored when the header has a non-zero text start.
   */
  textStart?: number;
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });
/** Longest function name decoded. */
const MAX_NAME = 4096;

/** Reads the version of the table from its first 4 bytes, or undefined. */
export function pclntabMagic(bytes: Uint8Array): number | undefined {
  if (bytes.length < 4) return undefined;
  return (bytes[0]! | bytes[1]! << 8 | bytes[2]! << 16 | bytes[3]! << 24) >>> 0;
}

/**
 * Parses a Go function table from its bytes (the whole `.gopclntab` section). Checks the
 * header and that every table it points to lies inside `bytes`; individual functions are
 * decoded on demand. Never throws.
 *
 * @example
 * ```ts
 * import { parsePclntab } from "./pclntab.ts";
 *
 * const result = parsePclntab(sectionBytes, { textStart: 0x401000 });
 * if (result.ok) result.table.find("main.main"); // { name, entry, end }
 * ```
 */
export function parsePclntab(bytes: Uint8Array, options: PclntabOptions = {}): PclntabResult {
  const fail = (error: string): PclntabResult => ({ ok: false, error });
  const magic = pclntabMagic(bytes);
  if (magic === undefined || bytes.length < 8) {
    return fail(`the Go function table is truncated: ${bytes.length} bytes`);
  }
  const old = OLD_MAGICS[magic];
  if (old !== undefined) {
    return fail(
      `the Go function table has the ${old} layout (magic 0x${
        magic.toString(16)
      }); only Go 1.18 and later are supported`,
    );
  }
  if (magic !== PCLNTAB_MAGIC_118 && magic !== PCLNTAB_MAGIC_120) {
    return fail(`not a Go function table: unknown magic 0x${magic.toString(16)}`);
  }
  const ptrSize = bytes[7]!;
  const minLC = bytes[6]!;
  if (bytes[4] !== 0 || bytes[5] !== 0 || (ptrSize !== 4 && ptrSize !== 8)) {
    return fail(`the Go function table has a corrupt header (pointer size ${ptrSize})`);
  }
  if (minLC !== 1 && minLC !== 2 && minLC !== 4) {
    return fail(`the Go function table has a corrupt header (instruction quantum ${minLC})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerSize = 8 + 8 * ptrSize;
  if (bytes.length < headerSize) {
    return fail(`the Go function table is truncated: its header needs ${headerSize} bytes`);
  }
  const word = (i: number): number =>
    ptrSize === 8
      ? view.getUint32(8 + i * 8, true) + view.getUint32(12 + i * 8, true) * 0x1_0000_0000
      : view.getUint32(8 + i * 4, true);
  const nfunc = word(0);
  const headerText = word(2);
  const funcnameOff = word(3);
  const pclnOff = word(7);
  if (!Number.isSafeInteger(nfunc) || nfunc <= 0 || nfunc > bytes.length / 8) {
    return fail(`the Go function table is corrupt: it claims ${nfunc} functions`);
  }
  if (funcnameOff >= bytes.length || funcnameOff < headerSize) {
    return fail(`the Go function table is corrupt: its name table is outside it`);
  }
  if (pclnOff < headerSize || pclnOff + (nfunc + 1) * 8 > bytes.length) {
    return fail(`the Go function table is corrupt: its function list is outside it`);
  }
  let textStart = headerText;
  if (textStart === 0) {
    if (options.textStart === undefined) {
      return fail(
        "the Go function table does not record where the code starts (Go 1.26+): " +
          "the runtime.text address is needed",
      );
    }
    textStart = options.textStart;
  }
  if (!Number.isSafeInteger(textStart)) {
    return fail(`the Go function table is corrupt: text start ${textStart}`);
  }
  const version = magic === PCLNTAB_MAGIC_120 ? "1.20+" : "1.18";
  return {
    ok: true,
    table: new Pclntab(bytes, view, { nfunc, textStart, funcnameOff, pclnOff, version, ptrSize }),
  };
}

interface Layout {
  nfunc: number;
  textStart: number;
  funcnameOff: number;
  pclnOff: number;
  version: "1.18" | "1.20+";
  ptrSize: number;
}

/**
 * A parsed function table. Functions are decoded on demand; a damaged entry is skipped
 * (and counted in {@linkcode Pclntab.damaged}) rather than reported as a function.
 */
export class Pclntab {
  /** The table layout: "1.18" (Go 1.18-1.19) or "1.20+". */
  readonly version: "1.18" | "1.20+";
  /** Number of functions the header claims. */
  readonly count: number;
  /** Address of `runtime.text`, the base of every entry offset. */
  readonly textStart: number;
  /** Pointer size in bytes of the target (8 on amd64). */
  readonly ptrSize: number;
  #bytes: Uint8Array;
  #view: DataView;
  #funcnameOff: number;
  #pclnOff: number;
  #damaged = 0;

  /** Use {@linkcode parsePclntab}. */
  constructor(bytes: Uint8Array, view: DataView, layout: Layout) {
    this.#bytes = bytes;
    this.#view = view;
    this.version = layout.version;
    this.count = layout.nfunc;
    this.textStart = layout.textStart;
    this.ptrSize = layout.ptrSize;
    this.#funcnameOff = layout.funcnameOff;
    this.#pclnOff = layout.pclnOff;
  }

  /** Entries skipped so far because they pointed outside the table or were out of order. */
  get damaged(): number {
    return this.#damaged;
  }

  /** The entry offset (from textStart) of function `i`, for i in [0, count]. */
  #entryOff(i: number): number {
    return this.#view.getUint32(this.#pclnOff + i * 8, true);
  }

  /** Byte offset of the name of function `i` inside the table, or -1 if damaged. */
  #nameAt(i: number): number {
    const funcOff = this.#view.getUint32(this.#pclnOff + i * 8 + 4, true);
    const rec = this.#pclnOff + funcOff;
    if (rec + 8 > this.#bytes.length) return -1;
    const nameOff = this.#view.getInt32(rec + 4, true);
    const at = this.#funcnameOff + nameOff;
    return nameOff >= 0 && at < this.#bytes.length ? at : -1;
  }

  /** Function `i` if it is sound, else undefined. */
  #function(i: number, nameAt: number): GoFunction | undefined {
    const start = this.#entryOff(i);
    const end = this.#entryOff(i + 1);
    if (nameAt < 0 || end < start) {
      this.#damaged++;
      return undefined;
    }
    const b = this.#bytes;
    let stop = b.indexOf(0, nameAt);
    if (stop < 0 || stop - nameAt > MAX_NAME) stop = Math.min(b.length, nameAt + MAX_NAME);
    return {
      name: UTF8.decode(b.subarray(nameAt, stop)),
      entry: this.textStart + start,
      end: this.textStart + end,
    };
  }

  /**
   * The function called exactly `name`, or undefined. Compares raw name bytes across the
   * function list without decoding other names: one pass, no index kept.
   */
  find(name: string): GoFunction | undefined {
    return this.findAll([name]).get(name);
  }

  /**
   * The functions called each of `names`, found in one pass over the table; names not
   * present are missing from the map. When a name occurs more than once (Go keeps an ABI
   * wrapper under the same name as the function it wraps), the one with the lowest
   * `funcID` wins: wrappers carry `FuncIDWrapper`, the highest ID of every release.
   */
  findAll(names: readonly string[]): Map<string, GoFunction> {
    const found = new Map<string, GoFunction>();
    const ids = new Map<string, number>();
    const wanted = names.map((n) => new TextEncoder().encode(n));
    // Bucket the queries by first byte so most functions cost one comparison.
    const byFirst = new Map<number, number[]>();
    wanted.forEach((q, k) => {
      const first = q[0] ?? 0;
      const list = byFirst.get(first) ?? [];
      list.push(k);
      byFirst.set(first, list);
    });
    const b = this.#bytes;
    for (let i = 0; i < this.count; i++) {
      const at = this.#nameAt(i);
      if (at < 0) continue;
      const candidates = byFirst.get(b[at]!);
      if (candidates === undefined) continue;
      for (const k of candidates) {
        const q = wanted[k]!;
        if (!matches(b, at, q)) continue;
        const fn = this.#function(i, at);
        if (fn === undefined) continue;
        const id = this.#funcID(i);
        const seen = ids.get(names[k]!);
        if (seen === undefined || id < seen) {
          found.set(names[k]!, fn);
          ids.set(names[k]!, id);
        }
      }
    }
    return found;
  }

  /** The `funcID` byte of function `i` (0 for ordinary functions), 255 if unreadable. */
  #funcID(i: number): number {
    const funcOff = this.#view.getUint32(this.#pclnOff + i * 8 + 4, true);
    const at = this.#pclnOff + funcOff + (this.version === "1.18" ? 36 : 40);
    return at < this.#bytes.length ? this.#bytes[at]! : 255;
  }

  /** Every sound function, in table (address) order. */
  *functions(): Generator<GoFunction> {
    for (let i = 0; i < this.count; i++) {
      const fn = this.#function(i, this.#nameAt(i));
      if (fn !== undefined) yield fn;
    }
  }

  /** The function whose code contains `pc`, or undefined (binary search by entry). */
  functionAt(pc: number): GoFunction | undefined {
    const off = pc - this.textStart;
    if (off < 0 || off >= this.#entryOff(this.count)) return undefined;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#entryOff(mid) <= off) lo = mid;
      else hi = mid - 1;
    }
    return this.#function(lo, this.#nameAt(lo));
  }
}

function matches(b: Uint8Array, at: number, q: Uint8Array): boolean {
  const n = q.length;
  if (at + n >= b.length) return false;
  for (let j = 0; j < n; j++) if (b[at + j] !== q[j]) return false;
  return b[at + n] === 0;
}
