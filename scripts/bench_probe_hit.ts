/**
 * What one probe hit costs the target here: a C program calls a no-op function in a loop,
 * untraced, then with a uprobe, a uretprobe and both on it (the BPF programs run and
 * return at once, as for an untraced process). This is the floor every hit per request
 * adds to a traced server. The function is probed twice over: on a first instruction the
 * kernel single-steps (`lea`) and on one it emulates (`push %rbp`, see
 * src/symbols/entry_site.ts).
 *
 * @module
 */
import { BpfObject } from "../ffi/mod.ts";
import { openElf } from "../src/symbols/mod.ts";
import { CAPTURE_OBJECT } from "../src/capture/mod.ts";

const SOURCE = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
__asm__(".text\\n.globl stepped\\nstepped:\\n lea 1(%rdi), %eax\\n ret\\n"
        ".globl emulated\\nemulated:\\n push %rbp\\n lea 1(%rdi), %eax\\n pop %rbp\\n ret\\n");
int stepped(int), emulated(int);
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  int (*probed)(int) = argv[2][0] == 'e' ? emulated : stepped;
  getchar(); /* the probes are placed */
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int s = 0;
  for (int i = 0; i < n; i++) s = probed(s);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n + 0 * s);
}
`;

/** Nanoseconds per call of a probed no-op function, by kind of probe. */
export async function probeHitCost(calls = 100_000): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir();
  const exe = `${dir}/noop_calls`;
  await Deno.writeTextFile(`${exe}.c`, SOURCE);
  const cc = await new Deno.Command("cc", { args: ["-O2", "-o", exe, `${exe}.c`] }).output();
  if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
  const r = await openElf(exe);
  if (!r.ok) throw new Error(r.error);
  const offsetOf = (name: string) => r.elf.vaddrToOffset(r.elf.findSymbol(name)!.value)!;
  const at = { stepped: offsetOf("stepped"), emulated: offsetOf("emulated") };
  r.elf.close();

  const obj = BpfObject.open(CAPTURE_OBJECT);
  obj.load();
  const out: Record<string, number> = {};
  const modes = ["uprobe", "uretprobe", "uprobe+uretprobe"];
  const runs = [
    ["none", "none", "stepped"],
    ...modes.flatMap((m) => [[`${m} on lea`, m, "stepped"], [`${m} on push`, m, "emulated"]]),
  ] as [string, string, "stepped" | "emulated"][];
  for (const [label, mode, first] of runs) {
    const offset = at[first];
    const child = new Deno.Command(exe, {
      args: [String(calls), first],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const links = [];
    if (mode.startsWith("uprobe")) {
      links.push(obj.program("ssl_read").attachUprobe({ path: exe, offset, pid: child.pid }));
    }
    if (mode.includes("uretprobe")) {
      links.push(
        obj.program("ssl_read_return").attachUprobe({
          path: exe,
          offset,
          pid: child.pid,
          retprobe: true,
        }),
      );
    }
    const go = child.stdin.getWriter();
    await go.write(new Uint8Array([10]));
    await go.close();
    out[label] = Number(new TextDecoder().decode((await child.output()).stdout).trim());
    links.forEach((l) => l.close());
  }
  obj.close();
  await Deno.remove(dir, { recursive: true });
  return out;
}

if (import.meta.main) console.log(await probeHitCost());
