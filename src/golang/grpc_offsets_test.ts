import assert from "node:assert/strict";
import {
  GRPC_OFFSETS,
  grpcOffsets,
  grpcStreamByPointer,
  withGrpcOffsets,
  withoutGrpcOffsets,
} from "./grpc_offsets.ts";
import { GO_OFFSET_ABSENT, resolveGoOffsets } from "./offsets.ts";

Deno.test("grpcOffsets: measured versions, their minor versions' other patches, nothing else", () => {
  assert.equal(grpcOffsets("v1.83.2"), GRPC_OFFSETS["v1.83.2"]);
  assert.equal(grpcOffsets("v1.83.0"), GRPC_OFFSETS["v1.83.2"]);
  assert.equal(grpcOffsets("v1.82.0")?.grpc_stream_id, 108);
  assert.equal(grpcOffsets("v1.76.1")?.grpc_stream_id, 0); // Stream.id first until v1.77
  assert.equal(grpcOffsets("v1.73.0"), undefined); // a minor version not measured
  assert.equal(grpcOffsets("v1.60.1"), undefined);
  assert.equal(grpcOffsets("v1.99.0"), undefined);
  assert.equal(grpcOffsets("v1.83.3-0.20260101000000-abcdef123456"), undefined);
  assert.equal(grpcOffsets("(devel)"), undefined);
});

Deno.test("withGrpcOffsets / withoutGrpcOffsets: fill from the table, or mark absent", () => {
  const r = resolveGoOffsets("go1.26.8");
  assert.ok(r.ok);
  assert.equal(r.offsets.grpc_st_peer, GO_OFFSET_ABSENT);
  assert.equal(withGrpcOffsets(r.offsets, "v1.60.0"), false);
  assert.equal(r.offsets.grpc_st_peer, GO_OFFSET_ABSENT);
  assert.equal(withGrpcOffsets(r.offsets, "v1.83.2"), true);
  assert.equal(r.offsets.grpc_st_peer, 56);
  assert.equal(r.offsets.tcpaddr_port, 24);
  withoutGrpcOffsets(r.offsets);
  assert.equal(r.offsets.grpc_st_peer, GO_OFFSET_ABSENT);
  assert.equal(r.offsets.tcpaddr_ip, GO_OFFSET_ABSENT);
});

Deno.test("grpcStreamByPointer: *Stream before v1.77, Stream since, unknown for pseudo-versions", () => {
  assert.equal(grpcStreamByPointer("v1.70.0"), 1);
  assert.equal(grpcStreamByPointer("v1.76.1"), 1);
  assert.equal(grpcStreamByPointer("v1.77.0"), 0);
  assert.equal(grpcStreamByPointer("v1.83.2"), 0);
  assert.equal(grpcStreamByPointer("v1.84.0-dev"), GO_OFFSET_ABSENT);
  assert.equal(grpcStreamByPointer("v0.0.0-20260101000000-abcdef123456"), GO_OFFSET_ABSENT);
});
