import assert from "node:assert/strict";
import { cleanFileMappings } from "./file_pages.ts";

// Fields as the kernel prints them; only Rss and Anonymous are read.
const mapping = (head: string, rss: number, anonymous: number) =>
  `${head}\nSize:               1024 kB\nRss:                ${rss} kB\n` +
  `Pss:                ${rss} kB\nAnonymous:          ${anonymous} kB\nVmFlags: rd mr mw me\n`;

Deno.test("only file mappings nothing has written are released", () => {
  const smaps = [
    mapping("55d0a000-55d0b000 r-xp 00001000 08:01 1234 /usr/bin/deno", 600, 0),
    mapping("55d0b000-55d0c000 r--p 00002000 08:01 1234 /usr/bin/deno", 300, 0),
    // Relocated read-only data: pages copied on write, which the file does not hold.
    mapping("55d0c000-55d0d000 r--p 00003000 08:01 1234 /usr/bin/deno", 8, 4),
    mapping("55d0d000-55d0e000 rw-p 00004000 08:01 1234 /usr/bin/deno", 12, 12),
    mapping("7f000000-7f001000 r--s 00000000 08:01 99 /root/.cache/deno/v8 (deleted)", 40, 0),
    mapping("7f001000-7f002000 rw-p 00000000 00:00 0 ", 900, 900),
    mapping("7f002000-7f003000 r--p 00000000 00:00 0", 4, 0),
    mapping("7f003000-7f004000 r--s 00000000 00:0f 17 anon_inode:bpf-map", 2048, 0),
    mapping("7ffd0000-7ffd2000 r-xp 00000000 00:00 0                          [vdso]", 8, 0),
  ].join("");
  assert.deepEqual(cleanFileMappings(smaps), [
    { start: 0x55d0a000n, end: 0x55d0b000n, path: "/usr/bin/deno", rss: 600 },
    { start: 0x55d0b000n, end: 0x55d0c000n, path: "/usr/bin/deno", rss: 300 },
    {
      start: 0x7f000000n,
      end: 0x7f001000n,
      path: "/root/.cache/deno/v8 (deleted)",
      rss: 40,
    },
  ]);
});

Deno.test("a mapping whose Anonymous line is missing is not released", () => {
  const smaps = "55d0a000-55d0b000 r-xp 00001000 08:01 1234 /usr/bin/deno\nRss: 600 kB\n" +
    "garbage line\n";
  assert.deepEqual(cleanFileMappings(smaps), []);
  assert.deepEqual(cleanFileMappings(""), []);
});

// In a process of its own: its resident file pages drop, and it goes on running the code
// whose pages it gave back (they come back from the page cache).
Deno.test("a Deno process gives back its executable's pages and keeps running", async () => {
  const code = `
    import { releaseFilePages } from ${
    JSON.stringify(new URL("./file_pages.ts", import.meta.url).href)
  };
    const file = () => Number(/RssFile:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
    const before = file();
    const released = releaseFilePages();
    const after = file();
    let n = 0;
    for (let i = 0; i < 20000; i++) n += JSON.stringify({ i }).length;
    console.log(JSON.stringify({ before, released, after, n }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(r.released > 1024, `released ${r.released} KiB`);
  assert.ok(r.after < r.before - 1024, `RssFile ${r.before} → ${r.after} KiB`);
  let n = 0;
  for (let i = 0; i < 20000; i++) n += JSON.stringify({ i }).length;
  assert.equal(r.n, n);
});
