/**
 * A container without a container runtime, for tests: a minimal root file system in a
 * temp dir holding its own copies of Python and the libraries it loads (libssl.so.3 among
 * them, so they have other inodes than the host's), run with `unshare --mount --pid
 * --fork` and `pivot_root`, the way runc starts a container: the root file system is the
 * root mount of the new mount namespace, so the host sees the process's files by their
 * paths inside (a plain `chroot` would show host paths in /proc/PID/maps). Optionally the server is moved into a cgroup named like a Docker
 * container's (`…/docker-<id>.scope`), so that container discovery finds an id.
 *
 * @example
 * ```ts
 * await using server = await startContainerizedHttpsServer({ containerId: randomContainerId() });
 * // server.pid is the host pid; in its pid namespace it is pid 1.
 * console.log(server.pid, server.port, server.caCert);
 * ```
 *
 * @module
 */
import { makeCert } from "./certs.ts";
import { PYTHON_SERVER, pythonExecutable, startServer } from "./targets.ts";

/**
 * The interpreter whose copy goes into the root file system: the one Debian's `python3`
 * package runs (whichever version), not a pyenv build with its own library paths.
 */
const PYTHON = pythonExecutable("/usr/bin/python3");
const LIBDIR = "/usr/lib/x86_64-linux-gnu";

/** A root file system made by {@link makeRootfs}. */
export interface Rootfs {
  /** Its directory on the host. */
  dir: string;
  /** The interpreter inside it (a path as seen from inside). */
  python: string;
  /** The host's stdlib, bind-mounted at the same path inside once the mount namespace exists. */
  stdlib: string;
  /** The copied libraries, by soname, as paths inside. */
  libraries: Map<string, string>;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout);
}

/**
 * Builds a root file system in `dir` with copies of Python, the loader and every shared
 * library Python or its extension modules need. The stdlib is not copied (it is large and
 * nothing probes it): the launcher bind-mounts it inside the new mount namespace.
 */
export async function makeRootfs(dir: string): Promise<Rootfs> {
  const STDLIB =
    (await run(PYTHON, ["-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"]))
      .trim();
  const name = PYTHON.slice(PYTHON.lastIndexOf("/") + 1);
  for (const d of ["usr/bin", LIBDIR.slice(1), "lib64", STDLIB.slice(1), "srv", "tmp", "dev"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.symlink("usr/lib", `${dir}/lib`);
  await Deno.mkdir(`${dir}${PYTHON.slice(0, PYTHON.lastIndexOf("/"))}`, { recursive: true });
  await Deno.copyFile(PYTHON, `${dir}${PYTHON}`);
  await Deno.chmod(`${dir}${PYTHON}`, 0o755);
  if (name !== "python3") await Deno.symlink(name, `${dir}/usr/bin/python3`).catch(() => {});
  const modules = [...Deno.readDirSync(`${STDLIB}/lib-dynload`)]
    .filter((e) => e.name.endsWith(".so"))
    .map((e) => `${STDLIB}/lib-dynload/${e.name}`);
  const ldd = await run("ldd", [PYTHON, ...modules]);
  const libraries = new Map<string, string>();
  for (const line of ldd.split("\n")) {
    // "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x…)" or "\t/lib64/ld-linux…"
    const m = /^\s+(\S+) => (\/\S+) \(/.exec(line) ?? /^\s+(\/\S+) \(/.exec(line);
    if (!m) continue;
    const soname = m[1]!.slice(m[1]!.lastIndexOf("/") + 1);
    if (libraries.has(soname)) continue;
    const from = m[2] ?? m[1]!;
    const inside = from.startsWith("/lib64/") ? `/lib64/${soname}` : `${LIBDIR}/${soname}`;
    // A copy, not a link: its own inode, as a container image's libraries have.
    await Deno.copyFile(await Deno.realPath(from), `${dir}${inside}`);
    libraries.set(soname, inside);
  }
  return { dir, python: PYTHON, stdlib: STDLIB, libraries };
}

/** A random 64-hex-digit id, shaped like a Docker container id. */
export function randomContainerId(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Cgroup roots to try, cgroup v2 first: a pure v2 host, then a hybrid host's two kinds. */
const CGROUP_ROOTS = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"];

/**
 * Moves `pid` into a new cgroup `upspan-test.slice/docker-<id>.scope`, the way Docker's
 * systemd driver names a container's cgroup. Returns a function that removes the cgroup
 * once the process has left it (exited).
 */
export async function joinContainerCgroup(
  pid: number,
  id: string,
): Promise<() => Promise<void>> {
  const errors: string[] = [];
  for (const root of CGROUP_ROOTS) {
    try {
      // Only a cgroup file system root will do (on a hybrid host /sys/fs/cgroup is tmpfs).
      await Deno.stat(`${root}/cgroup.procs`);
    } catch {
      continue;
    }
    const slice = `${root}/upspan-test.slice`;
    const scope = `${slice}/docker-${id}.scope`;
    try {
      await Deno.mkdir(scope, { recursive: true });
      await Deno.writeTextFile(`${scope}/cgroup.procs`, `${pid}\n`);
    } catch (e) {
      errors.push(`${root}: ${(e as Error).message}`);
      await Deno.remove(scope).catch(() => {});
      continue;
    }
    return async () => {
      for (let i = 0; i < 50; i++) {
        try {
          await Deno.remove(scope);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // the process is still leaving
        }
      }
      await Deno.remove(slice).catch(() => {}); // another test's scope may still be there
    };
  }
  throw new Error(
    `Cannot make a container cgroup for pid ${pid}: ${
      errors.join("; ") || "no cgroup file system"
    }`,
  );
}

/** Options for {@link startContainerizedHttpsServer}. */
export interface ContainerizedServerOptions {
  /** Put the server in a cgroup named like Docker container `containerId`. Default: none. */
  containerId?: string;
  /**
   * How the root file system becomes the server's root: `pivot_root` (default), as container
   * runtimes do, or a plain `chroot`, as chrooted daemons do (the root is then a directory
   * of the host's tree, and /proc/PID/maps shows host paths).
   */
  root?: "pivot_root" | "chroot";
  /** How long to wait for the server to listen. Default: 15 000 ms. */
  timeoutMs?: number;
}

/** A server running in its own root file system, mount and pid namespaces. */
export interface ContainerizedServer extends AsyncDisposable {
  /** The server's pid on the host (the process to trace). */
  pid: number;
  /** Its pid inside its pid namespace: 1. */
  nsPid: number;
  /** TCP port on 127.0.0.1 (the network namespace is the host's). */
  port: number;
  /** The certificate to trust, as a host path (`curl --cacert`). */
  caCert: string;
  /** The root file system on the host. */
  rootfs: Rootfs;
  /** The container id its cgroup names, when one was asked for. */
  containerId?: string;
  /** The `unshare` process that launched it. */
  launcherPid: number;
  /** Stops the server, removes its cgroup and root file system. Safe to call twice. */
  stop(): Promise<void>;
}

/** The pids of `pid`'s children. */
async function children(pid: number): Promise<number[]> {
  const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
  return text.trim().split(/\s+/).filter((s) => s !== "").map(Number);
}

/**
 * Starts `tests/targets/https_server.py` with a copied Python and libssl, chrooted into a
 * fresh root file system, in new mount and pid namespaces (the network stays the host's,
 * so the port is reachable on 127.0.0.1). Needs root.
 */
export async function startContainerizedHttpsServer(
  options: ContainerizedServerOptions = {},
): Promise<ContainerizedServer> {
  const dir = await Deno.makeTempDir({ prefix: "upspan-rootfs-" });
  let cleanupCgroup: (() => Promise<void>) | undefined;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let pid: number | undefined;
  const stop = async () => {
    // The server is its pid namespace's init, which ignores signals it has no handler for
    // (SIGTERM included) unless they are SIGKILL; its death ends the namespace.
    if (pid !== undefined) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await server?.stop();
    server = undefined;
    await cleanupCgroup?.();
    cleanupCgroup = undefined;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const rootfs = await makeRootfs(dir);
    await makeCert(`${dir}/srv`);
    await Deno.copyFile(PYTHON_SERVER, `${dir}/srv/https_server.py`);
    // The mounts exist only in the new mount namespace and vanish with it. The root file
    // system becomes a mount of its own, then the namespace's root, as in a container. The
    // old root stays mounted at /.old-root: unmounting it needs a umount inside the rootfs.
    await Deno.mkdir(`${dir}/.old-root`);
    const serve = `${rootfs.python} /srv/https_server.py 0 /srv/cert.pem /srv/key.pem`;
    const pivot = options.root !== "chroot";
    const script = [
      `mount --make-rprivate /`,
      // pivot_root needs the new root to be a mount point; made first, the mounts below
      // land inside it.
      ...(pivot ? [`mount --bind ${dir} ${dir}`] : []),
      `mount --bind ${rootfs.stdlib} ${dir}${rootfs.stdlib}`,
      `mount --bind /dev ${dir}/dev`,
      ...(pivot
        ? [`cd ${dir}`, `pivot_root . .old-root`, `exec ${serve}`]
        : [`exec chroot ${dir} ${serve}`]),
    ].join(" && ");
    server = await startServer(
      "unshare",
      ["--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script],
      { timeoutMs: options.timeoutMs ?? 15_000 },
    );
    [pid] = await children(server.pid);
    if (pid === undefined) throw new Error("unshare has no child: the server did not start");
    if (options.containerId !== undefined) {
      cleanupCgroup = await joinContainerCgroup(pid, options.containerId);
    }
    return {
      pid,
      nsPid: 1,
      port: server.port,
      caCert: `${dir}/srv/cert.pem`,
      rootfs,
      containerId: options.containerId,
      launcherPid: server.pid,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
