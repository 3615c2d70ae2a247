/**
 * What a process pays per read/write syscall, timed from inside: a C loop of 1-byte reads
 * and writes, in batches, each batch timed by the thread's own CPU clock. Time the process
 * spends waiting for a CPU (this machine is shared) is not in that clock, and the fastest
 * batch is taken, so what is left is what the syscalls and any program the kernel runs for
 * them cost.
 *
 * - `file`: `dd bs=1`'s syscalls — read 1 byte from /dev/zero, write it to /dev/null;
 * - `socket`: write 1 byte into a Unix socketpair and read it back out.
 *
 * @module
 */

const SOURCE = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}
int main(int argc, char **argv) {
  int batches = atoi(argv[2]), calls = atoi(argv[3]), in, out, sv[2];
  char c = 'x';
  if (strcmp(argv[1], "socket") == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 1;
    out = sv[0], in = sv[1];
  } else {
    in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0) return 1;
  }
  double best = 1e18;
  for (int b = 0; b < batches; b++) {
    double t = now();
    for (int i = 0; i < calls / 2; i++) {
      if (strcmp(argv[1], "socket") == 0) {
        if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1) return 1;
      } else if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1) return 1;
    }
    double ns = (now() - t) / calls;
    if (ns < best) best = ns;
  }
  printf("%.1f\\n", best);
  return 0;
}
`;

let exe: string | undefined;

/** Compiles the loop once per run. */
async function build(): Promise<string> {
  if (exe) return exe;
  const dir = await Deno.makeTempDir({ prefix: "upspan-bench-" });
  await Deno.writeTextFile(`${dir}/syscall_loop.c`, SOURCE);
  const cc = await new Deno.Command("cc", {
    args: ["-O2", "-o", `${dir}/syscall_loop`, `${dir}/syscall_loop.c`],
  }).output();
  if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
  return exe = `${dir}/syscall_loop`;
}

/** The fastest batch's CPU ns per syscall, over `batches` batches of `calls` syscalls. */
export async function syscallLoop(
  kind: "file" | "socket",
  batches: number,
  calls = 20_000,
): Promise<number> {
  const out = await new Deno.Command(await build(), {
    args: [kind, String(batches), String(calls)],
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`the ${kind} syscall loop failed`);
  return Number(new TextDecoder().decode(out.stdout));
}
