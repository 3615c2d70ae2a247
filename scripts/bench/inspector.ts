/**
 * The agent's inspector, for the profiling scripts: a minimal Chrome DevTools Protocol
 * client and a free port to run `deno run --inspect=127.0.0.1:PORT …` on.
 *
 * @module
 */

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
export async function inspector(port: number) {
  let list: { webSocketDebuggerUrl: string }[] = [];
  for (let i = 0; i < 100 && list.length === 0; i++) {
    list = await fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json()).catch(
      () => [],
    );
    if (list.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  if (list.length === 0) throw new Error(`no inspector on port ${port}`);
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result ?? msg.error);
  };
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => waiting.set(id, resolve as (r: unknown) => void));
    },
    close: () => ws.close(),
  };
}

/** A TCP port nothing listens on now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
