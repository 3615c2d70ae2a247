/**
 * Go build information from the `.go.buildinfo` section: the toolchain version, the main
 * module and every dependency with its replacement, as `go version -m` prints them. The
 * section survives `-ldflags='-s -w'`.
 *
 * Layout (`src/debug/buildinfo/buildinfo.go`): the 14-byte magic `"\xff Go buildinf:"`,
 * the pointer size, a flags byte, then either (flag bit 2, Go 1.18+) two varint-length
 * strings inline from byte 32, or (Go 1.13-1.17) two pointers to Go string headers
 * elsewhere in the file. The module text is wrapped in 16-byte sentinels and has lines
 * `path`, `mod`, `dep`, `=>` (replacement of the line before) and `build`.
 *
 * @module
 */

/** A module: its path, version and checksum, and the module that replaced it, if any. */
export interface GoModule {
  /** Module path (`golang.org/x/net`). */
  path: string;
  /** Version (`v0.25.0`, or `(devel)` for the main module built from a checkout). */
  version: string;
  /** `h1:` checksum, "" when absent. */
  sum: string;
  /** The module that replaced this one (`=>` line), if any. */
  replace?: GoModule;
}

/** What a Go binary says about how it was built. */
export interface GoBuildInfo {
  /** Toolchain version, as `runtime.Version()` returns it (`go1.22.12`). */
  goVersion: string;
  /** Package path of the main package (`path` line), "" when absent. */
  path: string;
  /** The main module, when the binary was built in module mode. */
  main?: GoModule;
  /** Dependencies in the order recorded. */
  deps: GoModule[];
  /** `build` settings (`-ldflags`, `GOARCH`, `vcs.revision`, ...). */
  settings: Record<string, string>;
}

/** What {@linkcode parseBuildInfo} returns. */
export type GoBuildInfoResult = { ok: true; info: GoBuildInfo } | { ok: false; error: string };

/**
 * Reads `length` bytes at virtual address `vaddr` of the binary (for the pointer format),
 * or undefined when it cannot.
 */
export type ReadVirtual = (vaddr: number, length: number) => Uint8Array | undefined;

const MAGIC = [0xff, 0x20, 0x47, 0x6f, 0x20, 0x62, 0x75, 0x69, 0x6c, 0x64, 0x69, 0x6e, 0x66, 0x3a];
const HEADER = 32;
const FLAG_BIG_ENDIAN = 1;
const FLAG_INLINE = 2;
/** Longest string accepted from the section (module lists of big binaries are ~100 KB). */
const MAX_STRING = 16 * 1024 * 1024;
const UTF8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Parses the bytes of `.go.buildinfo`. `readVirtual` resolves pointers for Go 1.13-1.17
 * binaries; without it those give an error result. Never throws.
 *
 * @example
 * ```ts
 * import { parseBuildInfo } from "./buildinfo.ts";
 *
 * const result = parseBuildInfo(sectionBytes);
 * if (result.ok) result.info.goVersion; // "go1.22.12"
 * ```
 */
export function parseBuildInfo(bytes: Uint8Array, readVirtual?: ReadVirtual): GoBuildInfoResult {
  const fail = (error: string): GoBuildInfoResult => ({ ok: false, error });
  if (bytes.length < HEADER) {
    return fail(`the Go build information is truncated: ${bytes.length} bytes`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) return fail("no Go build information: the magic is missing");
  }
  const ptrSize = bytes[14]!;
  const flags = bytes[15]!;
  let version: string | undefined;
  let modinfo: string | undefined;
  if (flags & FLAG_INLINE) {
    const first = varString(bytes, HEADER);
    if (first === undefined) return fail("the Go build information is corrupt: bad version");
    const second = varString(bytes, first.next);
    if (second === undefined) return fail("the Go build information is corrupt: bad module list");
    version = first.text;
    modinfo = second.text;
  } else {
    if (ptrSize !== 4 && ptrSize !== 8) {
      return fail(`the Go build information is corrupt: pointer size ${ptrSize}`);
    }
    if (flags & FLAG_BIG_ENDIAN) return fail("big-endian Go binaries are not supported");
    if (readVirtual === undefined) {
      return fail(
        "the Go build information uses pointers (Go 1.13 to 1.17) and cannot be read here",
      );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ptr = (o: number) =>
      ptrSize === 8
        ? view.getUint32(o, true) + view.getUint32(o + 4, true) * 0x1_0000_0000
        : view.getUint32(o, true);
    version = pointedString(ptr(16), ptrSize, readVirtual);
    modinfo = pointedString(ptr(16 + ptrSize), ptrSize, readVirtual);
    if (version === undefined) {
      return fail("the Go build information points to a version string that cannot be read");
    }
    modinfo ??= "";
  }
  if (!/^go1|^devel/.test(version)) {
    return fail(`the Go build information is corrupt: version ${JSON.stringify(version)}`);
  }
  return { ok: true, info: parseModInfo(version, modinfo) };
}

function varString(b: Uint8Array, at: number): { text: string; next: number } | undefined {
  let n = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    if (i >= b.length || shift > 35) return undefined;
    const byte = b[i++]!;
    n += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) break;
  }
  if (n > MAX_STRING || i + n > b.length) return undefined;
  return { text: UTF8.decode(b.subarray(i, i + n)), next: i + n };
}

function pointedString(addr: number, ptrSize: number, read: ReadVirtual): string | undefined {
  const header = read(addr, 2 * ptrSize);
  if (header === undefined || header.length < 2 * ptrSize) return undefined;
  const v = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const at = ptrSize === 8
    ? v.getUint32(0, true) + v.getUint32(4, true) * 0x1_0000_0000
    : v.getUint32(0, true);
  const len = ptrSize === 8
    ? v.getUint32(8, true) + v.getUint32(12, true) * 0x1_0000_0000
    : v.getUint32(4, true);
  if (len === 0) return "";
  if (len > MAX_STRING) return undefined;
  const bytes = read(at, len);
  return bytes && UTF8.decode(bytes);
}

/** Parses the module text (sentinels included or not) into a {@linkcode GoBuildInfo}. */
export function parseModInfo(goVersion: string, text: string): GoBuildInfo {
  // The text is wrapped in 16-byte sentinels, the last preceded by a newline.
  if (text.length >= 33 && text[text.length - 17] === "\n") text = text.slice(16, -16);
  const info: GoBuildInfo = { goVersion, path: "", deps: [], settings: {} };
  let last: GoModule | undefined;
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("\t");
    const mod = (): GoModule => ({
      path: rest[0] ?? "",
      version: rest[1] ?? "",
      sum: rest[2] ?? "",
    });
    switch (key) {
      case "path":
        info.path = rest[0] ?? "";
        break;
      case "mod":
        info.main = last = mod();
        break;
      case "dep":
        last = mod();
        info.deps.push(last);
        break;
      case "=>":
        if (last !== undefined) last.replace = mod();
        break;
      case "build": {
        const setting = rest.join("\t");
        const eq = setting.indexOf("=");
        if (eq > 0) info.settings[setting.slice(0, eq)] = unquote(setting.slice(eq + 1));
        break;
      }
    }
  }
  return info;
}

function unquote(s: string): string {
  if (s.startsWith('"') && s.endsWith('"') && s.length >= 2) {
    try {
      return JSON.parse(s);
    } catch {
      return s;
    }
  }
  return s;
}
