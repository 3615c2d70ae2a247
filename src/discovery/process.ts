/**
 * What upspan knows of one running process, read from /proc: its executable, command
 * line and the files it has mapped, each reachable through /proc/PID/root so that a
 * container's own files resolve from the host.
 *
 * @module
 */

import { type ContainerIdentity, parseCgroup, parseNsPids } from "./container.ts";

/** A file mapped into a process, as /proc/PID/maps lists it. */
export interface MappedFile {
  /** The path inside the process's mount namespace. */
  path: string;
  /** The same file as the agent can open it: through /proc/PID/root. */
  hostPath: string;
  /** "major:minor" device and inode: the identity of the file a uprobe is placed on. */
  device: string;
  inode: number;
}

/** A process to instrument. */
export interface ProcessInfo {
  pid: number;
  /** The short name the kernel keeps (`comm`). */
  comm: string;
  /** The executable path inside the process's mount namespace. */
  exe: string;
  commandLine: string[];
  /** Distinct mapped files, the executable first. */
  files: MappedFile[];
  /** Its pid inside its own (innermost) pid namespace; equals `pid` outside containers. */
  nsPid?: number;
  /** The container it runs in, when its cgroup path names one (`container.id`). */
  container?: ContainerIdentity;
}

/** Why a process cannot be inspected, with what to do. */
export interface ProcessError {
  ok: false;
  /**
   * `not-found`, `thread`, `kernel-thread`, `permission`, `gone` (exited while read) or
   * `unsupported` (a 32-bit program).
   */
  reason: "not-found" | "thread" | "kernel-thread" | "permission" | "gone" | "unsupported";
  message: string;
}

/** The outcome of {@link inspectProcess}. */
export type ProcessResult = { ok: true; process: ProcessInfo } | ProcessError;

const PF_KTHREAD = 0x00200000;

function fail(reason: ProcessError["reason"], message: string): ProcessError {
  return { ok: false, reason, message };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** `path` as seen from `root` (a chroot directory as we see it); unchanged outside it. */
function insideRoot(path: string, root: string): string {
  return root !== "/" && path.startsWith(`${root}/`) ? path.slice(root.length) : path;
}

/**
 * Parses the mapped files out of /proc/PID/maps text (anonymous and pseudo maps skipped).
 * `dir` is /proc/PID. A file deleted since it was mapped (a library upgraded under a
 * running server) is still reachable through /proc/PID/map_files. `root` is the
 * process's root directory as we see it (/proc/PID/root's link): for a chrooted process
 * the kernel writes paths as seen from our root, and they are made relative to its own.
 */
export function parseMaps(text: string, dir: string, root = "/"): MappedFile[] {
  const seen = new Set<string>();
  const files: MappedFile[] = [];
  for (const line of text.split("\n")) {
    // address perms offset dev inode path
    const m = /^(\S+)\s+\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\/.*)$/.exec(line);
    if (!m) continue;
    const [, range = "", device = "", inodeText = "0", name = ""] = m;
    const inode = Number(inodeText);
    if (inode === 0) continue;
    const key = `${device}:${inode}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const deleted = name.endsWith(" (deleted)");
    const path = insideRoot(deleted ? name.slice(0, -" (deleted)".length) : name, root);
    const hostPath = deleted ? `${dir}/map_files/${range}` : `${dir}/root${path}`;
    files.push({ path, hostPath, device, inode });
  }
  return files;
}

/**
 * Reads a process from /proc. Never throws: a missing process, a kernel thread or a
 * permission problem comes back as a {@link ProcessError} with one sentence.
 *
 * @example
 * ```ts
 * const r = await inspectProcess(Deno.pid);
 * if (r.ok) console.log(r.process.exe, r.process.files.length);
 * ```
 */
export async function inspectProcess(pid: number): Promise<ProcessResult> {
  const dir = `/proc/${pid}`;
  const stat = await readText(`${dir}/stat`);
  if (stat === undefined) {
    return fail(
      "not-found",
      `No process with pid ${pid} exists; check the pid with \`ps -p ${pid}\`.`,
    );
  }
  // pid (comm) state ppid ... flags is the 9th field; comm may contain spaces and parens.
  const close = stat.lastIndexOf(")");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const flags = Number(stat.slice(close + 2).split(" ")[6] ?? 0);
  // /proc/TID exists for every thread, but probes filter by process (the thread group).
  const status = (await readText(`${dir}/status`)) ?? "";
  const tgid = Number(/^Tgid:\s*(\d+)/m.exec(status)?.[1] ?? pid);
  if (tgid !== pid) {
    return fail(
      "thread",
      `Pid ${pid} is a thread of process ${tgid} (${comm}), not a process; use --pid ${tgid}.`,
    );
  }
  if (flags & PF_KTHREAD) {
    return fail(
      "kernel-thread",
      `Process ${pid} (${comm}) is a kernel thread, which has no user-space code to probe; choose a user process.`,
    );
  }
  let exe: string;
  let maps: string;
  try {
    exe = await Deno.readLink(`${dir}/exe`);
    maps = await Deno.readTextFile(`${dir}/maps`);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      return fail(
        "permission",
        (await mayTraceAny())
          ? `Cannot read /proc/${pid} (${comm}): permission denied even with CAP_SYS_PTRACE; the process is out of upspan's reach (a user namespace above upspan's, or a security module such as Yama or AppArmor), so it cannot be traced.`
          : `Cannot read /proc/${pid}: permission denied; run upspan as root (sudo) or with CAP_SYS_PTRACE.`,
      );
    }
    if (e instanceof Deno.errors.NotFound) {
      const still = await readText(`${dir}/stat`);
      return still === undefined
        ? fail("gone", `Process ${pid} exited while upspan was reading it.`)
        : fail(
          "kernel-thread",
          `Process ${pid} (${comm}) has no executable (a zombie or kernel thread); choose a running user process.`,
        );
    }
    return fail("gone", `Cannot read /proc/${pid}: ${(e as Error).message}.`);
  }
  // A 32-bit program makes its system calls through the compat entry, which the syscall
  // tracepoints do not report, and its ELF32 objects have no symbols the reader can find.
  if (await elfClass(`${dir}/exe`) === ELFCLASS32) {
    return fail(
      "unsupported",
      `Process ${pid} (${comm}) is a 32-bit program; upspan traces 64-bit (x86-64) processes only.`,
    );
  }
  // A process in another mount namespace shows "/" here; a chrooted one its directory.
  const root = await Deno.readLink(`${dir}/root`).catch(() => "/");
  exe = insideRoot(exe.replace(/ \(deleted\)$/, ""), root);
  const cmdline = (await readText(`${dir}/cmdline`)) ?? "";
  // Empty, it may be a process exiting as it is read (its memory, and with it its command
  // line, already gone): then its executable is gone too.
  if (cmdline === "" && !(await Deno.readLink(`${dir}/exe`).then(() => true, () => false))) {
    return fail("gone", `Process ${pid} exited while upspan was reading it.`);
  }
  const files = parseMaps(maps, dir, root);
  const nsPids = parseNsPids(status);
  const container = parseCgroup((await readText(`${dir}/cgroup`)) ?? "");
  const exeIndex = files.findIndex((f) => f.path === exe);
  if (exeIndex > 0) files.unshift(...files.splice(exeIndex, 1));
  return {
    ok: true,
    process: {
      pid,
      comm,
      exe,
      commandLine: cmdline.split("\0").filter((s, i, a) => s !== "" || i < a.length - 1),
      files,
      nsPid: nsPids[nsPids.length - 1] ?? pid,
      ...(container ? { container } : {}),
    },
  };
}

const ELFCLASS32 = 1;

/** The EI_CLASS byte of an ELF file (1: 32-bit, 2: 64-bit), or undefined if unreadable. */
async function elfClass(path: string): Promise<number | undefined> {
  try {
    using file = await Deno.open(path);
    const ident = new Uint8Array(5);
    if ((await file.read(ident)) !== 5) return undefined;
    const elf = ident[0] === 0x7f && ident[1] === 0x45 && ident[2] === 0x4c && ident[3] === 0x46;
    return elf ? ident[4] : undefined;
  } catch {
    return undefined;
  }
}

const CAP_SYS_PTRACE = 19n;

/** Whether upspan holds CAP_SYS_PTRACE, which lets it read any process's /proc it may see. */
async function mayTraceAny(): Promise<boolean> {
  const status = (await readText("/proc/self/status")) ?? "";
  const eff = BigInt("0x" + (/^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? "0"));
  return ((eff >> CAP_SYS_PTRACE) & 1n) === 1n;
}

/** True while the process exists (and is not a zombie). */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readText(`/proc/${pid}/stat`);
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** The live children of a process: those each of its threads forked (`children` of each task). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
  } catch {
    return out; // exited
  }
  for (const tid of tasks) {
    const text = await readText(`/proc/${pid}/task/${tid}/children`) ?? "";
    for (const child of text.split(" ")) {
      const n = Number(child);
      if (n > 0 && !out.includes(n)) out.push(n);
    }
  }
  return out;
}

/**
 * `pids` and every process descended from them (a pre-forking server's master and its
 * workers), parents first; at most `max` in all.
 */
export async function withDescendants(pids: readonly number[], max = 4096): Promise<number[]> {
  const out = [...pids];
  for (let i = 0; i < out.length && out.length < max; i++) {
    for (const child of await childrenOf(out[i]!)) {
      if (!out.includes(child) && out.length < max) out.push(child);
    }
  }
  return out;
}
