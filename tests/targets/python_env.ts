/**
 * A Python virtual environment with the third-party clients and servers the tests run
 * (pg8000, PyMySQL, gunicorn, requests, psycopg2 with the libpq its wheel bundles, grpcio),
 * pinned,
 * from PyPI, cached outside the repository (`${XDG_CACHE_HOME:-$HOME/.cache}/upspan/pyenv`):
 * Debian's Python is externally managed, so nothing is installed into it.
 * `scripts/prepare_tests.ts` makes it; a test that needs it calls {@linkcode pythonEnv}.
 *
 * @module
 */

/** The environment's directory. */
export const PYTHON_ENV = `${
  Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`
}/upspan/pyenv`;
/** The environment's interpreter. */
export const PYTHON = `${PYTHON_ENV}/bin/python`;

const PACKAGES = [
  "pg8000==1.31.6",
  "pymysql==1.2.4",
  "gunicorn==27.0.1",
  "requests==2.34.2",
  "psycopg2-binary==2.9.13",
  "grpcio==1.85.4",
];
const STAMP = `${PYTHON_ENV}/upspan-packages`;

function stamped(): boolean {
  try {
    return Deno.readTextFileSync(STAMP) === PACKAGES.join("\n");
  } catch {
    return false;
  }
}

/** Makes the environment if it is missing or holds other versions. */
export async function preparePythonEnv(): Promise<void> {
  if (stamped()) return;
  // An environment that exists is added to, not made again: tests running beside this may
  // be using its interpreter.
  let exists = false;
  try {
    exists = Deno.statSync(PYTHON).isFile;
  } catch { /* made below */ }
  for (
    const [cmd, args] of [
      ...(exists ? [] : [["python3", ["-m", "venv", PYTHON_ENV]] as const]),
      [`${PYTHON_ENV}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", ...PACKAGES]],
    ] as const
  ) {
    const out = await new Deno.Command(cmd, { args: [...args], stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  Deno.writeTextFileSync(STAMP, PACKAGES.join("\n"));
}

/** The interpreter, once the environment exists (made on first use if need be). */
export async function pythonEnv(): Promise<string> {
  await preparePythonEnv();
  return PYTHON;
}
