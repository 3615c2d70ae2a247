/**
 * Reading a message body front to back: NUL-terminated strings and the rest, for the SQL wire
 * parsers (a protocol's own integers are added by its reader). Never reads past the end.
 *
 * @module
 */
const UTF8 = new TextDecoder();

/** A position in a message body. */
export class Cursor {
  at = 0;
  constructor(readonly b: Uint8Array) {}

  /** Bytes not read yet. */
  get left(): number {
    return this.b.length - this.at;
  }

  /** A NUL-terminated string; undefined (nothing read) when there is no NUL. */
  cstring(): string | undefined {
    const end = this.b.indexOf(0, this.at);
    if (end < 0) return undefined;
    const s = UTF8.decode(this.b.subarray(this.at, end));
    this.at = end + 1;
    return s;
  }

  /** The rest up to a NUL or the end (a truncated text). */
  text(): { text: string; complete: boolean } {
    const end = this.b.indexOf(0, this.at);
    const stop = end < 0 ? this.b.length : end;
    const text = UTF8.decode(this.b.subarray(Math.min(this.at, stop), stop));
    this.at = end < 0 ? this.b.length : end + 1;
    return { text, complete: end >= 0 };
  }

  /** Everything left, as text. */
  rest(): string {
    const s = UTF8.decode(this.b.subarray(Math.min(this.at, this.b.length)));
    this.at = this.b.length;
    return s;
  }

  skip(n: number): void {
    this.at += n;
  }
}
