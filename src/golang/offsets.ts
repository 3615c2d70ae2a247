/**
 * The struct member offsets the Go probes read (`struct go_offsets` of
 * `bpf/uprobes/go.h`), for one binary: from its own DWARF when it has one, else from the
 * measured table by Go version (`src/symbols/go/offsets.ts`). A version the table does
 * not know gives an error, never a neighbour's offsets.
 *
 * @module
 */

import {
  type Dwarf,
  goOffsets,
  OFFSETS,
  type OffsetsTable,
  parseGoVersion,
} from "../symbols/go/mod.ts";
import { encodeU32Struct, type StructLayout } from "../../ffi/mod.ts";

/** Value of a member the binary's Go version does not have (`GO_OFFSET_ABSENT`). */
export const GO_OFFSET_ABSENT = 0xffffffff;

/** Where each `struct go_offsets` field comes from: [struct, member, required]. */
export const GO_OFFSET_FIELDS = {
  req_method: ["net/http.Request", "Method", true],
  req_url: ["net/http.Request", "URL", true],
  req_host: ["net/http.Request", "Host", true],
  req_content_length: ["net/http.Request", "ContentLength", true],
  req_remote_addr: ["net/http.Request", "RemoteAddr", true],
  req_tls: ["net/http.Request", "TLS", true],
  req_pattern: ["net/http.Request", "Pattern", false], // Go 1.23+
  req_pat: ["net/http.Request", "pat", false], // Go 1.22+
  pattern_str: ["net/http.pattern", "str", false], // Go 1.22+
  url_scheme: ["net/url.URL", "Scheme", true],
  url_host: ["net/url.URL", "Host", true],
  url_path: ["net/url.URL", "Path", true],
  url_raw_query: ["net/url.URL", "RawQuery", true],
  response_status: ["net/http.response", "status", true],
  resp_status_code: ["net/http.Response", "StatusCode", true],
  g_goid: ["runtime.g", "goid", true],
  g_parent_goid: ["runtime.g", "parentGoid", false],
  req_header: ["net/http.Request", "Header", false],
  req_proto_major: ["net/http.Request", "ProtoMajor", true],
  req_proto_minor: ["net/http.Request", "ProtoMinor", true],
  resp_proto_major: ["net/http.Response", "ProtoMajor", true],
  resp_proto_minor: ["net/http.Response", "ProtoMinor", true],
  // The bundled HTTP/2 server's ResponseWriter; absent where HTTP/2 is built out.
  h2_rw_rws: ["net/http.http2responseWriter", "rws", false],
  h2_rws_status: ["net/http.http2responseWriterState", "status", false],
  // x/net/http2's own server: from the binary's DWARF only (the table is by Go version).
  xnet_rw_rws: ["golang.org/x/net/http2.responseWriter", "rws", false],
  xnet_rws_status: ["golang.org/x/net/http2.responseWriterState", "status", false],
  // The connection under a request, for same-host links, and the buffer injection writes to.
  response_conn: ["net/http.response", "conn", false],
  conn_rwc: ["net/http.conn", "rwc", false],
  persist_conn: ["net/http.persistConn", "conn", false],
  tls_conn: ["crypto/tls.Conn", "conn", false],
  tcp_conn: ["net.TCPConn", "conn", false],
  conn_fd: ["net.conn", "fd", false],
  netfd_pfd: ["net.netFD", "pfd", false],
  pfd_sysfd: ["internal/poll.FD", "Sysfd", false],
  bufw_buf: ["bufio.Writer", "buf", false],
  bufw_n: ["bufio.Writer", "n", false],
  // HTTP/2 streams and their connections (same-host links keyed by stream).
  h2_rws_stream: ["net/http.http2responseWriterState", "stream", false],
  h2_stream_sc: ["net/http.http2stream", "sc", false],
  h2_stream_id: ["net/http.http2stream", "id", false],
  h2_sc_conn: ["net/http.http2serverConn", "conn", false],
  h2_cs_cc: ["net/http.http2clientStream", "cc", false],
  h2_cs_id: ["net/http.http2clientStream", "ID", false],
  h2_cc_tconn: ["net/http.http2ClientConn", "tconn", false],
  // grpc-go's server (its layout follows the grpc-go version: stripped binaries take
  // `grpc_offsets.ts`'s table), and the address type its transport reports.
  grpc_st_peer: ["google.golang.org/grpc/internal/transport.http2Server", "peer", false],
  grpc_ss_stream: ["google.golang.org/grpc/internal/transport.ServerStream", "Stream", false],
  grpc_stream_id: ["google.golang.org/grpc/internal/transport.Stream", "id", false],
  peer_addr: ["google.golang.org/grpc/peer.Peer", "Addr", false],
  peer_local_addr: ["google.golang.org/grpc/peer.Peer", "LocalAddr", false],
  grpc_cs_stream: ["google.golang.org/grpc/internal/transport.ClientStream", "Stream", false],
  grpc_h2c_local: ["google.golang.org/grpc/internal/transport.http2Client", "localAddr", false],
  grpc_h2c_remote: ["google.golang.org/grpc/internal/transport.http2Client", "remoteAddr", false],
  tcpaddr_ip: ["net.TCPAddr", "IP", false],
  tcpaddr_port: ["net.TCPAddr", "Port", false],
} as const satisfies Record<string, readonly [string, string, boolean]>;

/**
 * How Go lays out a map (`struct go_offsets.header_map`), for reading the request's
 * `traceparent` from `Request.Header`: classic buckets up to Go 1.23, swiss tables since
 * 1.24 (`GOEXPERIMENT=noswissmap` builds are taken for swiss: their header goes unread).
 */
export const GO_MAP_CLASSIC = 1;
export const GO_MAP_SWISS = 2;

/** A `struct go_offsets` field name. */
export type GoOffsetField = keyof typeof GO_OFFSET_FIELDS;

/**
 * Fields of `struct go_offsets` that are not struct members: the map layout, where the
 * ResponseWriters' `Header` methods lie relative to `serverHandler.ServeHTTP`, whether grpc-go's
 * `ServerStream` embeds its `Stream` by pointer (by grpc-go version), and grpc-go's
 * transport's `Close` and `net.(*TCPAddr).Network` relative to `(*Server).handleStream` and to the client's
 * `(*http2Client).NewStream` (set
 * by `locate.ts` from the function table; a u32 holding a signed distance).
 */
export type GoCodeField =
  | "header_map"
  | "rw_h1_header"
  | "rw_h2_header"
  | "rw_xnet_header"
  | "grpc_st_close"
  | "grpc_ss_stream_ptr"
  | "tcpaddr_network"
  | "tcpaddr_network_cl";

/** Offsets by `struct go_offsets` field; {@linkcode GO_OFFSET_ABSENT} where absent. */
export type GoProbeOffsets = Record<GoOffsetField | GoCodeField, number>;

/** What {@linkcode resolveGoOffsets} returns. */
export type GoOffsetsResolution =
  | { ok: true; offsets: GoProbeOffsets; source: "dwarf" | "table"; tableVersion?: string }
  | { ok: false; error: string };

function pick(
  lookup: (struct: string, member: string) => number | undefined,
): { ok: true; offsets: GoProbeOffsets } | { ok: false; missing: string[] } {
  const offsets = {
    header_map: GO_OFFSET_ABSENT,
    rw_h1_header: GO_OFFSET_ABSENT,
    rw_h2_header: GO_OFFSET_ABSENT,
    rw_xnet_header: GO_OFFSET_ABSENT,
    grpc_st_close: GO_OFFSET_ABSENT,
    grpc_ss_stream_ptr: GO_OFFSET_ABSENT,
    tcpaddr_network: GO_OFFSET_ABSENT,
    tcpaddr_network_cl: GO_OFFSET_ABSENT,
  } as GoProbeOffsets;
  const missing: string[] = [];
  for (const [field, [struct, member, required]] of Object.entries(GO_OFFSET_FIELDS)) {
    const off = lookup(struct, member);
    if (off === undefined && required) missing.push(`${struct}.${member}`);
    offsets[field as GoOffsetField] = off ?? GO_OFFSET_ABSENT;
  }
  // One source of the route: Request.Pattern (Go 1.23+) makes Request.pat irrelevant.
  if (offsets.req_pattern !== GO_OFFSET_ABSENT) {
    offsets.req_pat = GO_OFFSET_ABSENT;
    offsets.pattern_str = GO_OFFSET_ABSENT;
  }
  return missing.length === 0 ? { ok: true, offsets } : { ok: false, missing };
}

/**
 * The probes' offsets for a binary of Go `version`, from `dwarf` when given and complete,
 * else from the measured table.
 *
 * @example
 * ```ts
 * import { resolveGoOffsets } from "./offsets.ts";
 * const r = resolveGoOffsets("go1.22.12");
 * if (r.ok) r.offsets.req_method; // 0
 * ```
 */
export function resolveGoOffsets(
  version: string | undefined,
  dwarf?: Dwarf,
  table: OffsetsTable = OFFSETS,
): GoOffsetsResolution {
  if (dwarf !== undefined) {
    const cache = new Map<string, Map<string, number> | undefined>();
    const fromDwarf = pick((struct, member) => {
      if (!cache.has(struct)) cache.set(struct, dwarf.structMembers(struct));
      return cache.get(struct)?.get(member);
    });
    if (fromDwarf.ok) {
      return { ok: true, offsets: withMapLayout(fromDwarf.offsets, version), source: "dwarf" };
    }
  }
  if (version === undefined) {
    return { ok: false, error: "the Go version is unknown (no readable build information)" };
  }
  const known = goOffsets(version, table);
  if (!known.ok) return known;
  const fromTable = pick((struct, member) => known.offsets[struct]?.[member]);
  if (!fromTable.ok) {
    return {
      ok: false,
      error: `the offsets table for ${version} lacks ${fromTable.missing.join(", ")}`,
    };
  }
  return {
    ok: true,
    offsets: withMapLayout(fromTable.offsets, version),
    source: "table",
    tableVersion: known.version,
  };
}

function withMapLayout(offsets: GoProbeOffsets, version: string | undefined): GoProbeOffsets {
  const v = version === undefined ? undefined : parseGoVersion(version);
  if (v !== undefined && v[0] === 1) {
    offsets.header_map = v[1] >= 24 ? GO_MAP_SWISS : GO_MAP_CLASSIC;
  }
  return offsets;
}

/** Encodes offsets as the kernel's `struct go_offsets`, laid out by the object's BTF. */
export function encodeGoOffsets(
  offsets: GoProbeOffsets,
  layout: StructLayout,
): Uint8Array<ArrayBuffer> {
  return encodeU32Struct(layout, offsets);
}
