/**
 * Cost of redacting `url.query` for common queries, against percent-decoding every key.
 * Run with `deno bench src/protocols/http/semconv_bench.ts`.
 *
 * @module
 */
import { redactQuery } from "./semconv.ts";

const QUERIES = ["fields=name,email", "q=shoes&page=2&sort=price", "id=3"];

/** The baseline: every key decoded before it is looked up. */
function decodeEveryKey(query: string): string {
  return query.split("&").map((kv) => {
    const eq = kv.indexOf("=");
    if (eq < 0) return kv;
    let k = kv.slice(0, eq);
    try {
      k = decodeURIComponent(k.replace(/\+/g, " "));
    } catch { /* as written */ }
    return k.toLowerCase() === "token" ? `${kv.slice(0, eq)}=REDACTED` : kv;
  }).join("&");
}

Deno.bench("redact 1,000 queries: every key decoded", { baseline: true }, () => {
  for (let i = 0; i < 1000; i++) decodeEveryKey(QUERIES[i % 3]!);
});

Deno.bench("redact 1,000 queries: redactQuery", () => {
  for (let i = 0; i < 1000; i++) redactQuery(QUERIES[i % 3]!);
});
