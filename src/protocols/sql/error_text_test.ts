import assert from "node:assert/strict";
import { sanitizeErrorText } from "./error_text.ts";

Deno.test("sql error text: values go, names stay", () => {
  const cases: [string, string][] = [
    ['relation "missing_table" does not exist', 'relation "missing_table" does not exist'],
    ["division by zero", "division by zero"],
    [
      "Duplicate entry 'alice@example.com' for key 'users.email'",
      "Duplicate entry '?' for key 'users.email'",
    ],
    [
      'duplicate key value violates unique constraint "users_email_key" Key (email)=(alice@example.com) already exists.',
      'duplicate key value violates unique constraint "users_email_key" Key (email)=(?) already exists.',
    ],
    [
      'invalid input syntax for type integer: "4111 1111 1111 1111"',
      'invalid input syntax for type integer: "?"',
    ],
    [
      "Incorrect integer value: 'hunter2' for column 'age' at row 1",
      "Incorrect integer value: '?' for column 'age' at row ?",
    ],
    [
      'Key (id)=(42) is not present in table "users".',
      'Key (id)=(?) is not present in table "users".',
    ],
    [
      "value too long for type character varying(5)",
      "value too long for type character varying(5)",
    ],
  ];
  for (const [text, want] of cases) assert.equal(sanitizeErrorText(text), want, text);
  assert.equal(sanitizeErrorText("x".repeat(5000)).length, 1024);
});
