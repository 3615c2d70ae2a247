/**
 * The one error type the command line turns into a plain sentence and an exit code:
 * 2 for a usage mistake, 1 for anything that went wrong at run time.
 *
 * @module
 */

/** An error whose message is one sentence saying what is wrong and what to do. */
export class UpspanError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = "UpspanError";
    this.exitCode = exitCode;
  }
}
