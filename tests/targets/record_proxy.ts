/**
 * A recording TCP proxy for tests: sits between a client and a server on loopback and
 * keeps every piece each side wrote, in order, with the time it was read. Each piece is
 * one `read()` of the proxy — the closest a test gets to the write calls a probe sees.
 *
 * @example
 * ```ts ignore
 * await using proxy = await startRecordingProxy(5432);
 * // point a client at proxy.port, then:
 * const conns = await proxy.connections(); // one entry per accepted connection
 * ```
 *
 * @module
 */

/** One piece of one direction. */
export interface RecordedPiece {
  /** "c2s": client to server (frontend); "s2c": server to client. */
  dir: "c2s" | "s2c";
  /** Nanoseconds since the proxy started, from `performance.now()`. */
  ns: bigint;
  bytes: Uint8Array;
}

/** A running proxy. */
export interface RecordingProxy extends AsyncDisposable {
  /** Loopback port clients connect to. */
  port: number;
  /** Pieces of each accepted connection, in accept order; waits for open ones to close. */
  connections(): Promise<RecordedPiece[][]>;
  /** Stops accepting and closes everything. */
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) forwarding to `127.0.0.1:upstreamPort`. */
export function startRecordingProxy(upstreamPort: number): Promise<RecordingProxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const t0 = performance.now();
  const now = () => BigInt(Math.round((performance.now() - t0) * 1e6));
  const conns: RecordedPiece[][] = [];
  const done: Promise<void>[] = [];
  const open = new Set<Deno.Conn>();

  const pump = async (from: Deno.Conn, to: Deno.Conn, dir: "c2s" | "s2c", log: RecordedPiece[]) => {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        const bytes = buf.slice(0, n);
        log.push({ dir, ns: now(), bytes });
        let off = 0;
        while (off < n) off += await to.write(bytes.subarray(off));
      }
    } catch {
      // the other side went away
    }
    try {
      await to.closeWrite();
    } catch {
      // already closed
    }
  };

  const accepting = (async () => {
    for await (const client of listener) {
      const log: RecordedPiece[] = [];
      conns.push(log);
      const server = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
      open.add(client);
      open.add(server);
      done.push(
        Promise.all([pump(client, server, "c2s", log), pump(server, client, "s2c", log)]).then(
          () => {
            for (const c of [client, server]) {
              open.delete(c);
              try {
                c.close();
              } catch {
                // closed
              }
            }
          },
        ),
      );
    }
  })().catch(() => {});

  const close = async () => {
    try {
      listener.close();
    } catch {
      // closed
    }
    for (const c of open) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await accepting;
    await Promise.all(done);
  };
  return Promise.resolve({
    port,
    connections: async () => {
      await Promise.all(done);
      return conns;
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
