import assert from "node:assert/strict";
import { inspectProcess } from "./process.ts";
import { openMappedFile } from "./mapped_file.ts";

Deno.test("openMappedFile: this process's executable, the same file as maps says", async () => {
  const r = await inspectProcess(Deno.pid);
  assert.ok(r.ok);
  const exe = r.process.files[0]!;
  const opened = openMappedFile(exe);
  assert.ok(opened.ok, opened.ok ? "" : opened.error);
  using f = opened.file;
  assert.match(f.path, /^\/proc\/self\/fd\/\d+$/);
  assert.equal((await Deno.stat(f.path)).ino, exe.inode);
});

Deno.test("openMappedFile: another inode, a FIFO and a missing file are refused without blocking", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lib.so`, "x");
    const st = await Deno.stat(`${dir}/lib.so`);
    const device = [Math.floor(st.dev / 256), st.dev % 256]
      .map((n) => n.toString(16).padStart(2, "0")).join(":");
    const same = { path: "/lib.so", hostPath: `${dir}/lib.so`, device, inode: st.ino! };
    assert.ok(openMappedFile(same).ok, "the device and inode as stat gives them");
    const other = openMappedFile({ ...same, inode: st.ino! + 1 });
    assert.ok(!other.ok);
    assert.match(other.error, /is not the file it mapped any more \(\/lib\.so is now another file/);
    const mkfifo = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(mkfifo.success);
    const fifo = openMappedFile({ ...same, hostPath: `${dir}/fifo` });
    assert.ok(!fifo.ok);
    assert.match(fifo.error, /now a fifo, not a regular file/);
    const gone = openMappedFile({ ...same, hostPath: `${dir}/missing` });
    assert.ok(!gone.ok);
    assert.match(gone.error, /No such file or directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
