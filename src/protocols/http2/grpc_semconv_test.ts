import assert from "node:assert/strict";
import { loadCapture, replay } from "./_testdata.ts";
import { grpcSpanPart } from "./grpc_semconv.ts";
import { GrpcMessages } from "./grpc_messages.ts";
import type { Http2Exchange } from "./connection.ts";

const [GRPC] = loadCapture("grpc_go");

Deno.test("grpc semconv: grpc-go calls as the server and the client see them", () => {
  const xs = replay(GRPC!).exchanges;
  const server = xs.map((x) => grpcSpanPart(x, "SERVER"));
  assert.deepEqual(
    server.map((p) => [p?.name, p?.attributes, p?.error, p?.statusName, p?.message]),
    [
      [
        "demo.Echo/Say",
        {
          "rpc.system": "grpc",
          "rpc.service": "demo.Echo",
          "rpc.method": "Say",
          "rpc.grpc.status_code": 0,
          "rpc.grpc.request.message_count": 1,
          "rpc.grpc.response.message_count": 1,
        },
        false,
        "OK",
        undefined,
      ],
      [
        "demo.Echo/Say",
        {
          "rpc.system": "grpc",
          "rpc.service": "demo.Echo",
          "rpc.method": "Say",
          "rpc.grpc.status_code": 5,
          "rpc.grpc.request.message_count": 1,
          "rpc.grpc.response.message_count": 0,
        },
        false,
        "NOT_FOUND",
        "failed as asked",
      ],
      [
        "demo.Echo/Count",
        {
          "rpc.system": "grpc",
          "rpc.service": "demo.Echo",
          "rpc.method": "Count",
          "rpc.grpc.status_code": 0,
          "rpc.grpc.request.message_count": 1,
          "rpc.grpc.response.message_count": 4,
        },
        false,
        "OK",
        undefined,
      ],
    ],
  );
  // NOT_FOUND is an error for the client, not for the server.
  assert.deepEqual(xs.map((x) => grpcSpanPart(x, "CLIENT")?.error), [false, true, false]);
});

Deno.test("grpc semconv: server errors are UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS", () => {
  const x = replay(GRPC!).exchanges[1]!;
  const withStatus = (code: number): Http2Exchange => ({
    ...x,
    response: {
      ...x.response!,
      headers: {
        ...x.response!.headers!,
        fields: [[":status", "200"], ["content-type", "application/grpc"], [
          "grpc-status",
          String(code),
        ]],
      },
    },
  });
  const serverErrors = [];
  for (let code = 0; code <= 16; code++) {
    if (grpcSpanPart(withStatus(code), "SERVER")!.error) serverErrors.push(code);
    assert.equal(grpcSpanPart(withStatus(code), "CLIENT")!.error, code !== 0);
  }
  assert.deepEqual(serverErrors, [2, 4, 12, 13, 14, 15]);
});

Deno.test("grpc semconv: not gRPC without the content-type or a /Service/Method path", () => {
  const x = replay(GRPC!).exchanges[0]!;
  const fields = x.request.headers!.fields.filter(([n]) => n !== "content-type");
  assert.equal(
    grpcSpanPart(
      { ...x, request: { ...x.request, headers: { ...x.request.headers!, fields } } },
      "SERVER",
    ),
    undefined,
  );
  const badPath = x.request.headers!.fields.map(([n, v]) =>
    [n, n === ":path" ? "/nope" : v] as [string, string]
  );
  assert.equal(
    grpcSpanPart({
      ...x,
      request: { ...x.request, headers: { ...x.request.headers!, fields: badPath } },
    }, "SERVER"),
    undefined,
  );
});

Deno.test("grpc messages: prefixes split across pieces, gaps inside messages, a gap over a prefix", () => {
  const m = new GrpcMessages();
  m.push(Uint8Array.of(0, 0, 0));
  m.push(Uint8Array.of(0, 3, 1, 2));
  m.push(1); // the third byte of the message, lost
  m.push(Uint8Array.of(1, 0, 0, 0, 0)); // an empty compressed message
  assert.deepEqual([m.count, m.exact, m.atBoundary], [2, true, true]);
  m.push(Uint8Array.of(0, 0));
  m.push(10); // covers the rest of a prefix
  assert.deepEqual([m.count, m.exact, m.atBoundary], [2, false, false]);
});
