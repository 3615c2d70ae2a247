/**
 * grpc-go's struct offsets for binaries without DWARF, by grpc-go module version (from the
 * binary's build information): its server's and client's layout follows grpc-go, not Go -- the members
 * before those read hold only grpc-go's own types and pointers, and `net.TCPAddr` (IP, Port,
 * Zone) has kept its layout since Go 1. Measured from the DWARF of the gRPC fixture
 * (`tests/targets/go/grpc/`) built against each version (`deno task offsets:grpc`); a patch
 * release of a measured minor version takes its sibling's. Another version without DWARF gets
 * no handler or client probe: its handlers' calls stay without that parent.
 *
 * @module
 */
import { GO_OFFSET_ABSENT, type GoProbeOffsets } from "./offsets.ts";

/** The `struct go_offsets` fields grpc-go's layout decides. */
export type GrpcOffsetField =
  | "grpc_st_peer"
  | "grpc_ss_stream"
  | "grpc_stream_id"
  | "grpc_cs_stream"
  | "grpc_h2c_local"
  | "grpc_h2c_remote"
  | "peer_addr"
  | "peer_local_addr"
  | "tcpaddr_ip"
  | "tcpaddr_port";

type GrpcOffsets = Record<GrpcOffsetField, number>;

/** v1.70 to v1.76: Stream.id is Stream's first member. */
const LAYOUT_V1_70: GrpcOffsets = {
  grpc_st_peer: 56,
  grpc_ss_stream: 0,
  grpc_stream_id: 0,
  grpc_cs_stream: 0,
  grpc_h2c_local: 168,
  grpc_h2c_remote: 152,
  peer_addr: 0,
  peer_local_addr: 16,
  tcpaddr_ip: 0,
  tcpaddr_port: 24,
};

/** v1.77 to v1.85: Stream.id after its pointer members. */
const LAYOUT: GrpcOffsets = { ...LAYOUT_V1_70, grpc_stream_id: 108 };

const FIELDS = Object.keys(LAYOUT) as GrpcOffsetField[];

/** Measured versions (`deno task offsets:grpc`): one release or more of each minor version. */
export const GRPC_OFFSETS: Readonly<Record<string, GrpcOffsets>> = {
  "v1.70.0": LAYOUT_V1_70,
  "v1.72.2": LAYOUT_V1_70,
  "v1.74.3": LAYOUT_V1_70,
  "v1.75.1": LAYOUT_V1_70,
  "v1.76.0": LAYOUT_V1_70,
  "v1.77.0": LAYOUT,
  "v1.78.0": LAYOUT,
  "v1.79.3": LAYOUT,
  "v1.80.0": LAYOUT,
  "v1.81.1": LAYOUT,
  "v1.82.1": LAYOUT,
  "v1.83.1": LAYOUT,
  "v1.83.2": LAYOUT,
  "v1.84.0": LAYOUT,
  "v1.85.0": LAYOUT,
};

/** "v1.83.2" -> "v1.83"; undefined for anything else (a pseudo-version, a pre-release). */
function minor(version: string): string | undefined {
  return /^(v\d+\.\d+)\.\d+$/.exec(version)?.[1];
}

/** The offsets of `version`: measured, or those of a measured release of its minor version. */
export function grpcOffsets(version: string): GrpcOffsets | undefined {
  const exact = GRPC_OFFSETS[version];
  if (exact !== undefined) return exact;
  const m = minor(version);
  if (m === undefined) return undefined;
  const sibling = Object.keys(GRPC_OFFSETS).find((v) => minor(v) === m);
  return sibling === undefined ? undefined : GRPC_OFFSETS[sibling];
}

/**
 * `struct go_offsets.grpc_ss_stream_ptr` for a grpc-go version: 1 where `ServerStream` embeds
 * `*Stream` (v1.70 to v1.76; before v1.70 there is no `ServerStream`, and its DWARF or the
 * table says so), 0 where it embeds `Stream` (v1.77 on), absent for a version that is not a
 * release (a pseudo-version or a pre-release: which one is unknown).
 */
export function grpcStreamByPointer(version: string): number {
  const m = /^v1\.(\d+)\.\d+$/.exec(version);
  if (m === null) return GO_OFFSET_ABSENT;
  return Number(m[1]) < 77 ? 1 : 0;
}

/**
 * Fills grpc-go's fields of `offsets` from the table when its DWARF did not give them;
 * false when the version is not in the table (the fields stay absent).
 */
export function withGrpcOffsets(offsets: GoProbeOffsets, grpcVersion: string): boolean {
  const known = grpcOffsets(grpcVersion);
  if (known === undefined) return false;
  Object.assign(offsets, known);
  return true;
}

/** Marks grpc-go's fields absent: a binary without grpc-go has nothing of them to read. */
export function withoutGrpcOffsets(offsets: GoProbeOffsets): void {
  for (const f of FIELDS) offsets[f] = GO_OFFSET_ABSENT;
  offsets.grpc_ss_stream_ptr = GO_OFFSET_ABSENT;
}
