/**
 * grpc-go's struct offsets for binaries without DWARF, by grpc-go module version (from the
 * binary's build information): its server's layout follows grpc-go, not Go — the members
 * before those read hold only grpc-go's own types and pointers, and `net.TCPAddr` (IP, Port,
 * Zone) has kept its layout since Go 1. Measured from the DWARF of the gRPC fixture
 * (`tests/targets/go/grpc/`) built against each version (`deno task offsets:grpc`). A
 * version not here gets no handler probe: its calls' children stay without that parent.
 *
 * @module
 */
import { GO_OFFSET_ABSENT, type GoProbeOffsets } from "./offsets.ts";

/** The `struct go_offsets` fields grpc-go's layout decides. */
export type GrpcOffsetField =
  | "grpc_st_peer"
  | "grpc_ss_stream"
  | "grpc_stream_id"
  | "peer_addr"
  | "peer_local_addr"
  | "tcpaddr_ip"
  | "tcpaddr_port";

type GrpcOffsets = Record<GrpcOffsetField, number>;

const V1_83: GrpcOffsets = {
  grpc_st_peer: 56,
  grpc_ss_stream: 0,
  grpc_stream_id: 108,
  peer_addr: 0,
  peer_local_addr: 16,
  tcpaddr_ip: 0,
  tcpaddr_port: 24,
};

const FIELDS = Object.keys(V1_83) as GrpcOffsetField[];

/** Measured versions. */
export const GRPC_OFFSETS: Readonly<Record<string, GrpcOffsets>> = {
  "v1.83.2": V1_83,
};

/**
 * Fills grpc-go's fields of `offsets` from the table when its DWARF did not give them;
 * false when the version is not in the table (the fields stay absent).
 */
export function withGrpcOffsets(offsets: GoProbeOffsets, grpcVersion: string): boolean {
  const known = GRPC_OFFSETS[grpcVersion];
  if (known === undefined) return false;
  Object.assign(offsets, known);
  return true;
}

/** Marks grpc-go's fields absent: a binary without grpc-go has nothing of them to read. */
export function withoutGrpcOffsets(offsets: GoProbeOffsets): void {
  for (const f of FIELDS) offsets[f] = GO_OFFSET_ABSENT;
}
