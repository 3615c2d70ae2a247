import assert from "node:assert/strict";
import { encodeGoOffsets, GO_OFFSET_ABSENT, resolveGoOffsets } from "./offsets.ts";
import type { StructLayout } from "../../ffi/mod.ts";

Deno.test("resolveGoOffsets: the table by version, routes per Go version", () => {
  const v121 = resolveGoOffsets("go1.21.13");
  assert.ok(v121.ok);
  assert.equal(v121.source, "table");
  assert.equal(v121.offsets.req_method, 0);
  assert.equal(v121.offsets.req_pattern, GO_OFFSET_ABSENT);
  assert.equal(v121.offsets.req_pat, GO_OFFSET_ABSENT);

  const v122 = resolveGoOffsets("go1.22.12");
  assert.ok(v122.ok);
  assert.equal(v122.offsets.req_pattern, GO_OFFSET_ABSENT);
  assert.equal(v122.offsets.req_pat, 248);
  assert.equal(v122.offsets.pattern_str, 0);

  const v123 = resolveGoOffsets("go1.23.12");
  assert.ok(v123.ok);
  assert.equal(v123.offsets.req_pattern, 232);
  assert.equal(v123.offsets.g_goid, 160);
  assert.equal(v123.offsets.g_parent_goid, 280);
  // A patch release inside a verified range takes its minor version's supplement too.
  const v124 = resolveGoOffsets("go1.24.5");
  assert.ok(v124.ok);
  assert.equal(v124.offsets.g_parent_goid, 280);

  // A patch release that moved net/http.response.status.
  const a = resolveGoOffsets("go1.26.8");
  const b = resolveGoOffsets("go1.26.11");
  assert.ok(a.ok && b.ok);
  assert.notEqual(a.offsets.response_status, b.offsets.response_status);

  // The HTTP/2 server's status, for every supported minor version.
  for (const v of ["go1.19.13", "go1.20.14", "go1.21.13", "go1.25.14", "go1.26.11"]) {
    const r = resolveGoOffsets(v);
    assert.ok(r.ok, v);
    assert.equal(r.offsets.h2_rw_rws, 0, v);
    assert.notEqual(r.offsets.h2_rws_status, GO_OFFSET_ABSENT, v);
    assert.notEqual(r.offsets.req_proto_major, GO_OFFSET_ABSENT, v);
  }
});

Deno.test("resolveGoOffsets: an unknown version is an error, never a guess", () => {
  const r = resolveGoOffsets("go1.99.0");
  assert.ok(!r.ok);
  assert.match(r.error, /no struct offsets are known for Go version go1\.99\.0/);
  const none = resolveGoOffsets(undefined);
  assert.ok(!none.ok);
  const devel = resolveGoOffsets("devel go1.27-abcdef");
  assert.ok(!devel.ok);
});

Deno.test("resolveGoOffsets: DWARF first, the table when DWARF lacks a member", () => {
  const members: Record<string, Record<string, number>> = {
    "net/http.Request": {
      Method: 1,
      URL: 2,
      Host: 3,
      ContentLength: 4,
      RemoteAddr: 5,
      TLS: 6,
      Pattern: 7,
      ProtoMajor: 15,
      ProtoMinor: 16,
    },
    "net/url.URL": { Scheme: 8, Host: 9, Path: 10, RawQuery: 11 },
    "net/http.response": { status: 12 },
    "net/http.Response": { StatusCode: 13, ProtoMajor: 17, ProtoMinor: 18 },
    "runtime.g": { goid: 14 },
  };
  const dwarf = {
    structMembers: (s: string) => {
      const m = members[s];
      return m === undefined ? undefined : new Map(Object.entries(m));
    },
  } as unknown as Parameters<typeof resolveGoOffsets>[1];
  const r = resolveGoOffsets("go1.99.0", dwarf);
  assert.ok(r.ok);
  assert.equal(r.source, "dwarf");
  assert.equal(r.offsets.req_pattern, 7);
  assert.equal(r.offsets.req_pat, GO_OFFSET_ABSENT);
  assert.equal(r.offsets.g_parent_goid, GO_OFFSET_ABSENT);
  // No HTTP/2 server in the binary's DWARF: its status is left unread, never guessed.
  assert.equal(r.offsets.h2_rws_status, GO_OFFSET_ABSENT);
  assert.equal(r.offsets.req_proto_major, 15);
  delete members["net/http.response"];
  const fallback = resolveGoOffsets("go1.22.12", dwarf);
  assert.ok(fallback.ok);
  assert.equal(fallback.source, "table");
  assert.ok(!resolveGoOffsets("go1.99.0", dwarf).ok);
});

Deno.test("encodeGoOffsets: by the BTF layout, little-endian u32", () => {
  const r = resolveGoOffsets("go1.22.12");
  assert.ok(r.ok);
  const fields: StructLayout["fields"] = {};
  Object.keys(r.offsets).forEach((name, i) => fields[name] = { offset: 4 * i, size: 4 });
  const layout: StructLayout = { name: "go_offsets", size: 4 * Object.keys(fields).length, fields };
  const bytes = encodeGoOffsets(r.offsets, layout);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(fields["req_url"]!.offset, true), r.offsets.req_url);
  assert.equal(view.getUint32(fields["req_pattern"]!.offset, true), GO_OFFSET_ABSENT);
  delete fields["req_tls"];
  assert.throws(() => encodeGoOffsets(r.offsets, layout), /req_tls/);
});
