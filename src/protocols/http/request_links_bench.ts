/**
 * What keeping a request's span ids costs per request: a property under a symbol on the
 * request object (`request_links.ts`) against a `WeakMap` keyed by it (the former way).
 * Requests are kept alive past the loop, as a connection's are until their spans are made.
 * Run with `deno bench src/protocols/http/request_links_bench.ts`.
 *
 * @module
 */

class Request {
  method = "GET";
  target = "/";
  firstByteMonoNs = 1n;
  framing: string | null = null;
}
const CONTEXT = Symbol("request context");
const context = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" };
const kept: Request[] = new Array(1000);
let found = 0;

Deno.bench("1,000 requests' ids: WeakMap", { baseline: true }, () => {
  const contexts = new WeakMap<Request, typeof context>();
  for (let i = 0; i < 1000; i++) contexts.set(kept[i] = new Request(), context);
  for (let i = 0; i < 1000; i++) if (contexts.get(kept[i]!) === context) found++;
});

Deno.bench("1,000 requests' ids: a symbol property", () => {
  for (let i = 0; i < 1000; i++) {
    (kept[i] = new Request() as Request & { [CONTEXT]?: typeof context })[CONTEXT] = context;
  }
  for (let i = 0; i < 1000; i++) {
    if ((kept[i] as Request & { [CONTEXT]?: typeof context })[CONTEXT] === context) found++;
  }
});
