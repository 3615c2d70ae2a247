import assert from "node:assert/strict";
import { clientToServer, PeerLinks, sameRequest } from "./peer_links.ts";
import type { SocketInfo } from "../model/stream_chunk.ts";

const ctx = (n: number) => ({ traceId: `t${n}`, spanId: `s${n}`, parentSpanId: "" });

Deno.test("peer links: both ends name a connection the same way", () => {
  const base = { pid: 1, conn: "c", socket: "s", fd: 3, monoNs: 0n, callMonoNs: 0n };
  const client: SocketInfo = {
    ...base,
    family: "ipv6",
    localAddress: "::1",
    localPort: 50000,
    peerAddress: "::1",
    peerPort: 443,
  };
  const server: SocketInfo = { ...client, localPort: 443, peerPort: 50000 };
  assert.equal(clientToServer(client, false), clientToServer(server, true));
  assert.equal(clientToServer({ ...client, family: "unix" }, false), undefined);
});

Deno.test("peer links: first in, first out, and bounded", () => {
  const links = new PeerLinks();
  links.offer("a", ctx(1));
  links.offer("a", ctx(2));
  assert.equal(links.take("a")?.spanId, "s1");
  assert.equal(links.take("a")?.spanId, "s2");
  assert.equal(links.take("a"), undefined);
  assert.equal(links.size, 0);
  // Offers nobody takes (a server that is not traced) stay bounded.
  for (let i = 0; i < 100; i++) links.offer("busy", ctx(i));
  let kept = 0;
  while (links.take("busy")) kept++;
  assert.ok(kept <= 16, `kept ${kept}`);
  for (let i = 0; i < 5000; i++) links.offer(`conn${i}`, ctx(i));
  assert.ok(links.size <= 2000, `connections ${links.size}`);
  assert.equal(links.take("conn4999")?.spanId, "s4999", "the newest are kept");
});

Deno.test("PeerLinks: an offer is taken only by the request it describes", () => {
  const links = new PeerLinks();

  // The client side saw requests 1–3; the server side was attached late and first sees 2.
  links.offer("c>s", ctx(1), "GET /1");
  links.offer("c>s", ctx(2), "GET /2");
  links.offer("c>s", ctx(3), "GET /3");
  assert.equal(links.take("c>s", "GET /0"), undefined, "never offered: nothing taken");
  assert.equal(links.take("c>s", "GET /2")?.traceId, "t2", "offer 1 passed over");
  assert.equal(links.take("c>s", "GET /3")?.traceId, "t3");
  assert.equal(links.take("c>s", "GET /1"), undefined, "gone with the requests before 2");
  assert.equal(links.size, 0);
});

Deno.test("peer links: a miss asks the other rings once, then looks again", () => {
  const links = new PeerLinks();
  let asked = 0;
  links.refresh = () => {
    asked++;
    links.offer("k", ctx(7), "GET /a");
  };
  assert.equal(links.take("k", "GET /a")?.spanId, "s7");
  assert.equal(asked, 1);
  assert.equal(links.take("k", "GET /b"), undefined);
  assert.equal(asked, 2, "one refresh per miss, never a loop");
});

Deno.test("sameRequest: the path percent-decoded, as Go's URL.Path holds it", () => {
  assert.equal(sameRequest("GET /a%20b?x=%20"), "GET /a b?x=%20");
  assert.equal(sameRequest("GET /plain?q=1"), "GET /plain?q=1");
  assert.equal(sameRequest("GET /bad%zz"), "GET /bad%zz");
  assert.equal(sameRequest(""), "");
  const links = new PeerLinks();
  links.offer("k", ctx(1), "GET /a b"); // Go's side: decoded
  assert.equal(links.take("k", "GET /a%20b")?.spanId, "s1"); // the wire's side
});
