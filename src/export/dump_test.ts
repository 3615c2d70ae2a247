import assert from "node:assert/strict";
import type { StreamChunk } from "../model/stream_chunk.ts";
import { _wallClock } from "./_terminal.ts";
import { DumpPrinter, type DumpPrinterOptions, escapeText, hexdump } from "./dump.ts";

const BOOT = 1_700_000_000_000_000_000n;
const bytes = (text: string) => new TextEncoder().encode(text);

function chunk(overrides: Partial<StreamChunk> = {}): StreamChunk {
  const data = overrides.data ?? bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const pos = overrides.pos ?? 0;
  return {
    pid: 4242,
    tid: 4243,
    conn: "0x55d0c0a1b2c0",
    secure: true,
    direction: "egress",
    pos,
    data,
    callEnd: pos + data.length,
    last: true,
    monoNs: 5_123_456_789n,
    ...overrides,
  };
}

function collect(options: Partial<DumpPrinterOptions> = {}) {
  const out: string[] = [];
  const dump = new DumpPrinter({
    toUnixNano: (mono) => BOOT + mono,
    color: false,
    write: (text) => out.push(text),
    ...options,
  });
  // The agent names the process it knows (pid 4242 here); others print without a name.
  const printer = {
    print: (c: StreamChunk) => dump.print(c, c.pid === 4242 ? "curl" : undefined),
  };
  return { printer, out };
}

const TIME = _wallClock(BOOT + 5_123_456_789n, 6);

Deno.test("a text dump has a header line and the data with \\r escaped", () => {
  const { printer, out } = collect();
  printer.print(chunk());
  assert.match(TIME, /^\d\d:\d\d:\d\d\.123456$/);
  assert.deepEqual(out, [
    `${TIME} WRITE pid 4242 tid 4243 (curl) conn 0x55d0c0a1b2c0 pos 0 len 27\n` +
    "----- DATA -----\n" +
    "GET / HTTP/1.1\\r\n" +
    "Host: x\\r\n" +
    "\\r\n" +
    "----- END DATA -----\n",
  ]);
});

Deno.test("binary data is escaped byte by byte; valid UTF-8 stays readable", () => {
  const { printer, out } = collect();
  const data = new Uint8Array([
    0x00,
    0x01,
    0x1b,
    0x5b,
    0x7f,
    0x5c,
    0x09,
    ...bytes("é€😀"),
    0xc3, // lone lead byte
    0xe2,
    0x80,
    0xae, // U+202E RIGHT-TO-LEFT OVERRIDE: valid UTF-8, but unsafe to show
    0xc0,
    0xaf, // overlong "/"
    0xff,
  ]);
  printer.print(chunk({ data, direction: "ingress", pid: 9, tid: 9 }));
  assert.equal(
    out[0],
    `${TIME} READ  pid 9 tid 9 conn 0x55d0c0a1b2c0 pos 0 len ${data.length}\n` +
      "----- DATA -----\n" +
      "\\x00\\x01\\x1b[\\x7f\\\\\té€😀\\xc3\\xe2\\x80\\xae\\xc0\\xaf\\xff\n" +
      "----- END DATA -----\n",
  );
});

Deno.test("the header tells the call's real length and what was not captured", () => {
  const { printer, out } = collect();
  // A 1 MiB write of which 4096 + 4096 bytes were captured, in two chunks.
  printer.print(
    chunk({ pos: 100, data: bytes("a".repeat(4096)), callEnd: 100 + 1048576, last: false }),
  );
  printer.print(chunk({ pos: 4196, data: bytes("b".repeat(4096)), callEnd: 100 + 1048576 }));
  // A short read in one chunk, complete.
  printer.print(chunk({ pos: 1048676, data: bytes("ok"), direction: "ingress" }));
  const headers = out.map((text) => text.slice(TIME.length + 1, text.indexOf("\n")));
  assert.deepEqual(headers, [
    "WRITE pid 4242 tid 4243 (curl) conn 0x55d0c0a1b2c0 pos 100 len 4096 of 1048576",
    "WRITE pid 4242 tid 4243 (curl) conn 0x55d0c0a1b2c0 pos 4196 len 4096 of 1048576 " +
    "(truncated: 1040384 bytes not captured)",
    "READ  pid 4242 tid 4243 (curl) conn 0x55d0c0a1b2c0 pos 1048676 len 2",
  ]);
});

Deno.test("a hex dump follows the hexdump -C layout with stream offsets", () => {
  const { printer, out } = collect({ hex: true });
  printer.print(chunk({ pos: 16, data: bytes("HTTP/1.1 200 OK\r\n\x00\xff") }));
  assert.equal(
    out[0]!.split("\n").slice(1).join("\n"),
    "----- DATA -----\n" +
      "00000010  48 54 54 50 2f 31 2e 31  20 32 30 30 20 4f 4b 0d  |HTTP/1.1 200 OK.|\n" +
      "00000020  0a 00 c3 bf                                       |....|\n" +
      "----- END DATA -----\n",
  );
});

Deno.test("hexdump and escapeText handle empty input", () => {
  assert.equal(hexdump(new Uint8Array()), "");
  assert.equal(escapeText(new Uint8Array()), "");
  const { printer, out } = collect();
  printer.print(chunk({ data: new Uint8Array(), callEnd: 10 }));
  assert.deepEqual(out[0]!.split("\n").slice(1), ["----- DATA -----", "----- END DATA -----", ""]);
  assert.ok(out[0]!.includes("len 0 of 10 (truncated: 10 bytes not captured)"));
});

Deno.test("escapes are marked when colors are on", () => {
  const { printer, out } = collect({ color: true });
  printer.print(chunk({ data: new Uint8Array([0x41, 0x00]) }));
  assert.ok(out[0]!.includes("A\x1b[2m\\x00\x1b[0m"));
});

Deno.test("a chunk's socket is shown as local and peer addresses, IPv6 in brackets", () => {
  const out: string[] = [];
  const dump = new DumpPrinter({ toUnixNano: (m) => m, color: false, write: (t) => out.push(t) });
  const socket = {
    pid: 1,
    conn: "0x1",
    socket: "0xffff1",
    fd: 3,
    family: "ipv6" as const,
    localAddress: "::1",
    localPort: 443,
    peerAddress: "::1",
    peerPort: 50000,
    monoNs: 0n,
    callMonoNs: 0n,
  };
  dump.print(chunk({ direction: "ingress" }), "srv", socket);
  dump.print(chunk({ direction: "egress" }), "srv", {
    ...socket,
    family: "ipv4",
    localAddress: "10.0.0.1",
    peerAddress: "10.0.0.2",
  });
  assert.match(out[0]!, / \(srv\) conn \S+ \[::1\]:443 ← \[::1\]:50000 pos /);
  assert.match(out[1]!, / 10\.0\.0\.1:443 → 10\.0\.0\.2:50000 pos /);
});
