/**
 * Opening a file a process has mapped, without letting the process choose another. Its
 * container controls the path /proc/PID/maps shows: since discovery it may have put a
 * symlink there (which a plain open through /proc/PID/root resolves against upspan's own
 * root: a host file read and probed) or a FIFO (an open that never returns). So the path
 * is resolved inside the process's root (`openat2` with `RESOLVE_IN_ROOT`), without
 * blocking, and kept only if it is a regular file with the device and inode maps gave;
 * failing that, the mapping itself is opened through /proc/PID/map_files. The descriptor's
 * `/proc/self/fd/N` reaches that same file again: symbols are read and uprobes attached
 * through it, so what was read is what is probed.
 *
 * @module
 */
import {
  AT_FDCWD,
  closeFd,
  fstat,
  O_DIRECTORY,
  O_NOCTTY,
  O_NONBLOCK,
  O_PATH,
  openat2,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
} from "../../ffi/mod.ts";
import type { MappedFile } from "./process.ts";

/** A mapped file, open. Close it (or `using`) once read or attached. */
export interface OpenedFile extends Disposable {
  fd: number;
  /** `/proc/self/fd/N`: this very file, for whatever takes a path. */
  path: string;
  size: number;
  close(): void;
}

/** What {@linkcode openMappedFile} gives: the file, or one sentence on why not. */
export type OpenMappedResult = { ok: true; file: OpenedFile } | { ok: false; error: string };

const READ = O_NONBLOCK | O_NOCTTY;

/** The pid and the form of a host path made by discovery (`/proc/PID/root/...`, `map_files`). */
function parseHostPath(hostPath: string): { pid: number; inRoot?: string } | undefined {
  const m = /^\/proc\/(\d+)\/(root|map_files)(\/.*)$/.exec(hostPath);
  if (!m) return undefined;
  return { pid: Number(m[1]), ...(m[2] === "root" ? { inRoot: m[3]! } : {}) };
}

/** The descriptor if it is the mapped file; otherwise closed, and why not. */
function keepIfSame(fd: number, file: MappedFile): string | undefined {
  try {
    const st = fstat(fd);
    if (st.type !== "file") return `a ${st.type}, not a regular file`;
    const [major = NaN, minor = NaN] = file.device.split(":").map((h) => parseInt(h, 16));
    if (st.major !== major || st.minor !== minor || st.inode !== file.inode) {
      const hex = (n: number) => n.toString(16).padStart(2, "0");
      return `another file (${hex(st.major)}:${hex(st.minor)} inode ${st.inode})`;
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function opened(fd: number): OpenedFile {
  let open = true;
  const close = () => {
    if (open) closeFd(fd);
    open = false;
  };
  return { fd, path: `/proc/self/fd/${fd}`, size: fstat(fd).size, close, [Symbol.dispose]: close };
}

/** Opens `path` under `root` (a descriptor), symlinks resolved inside it. */
function openInRoot(pid: number, path: string): number {
  const root = openat2(AT_FDCWD, `/proc/${pid}/root`, O_PATH | O_DIRECTORY, 0);
  try {
    return openat2(root, path.replace(/^\/+/, ""), READ, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  } finally {
    closeFd(root);
  }
}

/** Opens the process's own mapping of the file (by device and inode) via map_files. */
function openMapping(pid: number, file: MappedFile): number {
  const maps = Deno.readTextFileSync(`/proc/${pid}/maps`);
  for (const line of maps.split("\n")) {
    const [range, , , device, inode] = line.split(/\s+/, 5);
    if (device === file.device && Number(inode) === file.inode) {
      return openat2(AT_FDCWD, `/proc/${pid}/map_files/${range}`, READ, 0);
    }
  }
  throw new Error(`process ${pid} no longer maps it`);
}

/**
 * Opens the file `file` names, as its process maps it. Never throws, never blocks.
 *
 * @example
 * ```ts ignore
 * const r = openMappedFile(process.files[0]!);
 * if (r.ok) {
 *   using f = r.file;
 *   const bytes = await Deno.readFile(f.path);
 * }
 * ```
 */
export function openMappedFile(file: MappedFile): OpenMappedResult {
  const where = parseHostPath(file.hostPath);
  // The path inside its root first; then (or for a deleted file, whose host path is
  // already there) the mapping itself, in whichever process the host path names.
  const attempts: (() => number)[] = [
    where?.inRoot !== undefined
      ? () => openInRoot(where.pid, where.inRoot!)
      : () => openat2(AT_FDCWD, file.hostPath, READ, 0),
    ...(where ? [() => openMapping(where.pid, file)] : []),
  ];
  const why: string[] = [];
  for (const attempt of attempts) {
    let fd: number;
    try {
      fd = attempt();
    } catch (e) {
      why.push((e as Error).message);
      continue;
    }
    const wrong = keepIfSame(fd, file);
    if (wrong === undefined) return { ok: true, file: opened(fd) };
    closeFd(fd);
    why.push(`${file.path} is now ${wrong}`);
  }
  const pid = where ? ` in process ${where.pid}` : "";
  return {
    ok: false,
    error: `${file.path}${pid} is not the file it mapped any more (${
      [...new Set(why)].join("; ")
    }): not read, not probed`,
  };
}

/** An Error from {@linkcode withMappedFile}: the file was not the one mapped. */
export class MappedFileError extends Error {}

/**
 * Calls `use` with a path to exactly the file `file` names as mapped (`/proc/self/fd/N`),
 * open for the call. Throws {@linkcode MappedFileError} when it cannot be opened.
 */
export function withMappedFile<T>(file: MappedFile, use: (path: string) => T): T {
  const r = openMappedFile(file);
  if (!r.ok) throw new MappedFileError(r.error);
  using f = r.file;
  return use(f.path);
}
