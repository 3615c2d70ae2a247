/**
 * A paced HTTP/1 load: `rate` requests a second for `seconds` over 8 keep-alive
 * connections, each answered with `hello\n` (the Python target's `/hello`).
 *
 * @module
 */

/** Sends the load; returns the requests per second achieved. */
export async function pacedLoad(port: number, rate: number, seconds: number): Promise<number> {
  const conns = await Promise.all(
    Array.from({ length: 8 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  const req = new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: load\r\n\r\n");
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(conns.map(async (conn, c) => {
    const buf = new Uint8Array(4096); // one per connection: reads overlap
    for (let i = c;; i += conns.length) {
      const due = t0 + (i * 1000) / rate;
      if (due - t0 > seconds * 1000) break;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await conn.write(req);
      let got = "";
      while (!got.endsWith("hello\n")) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("server closed");
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
      sent++;
    }
    conn.close();
  }));
  return sent / ((performance.now() - t0) / 1000);
}
