/**
 * Processes a test starts die with the test runner: a runner killed mid-test (Ctrl-C twice,
 * a CI timeout) must not leave an agent behind holding its probes in the kernel, nor a
 * target server keeping that agent busy. `setpriv --pdeathsig KILL` (util-linux) asks the
 * kernel to kill the child when the thread that started it ends; the child's pid is the
 * command's own, as setpriv executes it in place.
 *
 * @module
 */

/** `argv` to run so that it is killed when the test runner goes. */
export function tied(argv: readonly string[]): [string, string[]] {
  return ["setpriv", ["--pdeathsig", "KILL", "--", ...argv]];
}
