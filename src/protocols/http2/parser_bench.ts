// Span-stage cost of HTTP/2 on the real captures: `deno bench -A src/protocols/http2/parser_bench.ts`.
import { PROTOCOLS } from "../../spans/registry.ts";
import { testConnection } from "../_test_connection.ts";
import { countingIds } from "../_test_wire.ts";
import { loadCapture } from "./_testdata.ts";
import { Http2Connection } from "./connection.ts";

const [nginx] = loadCapture("nginx_h2c"); // 4 requests multiplexed, one 20,000-byte body
const [grpc] = loadCapture("grpc_go"); // 3 calls

Deno.bench("http2: nginx connection, 4 streams, frames + HPACK + pairing (per connection)", () => {
  const c = new Http2Connection({ onExchange: () => {} });
  for (const p of nginx!) c.push(p.side, p.bytes, p.ns, 1);
  c.end();
});

Deno.bench("http2: the same through the registry connection to spans (per connection)", () => {
  const t = testConnection(PROTOCOLS, { ids: countingIds() });
  const pos = { ingress: 0, egress: 0 };
  for (const p of nginx!) {
    const direction = p.side === 0 ? "ingress" : "egress";
    t.conn.push({
      pid: 100,
      tid: 7,
      conn: "c1",
      secure: true,
      direction,
      pos: pos[direction],
      data: p.bytes,
      callEnd: pos[direction] + p.bytes.length,
      last: true,
      monoNs: p.ns,
    });
    pos[direction] += p.bytes.length;
  }
  t.conn.close();
  if (t.spans.length !== 4) throw new Error(`${t.spans.length} spans`);
});

Deno.bench("http2: grpc-go connection, 3 calls with message counting (per connection)", () => {
  const c = new Http2Connection({ onExchange: () => {} });
  for (const p of grpc!) c.push(p.side, p.bytes, p.ns, 1);
  c.end();
});
