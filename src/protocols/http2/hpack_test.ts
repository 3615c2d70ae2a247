import assert from "node:assert/strict";
import { type HeaderField, HpackDecoder } from "./hpack.ts";
import { huffmanDecode } from "./huffman.ts";

const dehex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (h) => parseInt(h, 16));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

interface Step {
  block: string;
  want: HeaderField[];
  /** Dynamic table size after the block (RFC 7541 Appendix C). */
  size: number;
}

function series(steps: Step[], initialTableSize = 4096): void {
  const d = new HpackDecoder({ initialTableSize });
  for (const [i, step] of steps.entries()) {
    const got = d.decode(dehex(step.block));
    assert.deepEqual(got, { fields: step.want, unknown: 0, truncated: false }, `step ${i}`);
    assert.equal(d.tableState.size, step.size, `table size after step ${i}`);
  }
}

Deno.test("hpack: RFC 7541 C.2 single representations", () => {
  const cases: [string, HeaderField[], number][] = [
    ["400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", [[
      "custom-key",
      "custom-header",
    ]], 55],
    ["040c 2f73 616d 706c 652f 7061 7468", [[":path", "/sample/path"]], 0],
    ["1008 7061 7373 776f 7264 0673 6563 7265 74", [["password", "secret"]], 0],
    ["82", [[":method", "GET"]], 0],
  ];
  for (const [block, want, size] of cases) series([{ block, want, size }]);
});

const C3_WANT: HeaderField[][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], [
    "cache-control",
    "no-cache",
  ]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [
    ":authority",
    "www.example.com",
  ], [
    "custom-key",
    "custom-value",
  ]],
];

Deno.test("hpack: RFC 7541 C.3 requests without Huffman", () => {
  series([
    { block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", want: C3_WANT[0]!, size: 57 },
    { block: "8286 84be 5808 6e6f 2d63 6163 6865", want: C3_WANT[1]!, size: 110 },
    {
      block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
      want: C3_WANT[2]!,
      size: 164,
    },
  ]);
});

Deno.test("hpack: RFC 7541 C.4 requests with Huffman", () => {
  series([
    { block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", want: C3_WANT[0]!, size: 57 },
    { block: "8286 84be 5886 a8eb 1064 9cbf", want: C3_WANT[1]!, size: 110 },
    {
      block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
      want: C3_WANT[2]!,
      size: 164,
    },
  ]);
});

const C5_WANT: HeaderField[][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], [
    "location",
    "https://www.example.com",
  ]],
  [[":status", "307"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], [
    "location",
    "https://www.example.com",
  ]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    ["location", "https://www.example.com"],
    ["content-encoding", "gzip"],
    ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
  ],
];

Deno.test("hpack: RFC 7541 C.5 responses without Huffman, 256-byte table with evictions", () => {
  series([
    {
      block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
        2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      want: C5_WANT[0]!,
      size: 222,
    },
    { block: "4803 3330 37c1 c0bf", want: C5_WANT[1]!, size: 222 },
    {
      block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
        54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
        5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
      want: C5_WANT[2]!,
      size: 215,
    },
  ], 256);
});

Deno.test("hpack: RFC 7541 C.6 responses with Huffman, 256-byte table with evictions", () => {
  series([
    {
      block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
        2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      want: C5_WANT[0]!,
      size: 222,
    },
    { block: "4883 640e ffc1 c0bf", want: C5_WANT[1]!, size: 222 },
    {
      block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
        77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
        9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      want: C5_WANT[2]!,
      size: 215,
    },
  ], 256);
});

const VECTORS = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/hpack_vectors.json", import.meta.url)),
) as {
  series: { block: string; fields: HeaderField[] }[][];
  huffman: { raw: string; coded: string }[];
};

Deno.test("hpack: header lists encoded by Python's hpack (size updates, evictions, never-indexed)", () => {
  let blocks = 0;
  for (const steps of VECTORS.series) {
    const d = new HpackDecoder();
    for (const step of steps) {
      assert.deepEqual(d.decode(dehex(step.block)), {
        fields: step.fields,
        unknown: 0,
        truncated: false,
      });
      blocks++;
    }
  }
  assert.equal(blocks, 16 * 12);
});

Deno.test("huffman: every octet and random strings coded by Python's hpack", () => {
  for (const { raw, coded } of VECTORS.huffman) {
    assert.equal(hex(huffmanDecode(dehex(coded)) ?? Uint8Array.of()), raw);
  }
  assert.equal(VECTORS.huffman.length, 356);
});

Deno.test("huffman: EOS, long padding and padding that is not ones are rejected", () => {
  // EOS is 30 ones: 0xff 0xff 0xff 0xfc (30 ones then two zero bits would be a bad pad too).
  assert.equal(huffmanDecode(dehex("ffffffff")), undefined);
  // "a" is 00011 (5 bits); padded with ones: 0x1f. Padded with zeros: 0x18 is invalid.
  assert.equal(latin1(huffmanDecode(dehex("1f"))!), "a");
  assert.equal(huffmanDecode(dehex("18")), undefined);
  // A whole byte of padding (8 ones) after "a" is longer than 7 bits.
  assert.equal(huffmanDecode(dehex("1fff")), undefined);
  assert.equal(latin1(huffmanDecode(Uint8Array.of())!), "");
});

Deno.test("hpack: joined mid-way, references to unseen entries are unknown, later insertions known", () => {
  const d = new HpackDecoder({ fromStart: false });
  assert.equal(d.complete, false);
  // C.3.3's block refers to index 63 (":authority" inserted by a block we never saw) and
  // inserts custom-key: the known fields come out, the unknown one is counted.
  const third = d.decode(
    dehex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
  );
  assert.deepEqual(third, {
    fields: [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [
      "custom-key",
      "custom-value",
    ]],
    unknown: 1,
    truncated: false,
  });
  // Index 62 is now custom-key for certain; 63 still unknown.
  assert.deepEqual(d.decode(dehex("be bf")), {
    fields: [["custom-key", "custom-value"]],
    unknown: 1,
    truncated: false,
  });
  // A literal with an unknown indexed name inserts an entry whose name is unknown.
  assert.deepEqual(d.decode(dehex("7f00 0178")), { fields: [], unknown: 1, truncated: false }); // index 63+? name, value "x"
  assert.deepEqual(d.decode(dehex("be bf")), {
    fields: [["custom-key", "custom-value"]],
    unknown: 1,
    truncated: false,
  });
  // A size update to 0 empties the encoder's table: everything is known again.
  assert.deepEqual(d.decode(dehex("20 82")), {
    fields: [[":method", "GET"]],
    unknown: 0,
    truncated: false,
  });
  assert.equal(d.complete, true);
  assert.equal(d.decode(dehex("be")), undefined, "index 62 of an empty table is malformed");
  assert.equal(d.malformed, 1);
});

Deno.test("hpack: a lost block makes earlier entries unknown, never wrong", () => {
  const d = new HpackDecoder();
  d.decode(dehex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")); // inserts :authority
  d.lose();
  assert.deepEqual(d.decode(dehex("82 be")), {
    fields: [[":method", "GET"]],
    unknown: 1,
    truncated: false,
  });
});

Deno.test("hpack: malformed blocks are rejected and the table forgotten", () => {
  for (const bad of ["80", "ff", "ff80808080808001", "4085", "400a6375", "8220", "0f"]) {
    const d = new HpackDecoder();
    d.decode(dehex("4001 61 01 62")); // a: b at 62
    assert.equal(d.decode(dehex(bad)), undefined, bad);
    assert.equal(d.complete, false, bad);
  }
});

Deno.test("hpack: fields past the list limit are left out, insertions still followed", () => {
  const d = new HpackDecoder({ maxListBytes: 40 });
  const got = d.decode(dehex("4001 61 01 62 4001 63 01 64"));
  assert.deepEqual(got, { fields: [["a", "b"]], unknown: 0, truncated: true });
  assert.deepEqual(d.decode(dehex("be")), { fields: [["c", "d"]], unknown: 0, truncated: false });
});

Deno.test("hpack: a table size beyond the decoder's limit keeps what fits and says it is incomplete", () => {
  const d = new HpackDecoder({ tableLimit: 100 });
  d.decode(dehex("3fe11f")); // size update to 4096 (already the default)
  d.decode(dehex("4001 61 01 62 4001 63 01 64 4001 65 01 66")); // 3 × 34 bytes > 100
  assert.equal(d.tableState.entries, 2);
  assert.equal(d.complete, false);
  assert.deepEqual(d.decode(dehex("be bf c0")), {
    fields: [["e", "f"], ["c", "d"]],
    unknown: 1,
    truncated: false,
  });
});

/** A block of one literal field without indexing, name and value sent as they are. */
function plainLiteral(name: string, value: string): Uint8Array {
  const bytes = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
  return Uint8Array.of(0x00, name.length, ...bytes(name), value.length, ...bytes(value));
}

Deno.test("hpack: literals decoded again, from the decoders' shared cache, are the ones sent", () => {
  // More literals of one length than the cache has slots: some share a slot, whatever the
  // hash, and are told apart by their octets alone.
  const values = Array.from({ length: 1500 }, (_, i) => `v${String(i * 7919).padStart(8, "0")}`);
  const decoders = [new HpackDecoder(), new HpackDecoder()];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < values.length; i++) {
      const k = round === 1 ? values.length - 1 - i : i; // the second round backwards
      const got = decoders[(round + i) % 2]!.decode(plainLiteral("x-v", values[k]!));
      assert.deepEqual(got?.fields, [["x-v", values[k]]], `round ${round}, value ${k}`);
    }
  }
  // The same octets, Huffman-coded or not, are different literals: 18 ff is "aa" coded.
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(dehex("00 01 78 02 18 ff"))?.fields, [["x", "\x18\xff"]]);
  assert.deepEqual(d.decode(dehex("00 01 78 82 18 ff"))?.fields, [["x", "aa"]]);
  assert.deepEqual(d.decode(dehex("00 01 78 02 18 ff"))?.fields, [["x", "\x18\xff"]]);
  // A literal that does not decode is not remembered as one that did.
  assert.equal(d.decode(dehex("00 01 78 81 00")), undefined);
  assert.equal(d.decode(dehex("00 01 78 81 00")), undefined);
});
