/**
 * Where to probe one Go process: the file offsets of each probed function's entry and
 * `RET` instructions (from the function table, so stripped binaries work too) and the
 * struct member offsets to load for it, or one plain sentence saying why it cannot be
 * probed (not Go, not x86-64, a Go version with no known offsets, nothing to probe).
 *
 * @module
 */

import type { MappedFile } from "../discovery/mod.ts";
import { type OffsetsTable, openGoBinary } from "../symbols/go/mod.ts";
import { entryShiftAt } from "../symbols/mod.ts";
import { GO_PROBES, type GoProbeGroup } from "./probes.ts";
import { goSqlSystem } from "./sql_driver.ts";
import { grpcStreamByPointer, withGrpcOffsets, withoutGrpcOffsets } from "./grpc_offsets.ts";
import type { SqlSystem } from "../protocols/sql/semconv.ts";
import {
  GO_OFFSET_ABSENT,
  GO_OFFSET_FIELDS,
  type GoOffsetField,
  type GoProbeOffsets,
  resolveGoOffsets,
} from "./offsets.ts";

/** One uprobe to attach. */
export interface GoProbeSite {
  /** The probed function. */
  symbol: string;
  /** The program of `go.bpf.o` to attach. */
  program: string;
  /** At the function's entry, at one of its `RET`s or at one of its calls. */
  at: "entry" | "return" | "call";
  /** File offset of the instruction. */
  fileOffset: number;
  /**
   * How far past the function's entry an entry probe sits, where the kernel emulates the
   * instruction (see `entryShift`); the program's cookie. 0 for returns.
   */
  shift: number;
  /** What the probe is for. */
  group: GoProbeGroup;
}

/** Where and how to probe a Go binary. */
export interface GoLocation {
  /** The file probes attach to (`/proc/PID/exe` for a process). */
  path: string;
  /** The toolchain version from the binary's build information. */
  version: string;
  /** Where the struct offsets came from. */
  offsetsSource: "dwarf" | "table";
  /** Offsets to load into `go_offsets` for the process. */
  offsets: GoProbeOffsets;
  /** Every probe to attach. */
  sites: GoProbeSite[];
  /** Probed functions the binary lacks or that could not be decoded, with the reason. */
  skipped: { symbol: string; reason: string }[];
  /** The database its database/sql driver talks to, from its build information. */
  sqlSystem: SqlSystem;
  /**
   * The grpc-go module version (`google.golang.org/grpc`) the binary links, if any: its
   * calls run over grpc-go's own HTTP/2 transport, which no net/http probe sees.
   */
  grpc?: string;
}

/** What {@linkcode locateGo} returns. */
export type GoLocateResult = { ok: true; location: GoLocation } | { ok: false; error: string };

/** Options for {@linkcode locateGo}. */
export interface LocateGoOptions {
  /** The offsets table to use for stripped binaries. Default: the bundled one. */
  table?: OffsetsTable;
  /** Treat the binary as built by this Go version (tests of unknown versions). */
  versionOverride?: string;
  /** Ignore the binary's DWARF and use the table. Default false. */
  ignoreDwarf?: boolean;
  /**
   * Follow goroutines (probe `runtime.newproc1`) so that spans made in goroutines a
   * handler starts are its children. Costs two probe hits per goroutine started by the
   * process. Default true.
   */
  followGoroutines?: boolean;
  /**
   * Probe where a client request's header lines are written, to add a `traceparent` there.
   * Default false.
   */
  injectTraceparent?: boolean;
}

const SERVE_HTTP = "net/http.serverHandler.ServeHTTP";
/** The `Header` methods of the ResponseWriters whose status the server probe reads. */
const H1_HEADER = "net/http.(*response).Header";
const H2_HEADER = "net/http.(*http2responseWriter).Header";
const XNET_HEADER = "golang.org/x/net/http2.(*responseWriter).Header";
const WRITER_METHODS = [H1_HEADER, H2_HEADER, XNET_HEADER];
const HANDLE_STREAM = "google.golang.org/grpc.(*Server).handleStream";
/** The first methods of the itabs grpc-go's handler probe checks (see `go_grpc.h`). */
const GRPC_TRANSPORT_CLOSE = "google.golang.org/grpc/internal/transport.(*http2Server).Close";
const TCP_ADDR_NETWORK = "net.(*TCPAddr).Network";
const NEW_STREAM = "google.golang.org/grpc/internal/transport.(*http2Client).NewStream";

/**
 * Where each known ResponseWriter's `Header` method lies, as a u32 holding its signed
 * distance from `ServeHTTP`'s entry: the server probe compares a handler's writer's itab
 * against them, so a writer is never read as another.
 */
function placeWriters(
  offsets: GoProbeOffsets,
  found: Map<string, { entry: number }>,
): void {
  const place = placer(found, SERVE_HTTP);
  offsets.rw_h1_header = place(H1_HEADER);
  offsets.rw_h2_header = place(H2_HEADER);
  offsets.rw_xnet_header = place(XNET_HEADER);
  const placeGrpc = placer(found, HANDLE_STREAM);
  offsets.grpc_st_close = placeGrpc(GRPC_TRANSPORT_CLOSE);
  offsets.tcpaddr_network = placeGrpc(TCP_ADDR_NETWORK);
  offsets.tcpaddr_network_cl = placer(found, NEW_STREAM)(TCP_ADDR_NETWORK);
}

function removeWhere<T>(xs: T[], drop: (x: T) => boolean): void {
  for (let i = xs.length - 1; i >= 0; i--) if (drop(xs[i]!)) xs.splice(i, 1);
}

/** A function's distance from `from`'s entry, as a u32; absent when either is missing. */
function placer(found: Map<string, { entry: number }>, from: string) {
  const base = found.get(from)?.entry;
  return (name: string) => {
    const at = found.get(name)?.entry;
    return base === undefined || at === undefined ? GO_OFFSET_ABSENT : (at - base) >>> 0;
  };
}

/** Offsets each optional group needs; without them the group is not probed. */
const SOCKET_NEEDS: (keyof GoProbeOffsets)[] = [
  "tls_conn",
  "tcp_conn",
  "conn_fd",
  "netfd_pfd",
  "pfd_sysfd",
];
const GROUP_NEEDS: Partial<Record<GoProbeGroup, (keyof GoProbeOffsets)[]>> = {
  goroutines: ["g_parent_goid"],
  "http.link": ["persist_conn", ...SOCKET_NEEDS],
  "http2.link": ["req_header", "h2_cs_cc", "h2_cs_id", "h2_cc_tconn", ...SOCKET_NEEDS],
  inject: ["req_header", "bufw_buf", "bufw_n"],
  "grpc.server": [
    "grpc_st_close",
    "tcpaddr_network",
    "grpc_st_peer",
    "grpc_ss_stream",
    "grpc_ss_stream_ptr",
    "grpc_stream_id",
    "peer_addr",
    "peer_local_addr",
    "tcpaddr_ip",
    "tcpaddr_port",
  ],
  "grpc.client": [
    "tcpaddr_network_cl",
    "grpc_cs_stream",
    "grpc_ss_stream_ptr",
    "grpc_stream_id",
    "grpc_h2c_local",
    "grpc_h2c_remote",
    "tcpaddr_ip",
    "tcpaddr_port",
  ],
};

/**
 * Locates the probe sites of a process (`{ pid }`, probed through `/proc/PID/exe`) or a
 * file (`{ path }`). Never throws.
 *
 * @example
 * ```ts ignore
 * const r = await locateGo({ pid: 1234 });
 * if (!r.ok) console.error(r.error); // e.g. "... is not a Go executable ..."
 * else r.location.sites.length; // entry + RET probes
 * ```
 */
export async function locateGo(
  target: { pid: number } | { path: string | MappedFile },
  options: LocateGoOptions = {},
): Promise<GoLocateResult> {
  const source = "pid" in target ? `/proc/${target.pid}/exe` : target.path;
  const path = typeof source === "string" ? source : source.hostPath;
  const opened = await openGoBinary(source);
  if (!opened.ok) return { ok: false, error: opened.error };
  using bin = opened.binary;
  const info = bin.buildInfo();
  const version = options.versionOverride ?? bin.version;
  if (version === undefined) {
    return { ok: false, error: `${path}: its Go build information is unreadable; no probes` };
  }
  const dwarf = options.ignoreDwarf ? undefined : bin.dwarf();
  const resolved = resolveGoOffsets(version, dwarf?.ok ? dwarf.dwarf : undefined, options.table);
  if (!resolved.ok) {
    return { ok: false, error: `${path} (${version}): ${resolved.error}; no probes attached` };
  }
  const grpc = info.ok
    ? info.info.deps.find((d) => d.path === "google.golang.org/grpc")?.version
    : undefined;
  if (grpc === undefined) withoutGrpcOffsets(resolved.offsets);
  else {
    if (resolved.offsets.grpc_st_peer === GO_OFFSET_ABSENT) withGrpcOffsets(resolved.offsets, grpc);
    resolved.offsets.grpc_ss_stream_ptr = grpcStreamByPointer(grpc);
  }
  const sites: GoProbeSite[] = [];
  const skipped: { symbol: string; reason: string }[] = [];
  const found = bin.findFunctions([
    ...GO_PROBES.map((p) => p.symbol),
    ...GO_PROBES.flatMap((p) => p.call ? [p.call.callee] : []),
    ...WRITER_METHODS,
    GRPC_TRANSPORT_CLOSE,
    TCP_ADDR_NETWORK,
  ]);
  placeWriters(resolved.offsets, found);
  const follow = options.followGoroutines ?? true;
  for (const probe of GO_PROBES) {
    if (probe.group === "goroutines" && !follow) continue;
    if (probe.group === "inject" && !options.injectTraceparent) continue;
    const replaced = probe.fallbackFor ?? [];
    if (replaced.length && replaced.every((f) => sites.some((s) => s.symbol === f))) continue;
    const grpcGroup = probe.group === "grpc.server" || probe.group === "grpc.client";
    if (grpcGroup && grpc === undefined) continue;
    const unknown = (GROUP_NEEDS[probe.group] ?? []).filter((f) =>
      resolved.offsets[f] === GO_OFFSET_ABSENT
    );
    if (unknown.length > 0) {
      const names = unknown.map((f) =>
        f in GO_OFFSET_FIELDS ? GO_OFFSET_FIELDS[f as GoOffsetField].join(".") : f
      );
      const layout = unknown.some((f) => f in GO_OFFSET_FIELDS);
      const reason = !grpcGroup
        ? `${names.join(", ")} unknown`
        : layout
        ? `grpc-go ${grpc}'s layout unknown (no DWARF, not in the table)`
        : `${
          probe.group === "grpc.server" ? GRPC_TRANSPORT_CLOSE : NEW_STREAM
        } or ${TCP_ADDR_NETWORK} not in the binary`;
      skipped.push({ symbol: probe.symbol, reason });
      continue;
    }
    const fn = found.get(probe.symbol);
    if (fn === undefined) {
      if (!probe.optional) skipped.push({ symbol: probe.symbol, reason: "not in the binary" });
      continue;
    }
    const rets = probe.ret === undefined
      ? { ok: true as const, fileOffsets: [] }
      : bin.retOffsets(fn);
    if (!rets.ok || (probe.ret !== undefined && rets.fileOffsets.length === 0)) {
      skipped.push({ symbol: probe.symbol, reason: rets.ok ? "no RET found" : rets.error });
      continue;
    }
    const base = { symbol: probe.symbol, group: probe.group };
    if (probe.entry !== undefined) {
      const shift = entryShiftAt(bin.elf, fn.fileOffset);
      const fileOffset = fn.fileOffset + shift;
      sites.push({ ...base, program: probe.entry, at: "entry", fileOffset, shift });
    }
    for (const off of rets.fileOffsets) {
      sites.push({ ...base, program: probe.ret!, at: "return", fileOffset: off, shift: 0 });
    }
    const callee = probe.call && found.get(probe.call.callee);
    for (const off of callee ? bin.callOffsets(fn, callee.entry, probe.call!.after) : []) {
      sites.push({ ...base, program: probe.call!.program, at: "call", fileOffset: off, shift: 0 });
    }
    // In their stead: what they left placed would end a request twice.
    if (replaced.length) removeWhere(sites, (s) => replaced.includes(s.symbol));
  }
  // x/net's server is probed whole or not at all: a request begun at runHandler that never
  // ended at handlerDone would also silence the ServeHTTP it passes through.
  const xnet = sites.filter((s) => s.group === "xnet.server");
  if (xnet.length === 1) sites.splice(sites.indexOf(xnet[0]!), 1);
  if (!sites.some((s) => ["http.server", "http.client", "sql"].includes(s.group))) {
    return {
      ok: false,
      error: `${path} (${version}) uses neither net/http nor database/sql; nothing to probe`,
    };
  }
  return {
    ok: true,
    location: {
      path,
      version,
      offsetsSource: resolved.source,
      offsets: resolved.offsets,
      sites,
      skipped,
      sqlSystem: goSqlSystem(info.ok ? info.info.deps.map((d) => d.path) : []),
      ...(grpc === undefined ? {} : { grpc }),
    },
  };
}
