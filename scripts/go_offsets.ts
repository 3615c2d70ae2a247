/**
 * Measures the struct member offsets the Go probes need, per Go toolchain, and writes
 * `src/symbols/go/offsets.json`: `deno run -A scripts/go_offsets.ts`.
 *
 * For each toolchain (the latest patch release of each supported minor version, plus the
 * first patch release to check that a minor version's releases agree), it builds
 * `tests/fixtures/go/probe_target.go` with DWARF and reads the offsets with upspan's own
 * DWARF reader. Toolchains download through the Go module proxy on first use.
 *
 * @module
 */

import { buildGoFixture } from "../tests/go_fixtures.ts";
import { openGoBinary } from "../src/symbols/go/go_binary.ts";
import type { OffsetsTable, StructOffsets } from "../src/symbols/go/offsets.ts";

/** Latest patch release of each minor version served by the proxy (checked 2026-11). */
const LATEST = [
  "go1.19.13",
  "go1.20.14",
  "go1.21.13",
  "go1.22.12",
  "go1.23.12",
  "go1.24.13",
  "go1.25.14",
  "go1.26.11",
];
/** First patch releases, measured to check that patch releases agree. */
const FIRST = [
  "go1.19.0",
  "go1.20.0",
  "go1.21.0",
  "go1.22.0",
  "go1.23.0",
  "go1.24.0",
  "go1.25.0",
  "go1.26.0",
];

/**
 * Further releases measured exactly: go1.26.0 and go1.26.11 differ (net/http.response
 * was reordered in a 1.26 patch release), so the releases between are measured one by one.
 */
const EXTRA = ["go1.19.8", "go1.26.8", "go1.26.9", "go1.26.10"];

/** Structs that only some supported versions have. */
const OPTIONAL_STRUCTS = new Set(["net/http.pattern"]);

/** Struct → members the probes read. Members missing in a version are left out. */
const WANTED: Record<string, string[]> = {
  "runtime.g": ["goid", "parentGoid"],
  "net/http.pattern": ["str"],
  "net/http.Request": [
    "Method",
    "URL",
    "Host",
    "Header",
    "ContentLength",
    "ctx",
    "Pattern",
    "RemoteAddr",
    "Response",
    "RequestURI",
    "TLS",
    "pat",
    "ProtoMajor",
    "ProtoMinor",
  ],
  "net/url.URL": ["Scheme", "Host", "Path", "RawPath", "RawQuery"],
  "net/http.response": ["conn", "req", "status", "written", "contentLength", "wroteHeader"],
  "net/http.conn": ["rwc", "remoteAddr"],
  // The client's connection, for the address pair a request goes out on.
  "net/http.persistConn": ["conn"],
  // The buffer a request's header lines are written into (traceparent injection).
  "bufio.Writer": ["buf", "n"],
  "net/http.Response": [
    "StatusCode",
    "ContentLength",
    "Header",
    "Request",
    "ProtoMajor",
    "ProtoMinor",
  ],
  // The HTTP/2 server's ResponseWriter (h2_bundle.go): a pointer to its state.
  "net/http.http2responseWriter": ["rws"],
  "net/http.http2responseWriterState": ["status", "stream"],
  // HTTP/2 connections under a stream, server and client side (same-host links).
  "net/http.http2stream": ["sc", "id"],
  "net/http.http2serverConn": ["conn"],
  "net/http.http2clientStream": ["cc", "ID"],
  "net/http.http2ClientConn": ["tconn"],
  "crypto/tls.Conn": ["conn", "isClient"],
  "net.TCPConn": ["conn"],
  "net.conn": ["fd"],
  "net.netFD": ["pfd", "laddr", "raddr", "family", "sotype"],
  "internal/poll.FD": ["Sysfd"],
  "net.TCPAddr": ["IP", "Port"],
  "database/sql.DB": ["connector", "numOpen"],
  "database/sql.Conn": ["db", "dc"],
  "database/sql.Tx": ["db", "stmts"],
  "database/sql.Stmt": ["db", "query"],
  "database/sql.driverConn": ["db", "ci"],
};

function measure(toolchain: string): Promise<StructOffsets> {
  return (async () => {
    const built = buildGoFixture(toolchain);
    if (!built.ok) throw new Error(built.error);
    const opened = await openGoBinary(built.path);
    if (!opened.ok) throw new Error(opened.error);
    using bin = opened.binary;
    const dwarf = bin.dwarf();
    if (!dwarf.ok) throw new Error(dwarf.error);
    const out: StructOffsets = {};
    for (const [struct, members] of Object.entries(WANTED)) {
      const all = dwarf.dwarf.structMembers(struct);
      if (all === undefined) {
        // A struct only some versions have (net/http.pattern: Go 1.22+) is left out there.
        if (OPTIONAL_STRUCTS.has(struct)) continue;
        throw new Error(`${toolchain}: no struct ${struct} in DWARF`);
      }
      const picked: Record<string, number> = {};
      for (const m of members) {
        const off = all.get(m);
        if (off !== undefined) picked[m] = off;
      }
      out[struct] = picked;
    }
    return out;
  })();
}

/**
 * Per minor version, runs of consecutive measured patch releases with identical offsets:
 * a release between two measured ones that agree is taken to agree too.
 */
function verifiedRanges(go: Record<string, StructOffsets>): OffsetsTable["verifiedRange"] {
  const out: OffsetsTable["verifiedRange"] = {};
  const byMinor = new Map<string, string[]>();
  for (const v of Object.keys(go)) {
    const minor = v.split(".").slice(0, 2).join(".");
    byMinor.set(minor, [...(byMinor.get(minor) ?? []), v]);
  }
  for (const [minor, versions] of byMinor) {
    versions.sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2]));
    const ranges: { first: string; last: string }[] = [];
    for (const v of versions) {
      const last = ranges.at(-1);
      if (last && JSON.stringify(go[last.last]) === JSON.stringify(go[v])) last.last = v;
      else ranges.push({ first: v, last: v });
    }
    out[minor] = ranges.filter((r) => r.first !== r.last);
  }
  return out;
}

if (import.meta.main) {
  const table: OffsetsTable = {
    comment: "Written by scripts/go_offsets.ts from each toolchain's DWARF; do not edit.",
    pointerSize: 8,
    go: {},
    verifiedRange: {},
    modules: {},
  };
  for (const version of [...LATEST, ...FIRST, ...EXTRA]) {
    try {
      console.error(`measuring ${version}`);
      table.go[version] = await measure(version);
    } catch (err) {
      if (LATEST.includes(version)) throw err;
      console.error(`skipping ${version}: ${err instanceof Error ? err.message : err}`);
    }
  }
  table.verifiedRange = verifiedRanges(table.go);
  const out = new URL("../src/symbols/go/offsets.json", import.meta.url);
  await Deno.writeTextFile(out, JSON.stringify(table, null, 2) + "\n");
  console.error(`wrote ${out.pathname}`);
}
