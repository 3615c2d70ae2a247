import assert from "node:assert/strict";
import { redactCommandLine } from "./command_line.ts";

Deno.test("command line: credentials are redacted, the rest is kept", () => {
  const cases: [string[], string][] = [
    [["python3", "server.py", "8443"], "python3 server.py 8443"],
    [["mysql", "-uroot", "-phunter2", "shop"], "mysql -uroot -pREDACTED shop"],
    [["mysql", "-u", "root", "-p", "shop"], "mysql -u root -p shop"],
    [
      ["psql", "postgresql://app:s3cret@db:5432/shop?sslmode=require"],
      "psql postgresql://REDACTED@db:5432/shop?sslmode=require",
    ],
    [
      ["git", "clone", "https://ghp_T0KEN@github.com/o/r"],
      "git clone https://REDACTED@github.com/o/r",
    ],
    [["app", "--password=hunter2", "--port=80"], "app --password=REDACTED --port=80"],
    [["app", "--token", "abc", "--verbose"], "app --token REDACTED --verbose"],
    [["app", "--db-password", "x"], "app --db-password REDACTED"],
    [
      ["app", "--api-key=k", "--aws-secret=s", "--key-file=/k.pem"],
      "app --api-key=REDACTED --aws-secret=REDACTED --key-file=/k.pem",
    ],
    [
      ["env", "STRIPE_API_KEY=sk_live_1", "PGPASSWORD=pw", "HOME=/root", "node", "a.js"],
      "env STRIPE_API_KEY=REDACTED PGPASSWORD=REDACTED HOME=/root node a.js",
    ],
    [
      ["worker", "host=db user=app password=pw dbname=shop"],
      "worker host=db user=app password=REDACTED dbname=shop",
    ],
    [
      ["curl", "-H", "Authorization: Bearer eyJabc", "https://x"],
      "curl -H Authorization: Bearer REDACTED https://x",
    ],
    [["app", "--keyboard=us", "--monkey=1"], "app --keyboard=us --monkey=1"],
  ];
  for (const [argv, want] of cases) assert.equal(redactCommandLine(argv), want, argv.join(" "));
});
