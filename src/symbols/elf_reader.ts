/**
 * Byte sources for the ELF reader: positioned reads from an open file or from bytes in
 * memory, behind one interface so that the fuzz harness runs exactly the parsing code
 * that reads real files.
 *
 * @module
 */

/**
 * A random-access source of bytes. Reads are synchronous and positioned; a read that does
 * not fit inside the source, or that fails, returns `undefined` instead of throwing.
 *
 * @example Reading the ELF magic from memory
 * ```ts
 * import { MemoryReader } from "./elf_reader.ts";
 *
 * const reader = new MemoryReader(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
 * reader.readAt(0, 4); // Uint8Array [0x7f, 0x45, 0x4c, 0x46]
 * reader.readAt(2, 4); // undefined: past the end
 * ```
 */
export interface ElfReader {
  /** Total size of the source in bytes. */
  readonly size: number;
  /** Bytes handed out by `readAt` so far (what a test counts to prove laziness). */
  readonly bytesRead: number;
  /** The last I/O failure as a plain phrase, if any read failed for a reason other than range. */
  readonly lastError: string | undefined;
  /**
   * Returns exactly `length` bytes starting at `offset`, or `undefined` when the range is
   * not inside the source or the read fails. The result may be a view into a shared
   * buffer: treat it as read-only.
   */
  readAt(offset: number, length: number): Uint8Array | undefined;
  /** Releases the source. Later reads return `undefined`. Safe to call twice. */
  close(): void;
}

/** Whether `[offset, offset + length)` is a valid range inside a source of `size` bytes. */
export function inRange(offset: number, length: number, size: number): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 &&
    length >= 0 && offset <= size && length <= size - offset;
}

/**
 * An {@linkcode ElfReader} over bytes already in memory. Reads are views, not copies.
 *
 * @example
 * ```ts
 * import { MemoryReader } from "./elf_reader.ts";
 *
 * const reader = new MemoryReader(Deno.readFileSync("/bin/true"));
 * const ident = reader.readAt(0, 16);
 * ```
 */
export class MemoryReader implements ElfReader {
  #bytes: Uint8Array;
  #bytesRead = 0;
  #closed = false;

  /** Wraps `bytes`; they are not copied, so do not change them while reading. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Total size in bytes. */
  get size(): number {
    return this.#bytes.length;
  }

  /** Bytes handed out so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Always `undefined`: memory reads fail only by range. */
  get lastError(): string | undefined {
    return undefined;
  }

  /** A view of `length` bytes at `offset`, or `undefined` when out of range or closed. */
  readAt(offset: number, length: number): Uint8Array | undefined {
    if (this.#closed || !inRange(offset, length, this.#bytes.length)) return undefined;
    this.#bytesRead += length;
    return this.#bytes.subarray(offset, offset + length);
  }

  /** Drops the reference to the bytes. */
  close(): void {
    this.#closed = true;
    this.#bytes = new Uint8Array(0);
  }
}

/**
 * An {@linkcode ElfReader} over an open file: each read is a seek plus reads into a fresh
 * buffer of exactly the requested size, so nothing beyond what is asked for is loaded.
 * The reader owns the file handle and closes it in {@linkcode FileReader.close}.
 *
 * @example
 * ```ts
 * import { FileReader } from "./elf_reader.ts";
 *
 * const file = await Deno.open("/bin/true");
 * const reader = new FileReader(file, (await file.stat()).size);
 * const ident = reader.readAt(0, 16);
 * reader.close();
 * ```
 */
export class FileReader implements ElfReader {
  #file: Deno.FsFile | undefined;
  #size: number;
  #bytesRead = 0;
  #lastError: string | undefined;

  /** Takes ownership of `file`, whose length is `size` bytes. */
  constructor(file: Deno.FsFile, size: number) {
    this.#file = file;
    this.#size = size;
  }

  /** File size in bytes, as it was when opened. */
  get size(): number {
    return this.#size;
  }

  /** Bytes read from the file so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** The last I/O failure, for example a file that shrank after it was opened. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Reads `length` bytes at `offset` into a new buffer, or `undefined` on any failure. */
  readAt(offset: number, length: number): Uint8Array | undefined {
    const file = this.#file;
    if (file === undefined || !inRange(offset, length, this.#size)) return undefined;
    const out = new Uint8Array(length);
    try {
      file.seekSync(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < length) {
        const n = file.readSync(out.subarray(done));
        if (n === null || n === 0) {
          this.#lastError = `the file ended at byte ${offset + done}, before its recorded size`;
          return undefined;
        }
        done += n;
      }
    } catch (err) {
      this.#lastError = err instanceof Error ? err.message : String(err);
      return undefined;
    }
    this.#bytesRead += length;
    return out;
  }

  /** Closes the file handle. */
  close(): void {
    const file = this.#file;
    this.#file = undefined;
    if (file === undefined) return;
    try {
      file.close();
    } catch {
      // Already closed elsewhere: nothing left to release.
    }
  }
}
