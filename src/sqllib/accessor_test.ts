import assert from "node:assert/strict";
import { decodeAccessor } from "./accessor.ts";
import { readLibrary } from "./locate.ts";
import { openElf } from "../symbols/mod.ts";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const b = (...x: number[]) => new Uint8Array(x);

Deno.test("decodeAccessor: the forms accessors compile to", () => {
  // PQresultStatus: test %rdi,%rdi; je; mov 0x28(%rdi),%eax
  assert.deepEqual(decodeAccessor(b(0x48, 0x85, 0xff, 0x74, 0x0b, 0x8b, 0x47, 0x28, 0xc3)), {
    kind: "load",
    offset: 0x28,
    size: 4,
  });
  // PQcmdStatus: xor %edx,%edx; lea 0x2c(%rdi),%rax
  assert.deepEqual(decodeAccessor(b(0x31, 0xd2, 0x48, 0x8d, 0x47, 0x2c)), {
    kind: "lea",
    offset: 0x2c,
  });
  // PQntuples: mov (%rdi),%eax
  assert.deepEqual(decodeAccessor(b(0x8b, 0x07, 0xc3)), { kind: "load", offset: 0, size: 4 });
  // endbr64; mov 0xa8(%rdi),%rax
  assert.deepEqual(decodeAccessor(b(0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x8b, 0x87, 0xa8, 0, 0, 0)), {
    kind: "load",
    offset: 0xa8,
    size: 8,
  });
  // sqlite3_stmt_busy: cmpb $0x2,0xc5(%rdi)
  assert.deepEqual(
    decodeAccessor(
      b(0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x0c, 0x31, 0xc0, 0x80, 0xbf, 0xc5, 0, 0, 0, 2),
    ),
    {
      kind: "cmp",
      offset: 0xc5,
      size: 1,
      immediate: 2,
    },
  );
});

Deno.test("decodeAccessor: anything else is not guessed", () => {
  assert.equal(decodeAccessor(b()), undefined);
  assert.equal(decodeAccessor(b(0x55, 0x48, 0x89, 0xe5)), undefined); // push %rbp: a real function
  assert.equal(decodeAccessor(b(0x8b, 0x46, 0x28)), undefined); // relative to %rsi
  assert.equal(decodeAccessor(b(0x8b, 0x4f, 0x28)), undefined); // into %ecx
  assert.equal(decodeAccessor(b(0x8b, 0x87, 0x90)), undefined); // cut displacement
  assert.equal(
    decodeAccessor(
      b(
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x8b,
        0x07,
      ),
    ),
    undefined,
  );
});

/** Debian 12's libraries: offsets checked against `objdump -d` of the accessors. */
const DEBIAN: [string, "libpq" | "mysql" | "sqlite", Record<string, number>][] = [
  ["/usr/lib/x86_64-linux-gnu/libpq.so.5", "libpq", {
    pg_result_status: 0x28,
    pg_cmd_status: 0x2c,
    pg_err_fields: 0xa8,
  }],
  ["/usr/lib/x86_64-linux-gnu/libmariadb.so.3", "mysql", {
    my_errno: 0x90,
    my_error: 0x97,
    my_sqlstate: 0x297,
    my_stmt_errno: 0x108,
    my_stmt_error: 0x10c,
    my_stmt_sqlstate: 0x30d,
    my_server_version: 0x2d0,
  }],
  ["/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", "sqlite", {
    lite_state: 0xc5,
    lite_run_state: 2,
    lite_sql: 0xf8,
  }],
];

for (const [path, library, expected] of DEBIAN) {
  Deno.test({
    name: `readLibrary: ${library} offsets from ${path}`,
    ignore: !exists(path),
    fn: async () => {
      const opened = await openElf(path);
      assert.ok(opened.ok);
      try {
        const facts = readLibrary(opened.elf, library, path);
        assert.ok(typeof facts !== "string", String(facts));
        for (const [k, v] of Object.entries(expected)) assert.equal(facts.offsets[k], v, k);
        assert.ok(facts.sites.every((s) => s.offset > 0));
      } finally {
        opened.elf.close();
      }
    },
  });
}
