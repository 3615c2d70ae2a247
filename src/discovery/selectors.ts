/**
 * Which processes the command line means: `--pid`, `--exe GLOB`, `--port N`, `--all` and
 * `--container ID`, resolved against /proc in one pass. A process is selected when any
 * selector matches it; each match says which selectors chose it and why, and a selector
 * that matched nothing comes back as a plain sentence in `problems`.
 *
 * @module
 */
import { parseCgroup } from "./container.ts";
import { inspectProcess } from "./process.ts";

/** What to select. Every field is optional; the result is the union of their matches. */
export interface Selectors {
  /** Processes by pid (`--pid`). */
  pids?: number[];
  /** Executable globs (`--exe`): `*`, `?`, `[...]` and `**`; without a slash, the base name. */
  exes?: string[];
  /** TCP ports (`--port`): processes holding a listening socket on the port. */
  ports?: number[];
  /** Every user-space process but upspan itself (`--all`). */
  all?: boolean;
  /** Container ids, full or a unique prefix (`--container`). */
  containers?: string[];
}

/** Options for {@link selectProcesses}. */
export interface SelectOptions {
  /** The proc file system to read. Default `/proc` (tests point it at a fake tree). */
  procRoot?: string;
  /** Pids never selected by `--all`, `--exe`, `--port`, `--container`. Default: upspan's own. */
  exclude?: number[];
}

/** One selected process. */
export interface SelectedProcess {
  pid: number;
  /** The kernel's short name for it (`comm`). */
  comm: string;
  /** One phrase per selector that chose it, e.g. `--exe python*: /usr/bin/python3.11`. */
  why: string[];
}

/** The outcome of {@link selectProcesses}. */
export interface Selection {
  /** Selected processes, by pid. */
  matched: SelectedProcess[];
  /** One sentence per selector that selected nothing or could not be applied. */
  problems: string[];
}

const PF_KTHREAD = 0x00200000;
const TCP_LISTEN = "0A";

/** A process as the quick /proc scan sees it. */
interface Candidate {
  pid: number;
  comm: string;
}

function readTextSync(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

function readLinkSync(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Turns a shell-style glob into a RegExp anchored at both ends: `*` matches within one
 * path component, `**` across components, `?` one character, `[...]` a class (`[!...]`
 * negated); anything else matches itself.
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** True when `exe` matches `glob`: the whole path, or its base name for a glob without `/`. */
export function exeMatches(glob: string, exe: string, re = globToRegExp(glob)): boolean {
  return re.test(glob.includes("/") ? exe : exe.slice(exe.lastIndexOf("/") + 1));
}

/**
 * The inodes of listening sockets on `port` in /proc/net/tcp or tcp6 text. Never throws;
 * lines that do not parse are skipped.
 */
export function listeningInodes(text: string, port: number): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const local = f[1]!;
    const colon = local.lastIndexOf(":");
    if (colon < 0 || parseInt(local.slice(colon + 1), 16) !== port) continue;
    const inode = Number(f[9]);
    if (Number.isSafeInteger(inode) && inode > 0) out.push(inode);
  }
  return out;
}

/** Every user-space process (kernel threads and zombies left out), from one /proc readdir. */
function scan(root: string): Candidate[] {
  const out: Candidate[] = [];
  for (const entry of Deno.readDirSync(root)) {
    const c = entry.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry.name);
    const stat = readTextSync(`${root}/${pid}/stat`);
    if (stat === undefined) continue; // exited since the readdir
    const close = stat.lastIndexOf(")");
    const rest = stat.slice(close + 2).split(" ", 7);
    if (rest[0] === "Z" || rest[0] === "X") continue;
    if (Number(rest[6] ?? 0) & PF_KTHREAD) continue;
    out.push({ pid, comm: stat.slice(stat.indexOf("(") + 1, close) });
  }
  return out;
}

/** The pids among `candidates` that hold a listening TCP socket on `port`. */
function listeners(root: string, candidates: Candidate[], port: number): Map<number, number> {
  // Sockets live in network namespaces: read each namespace's table once, through the
  // first process in it, then look for those inodes only among that namespace's processes.
  const byNet = new Map<string, number[]>();
  for (const { pid } of candidates) {
    const key = readLinkSync(`${root}/${pid}/ns/net`) ?? `pid:${pid}`;
    const pids = byNet.get(key);
    if (pids) pids.push(pid);
    else byNet.set(key, [pid]);
  }
  const found = new Map<number, number>();
  for (const pids of byNet.values()) {
    const inodes = new Set<number>();
    for (const table of ["tcp", "tcp6"]) {
      for (const pid of pids) {
        // An exiting process has left its namespaces: its table reads empty (no header).
        const text = readTextSync(`${root}/${pid}/net/${table}`);
        if (!text) continue; // exited: try the next process in the namespace
        for (const inode of listeningInodes(text, port)) inodes.add(inode);
        break;
      }
    }
    if (inodes.size === 0) continue;
    for (const pid of pids) {
      let fds: Iterable<Deno.DirEntry>;
      try {
        fds = Deno.readDirSync(`${root}/${pid}/fd`);
      } catch {
        continue; // exited, or not ours to read
      }
      for (const fd of fds) {
        const link = readLinkSync(`${root}/${pid}/fd/${fd.name}`);
        if (!link?.startsWith("socket:[")) continue;
        const inode = Number(link.slice(8, -1));
        if (inodes.has(inode)) {
          found.set(pid, inode);
          break;
        }
      }
    }
  }
  return found;
}

/**
 * Resolves selectors against /proc. Never throws for a process that exits while it is
 * read: it is simply not selected.
 *
 * @example
 * ```ts
 * const { matched, problems } = await selectProcesses({ exes: ["python3*"], ports: [8443] });
 * for (const m of matched) console.log(m.pid, m.comm, m.why.join("; "));
 * for (const p of problems) console.error(p);
 * ```
 */
export async function selectProcesses(
  selectors: Selectors,
  options: SelectOptions = {},
): Promise<Selection> {
  const root = options.procRoot ?? "/proc";
  const exclude = new Set(options.exclude ?? [Deno.pid]);
  const matched = new Map<number, SelectedProcess>();
  const problems: string[] = [];
  const add = (pid: number, comm: string, why: string) => {
    const m = matched.get(pid);
    if (m) m.why.push(why);
    else matched.set(pid, { pid, comm, why: [why] });
  };

  for (const pid of new Set(selectors.pids ?? [])) {
    if (options.procRoot === undefined) {
      const r = await inspectProcess(pid);
      if (r.ok) add(pid, r.process.comm, `--pid ${pid}`);
      else problems.push(r.message);
      continue;
    }
    const stat = readTextSync(`${root}/${pid}/stat`);
    if (stat === undefined) problems.push(`No process with pid ${pid} exists.`);
    else add(pid, stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), `--pid ${pid}`);
  }

  const exes = selectors.exes ?? [];
  const ports = [...new Set(selectors.ports ?? [])];
  const containers = [...new Set((selectors.containers ?? []).map((c) => c.toLowerCase()))];
  if (!selectors.all && exes.length === 0 && ports.length === 0 && containers.length === 0) {
    return { matched: [...matched.values()].sort((a, b) => a.pid - b.pid), problems };
  }
  const candidates = scan(root).filter((c) => !exclude.has(c.pid));

  if (selectors.all) { for (const c of candidates) add(c.pid, c.comm, "--all"); }

  if (exes.length > 0) {
    const globs = exes.map((g) => ({ glob: g, re: globToRegExp(g), hits: 0 }));
    for (const c of candidates) {
      const link = readLinkSync(`${root}/${c.pid}/exe`);
      if (link === undefined) continue; // exited, or not ours to read
      const exe = link.replace(/ \(deleted\)$/, "");
      for (const g of globs) {
        if (exeMatches(g.glob, exe, g.re)) {
          g.hits++;
          add(c.pid, c.comm, `--exe ${g.glob}: ${exe}`);
        }
      }
    }
    for (const g of globs) {
      if (g.hits === 0) {
        problems.push(
          `No process has an executable matching --exe ${g.glob}; list them with \`ps -eo pid,exe\` (a glob without "/" matches the base name).`,
        );
      }
    }
  }

  for (const port of ports) {
    const found = listeners(root, candidates, port);
    const comm = new Map(candidates.map((c) => [c.pid, c.comm]));
    for (const [pid, inode] of found) {
      add(pid, comm.get(pid) ?? "", `--port ${port}: listening socket inode ${inode}`);
    }
    if (found.size === 0) {
      problems.push(
        `No process is listening on TCP port ${port}; check with \`ss -ltnp 'sport = :${port}'\`.`,
      );
    }
  }

  if (containers.length > 0) {
    const ids = new Map<number, string>();
    const known = new Set<string>();
    for (const c of candidates) {
      const id = parseCgroup(readTextSync(`${root}/${c.pid}/cgroup`) ?? "")?.id;
      if (id === undefined) continue;
      ids.set(c.pid, id);
      known.add(id);
    }
    for (const prefix of containers) {
      if (!/^[0-9a-f]{1,64}$/.test(prefix)) {
        problems.push(
          `--container needs a container id (hex digits, as \`docker ps --no-trunc\` or \`crictl ps\` shows), not "${prefix}".`,
        );
        continue;
      }
      const hits = [...known].filter((id) => id.startsWith(prefix));
      if (hits.length === 0) {
        problems.push(
          `No running process is in a container whose id begins with ${prefix}; check the id with \`docker ps --no-trunc\` or \`crictl ps\`.`,
        );
      } else if (hits.length > 1) {
        problems.push(
          `--container ${prefix} matches ${hits.length} containers (${
            hits.map((h) => h.slice(0, 12)).join(", ")
          }); give more digits of the id.`,
        );
      } else {
        for (const c of candidates) {
          if (ids.get(c.pid) === hits[0]) {
            add(c.pid, c.comm, `--container ${prefix}: ${hits[0]!.slice(0, 12)}`);
          }
        }
      }
    }
  }

  return { matched: [...matched.values()].sort((a, b) => a.pid - b.pid), problems };
}
