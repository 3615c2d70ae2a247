/**
 * A throwaway TLS certificate for the test servers, made with the `openssl` CLI.
 *
 * @module
 */

/** Paths of a PEM certificate and its unencrypted private key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * Writes `cert.pem` and `key.pem` into `dir`: a self-signed RSA-2048 certificate for
 * `localhost` and `127.0.0.1`, valid for two days.
 *
 * The certificate says `CA:FALSE`: it is a server (end-entity) certificate that clients
 * trust directly. `openssl req -x509` marks it `CA:TRUE` by default, which rustls (Deno's
 * TLS) refuses with `CaUsedAsEndEntity`; curl and Python accept either.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const { cert, key } = await makeCert(dir);
 * const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
 * ```
 */
export async function makeCert(dir: string): Promise<CertFiles> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const args = [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "-addext",
    "extendedKeyUsage=serverAuth",
    "-keyout",
    key,
    "-out",
    cert,
  ];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  } catch (err) {
    throw new Error(`Cannot run "openssl" to make a test certificate: ${err}`, { cause: err });
  }
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`Cannot make a test certificate in "${dir}": openssl says: ${stderr}`);
  }
  return { cert, key };
}
