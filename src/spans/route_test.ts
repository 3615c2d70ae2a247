import assert from "node:assert/strict";
import { deriveRoute, isIdSegment, withRoute } from "./route.ts";
import type { Span } from "../model/span.ts";

Deno.test("route: identifiers become {id}, route words stay", () => {
  const cases: [string, string][] = [
    ["/", "/"],
    ["", "/"],
    ["/hello", "/hello"],
    ["/users/42", "/users/{id}"],
    ["/users/42/orders/7", "/users/{id}/orders/{id}"],
    ["/items/7f9c2ba4-e88f-4a6b-9c1d-2b3a4c5d6e7f", "/items/{id}"],
    ["/items/7F9C2BA4E88F4A6B9C1D2B3A4C5D6E7F", "/items/{id}"],
    ["/commit/3f786850e387550fdab836ed7e6dc881de23001b", "/commit/{id}"],
    ["/blob/cafe1234", "/blob/{id}"],
    ["/api/v2/items", "/api/v2/items"],
    ["/api/v1.2/items", "/api/v1.2/items"],
    ["/oauth2/token", "/oauth2/token"],
    ["/reports/2024-01-31", "/reports/{id}"],
    ["/s/aB3dE5gH7jK9mN1pQ", "/s/{id}"],
    ["/status/404", "/status/{id}"],
    ["/static/app.css", "/static/app.css"],
    ["/new-york/weather", "/new-york/weather"],
    ["/users/", "/users/"],
    ["/a;jsessionid=1234/b", "/a/b"],
    ["/1/2/3/4/5/6/7/8/9/10/11", "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{rest}"],
    ["/" + "x".repeat(41), "/{id}"],
  ];
  for (const [path, route] of cases) assert.equal(deriveRoute(path), route, path);
});

Deno.test("route: segment classification", () => {
  for (const s of ["api", "v1", "V10", "users", "index.html", "h2", "deadbeef", "x1"]) {
    assert.equal(isIdSegment(s), false, s);
  }
  for (const s of ["0", "123", "0x1f2e3d4c", "12.50", "1234abc"]) {
    assert.equal(isIdSegment(s), true, s);
  }
});

function span(kind: Span["kind"], attributes: Span["attributes"]): Span {
  return {
    traceId: "1".repeat(32),
    spanId: "2".repeat(16),
    parentSpanId: "",
    name: "GET",
    kind,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes,
    status: { code: "UNSET" },
    resource: {},
  };
}

Deno.test("route: withRoute sets http.route on server spans only, name unchanged", () => {
  const s = withRoute(span("SERVER", { "url.path": "/users/42" }));
  assert.equal(s.attributes["http.route"], "/users/{id}");
  assert.equal(s.attributes["url.path"], "/users/42");
  assert.equal(s.name, "GET");
  const c = withRoute(span("CLIENT", { "url.path": "/users/42" }));
  assert.equal(c.attributes["http.route"], undefined);
  const known = withRoute(span("SERVER", { "url.path": "/u/1", "http.route": "/u/:id" }));
  assert.equal(known.attributes["http.route"], "/u/:id");
  const noPath = withRoute(span("SERVER", {}));
  assert.equal(noPath.attributes["http.route"], undefined);
});
