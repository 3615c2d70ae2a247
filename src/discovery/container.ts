/**
 * Which container a process runs in, read from /proc: the container id and Kubernetes pod
 * uid out of /proc/PID/cgroup (Docker, containerd, CRI-O and Podman; cgroup v1 and v2,
 * cgroupfs and systemd drivers), its pid inside its own pid namespace, and whether it
 * lives in other mount or pid namespaces than upspan.
 *
 * @module
 */

/** The container runtime named by a cgroup path, where the path names one. */
export type ContainerRuntime = "docker" | "containerd" | "cri-o" | "podman";

/** A container as its cgroup path describes it. */
export interface ContainerIdentity {
  /** The full container id (64 lowercase hex digits). */
  id: string;
  /** The runtime, when the path says (a plain `/kubepods/.../pod.../<id>` path does not). */
  runtime?: ContainerRuntime;
  /** `k8s.pod.uid`, with dashes, when the path carries it. */
  podUid?: string;
}

/** A process's place among namespaces. */
export interface NamespaceInfo {
  /** The pid as the process itself sees it (innermost pid namespace). */
  nsPid: number;
  /** Its pid in each nested pid namespace, outermost (ours, when we are on the host) first. */
  nsPids: number[];
  /** `/proc/PID/ns/mnt` link text, e.g. `mnt:[4026531841]`; undefined when unreadable. */
  mntNs?: string;
  /** `/proc/PID/ns/pid` link text. */
  pidNs?: string;
  /** True when its mount namespace is not upspan's: its paths resolve via /proc/PID/root. */
  otherMountNamespace: boolean;
  /** True when its pid namespace is not upspan's. */
  otherPidNamespace: boolean;
}

/** Everything container-related about one process. */
export interface ContainerInfo extends NamespaceInfo {
  /** The container, when the cgroup path names one. */
  container?: ContainerIdentity;
}

const HEX64 = "[0-9a-f]{64}";
// `<runtime>-<id>.scope`, the systemd driver's name for a container's unit (cgroupfs
// Podman leaves off the `.scope`). The conmon
// monitors (`crio-conmon-<id>`, `libpod-conmon-<id>`) run beside a container, not in it,
// and do not match because "conmon-" stands between the prefix and the id.
const SCOPE = new RegExp(`^(docker|cri-containerd|crio|libpod)-(${HEX64})(?:\\.scope)?$`);
const BARE = new RegExp(`^(${HEX64})$`);
// pod<uid> in cgroupfs paths (dashes) and kubepods-...-pod<uid>.slice (underscores).
const POD =
  /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

const SCOPE_RUNTIME: Record<string, ContainerRuntime> = {
  docker: "docker",
  "cri-containerd": "containerd",
  crio: "cri-o",
  libpod: "podman",
};

/** The container named by one cgroup path (`/kubepods/...`), if any. */
export function parseCgroupPath(path: string): ContainerIdentity | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  // The innermost container-looking segment wins: a nested cgroup (Podman's `/container`
  // leaf, a systemd unit inside a container) sits below the container's own segment.
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    let id: string | undefined;
    let runtime: ContainerRuntime | undefined;
    const scope = SCOPE.exec(part);
    if (scope) {
      id = scope[2];
      runtime = SCOPE_RUNTIME[scope[1]!];
    } else if (BARE.test(part)) {
      id = part;
      const parent = parts[i - 1] ?? "";
      // cgroupfs driver: /docker/<id>, /libpod_parent/libpod-..., /kubepods/.../pod<uid>/<id>.
      if (parent === "docker") runtime = "docker";
    }
    if (id === undefined) continue;
    let podUid: string | undefined;
    for (let j = i - 1; j >= 0 && podUid === undefined; j--) {
      const pod = POD.exec(parts[j]!);
      if (pod) podUid = pod[1]!.replaceAll("_", "-");
    }
    const out: ContainerIdentity = { id };
    if (runtime) out.runtime = runtime;
    if (podUid) out.podUid = podUid;
    return out;
  }
  return undefined;
}

/**
 * The container named by /proc/PID/cgroup text, or undefined for a process outside any
 * container. Never throws. Each line is `hierarchy-id:controllers:path`; the cgroup v2
 * line (`0::`) is preferred, then the v1 lines in order (they agree on a real system).
 *
 * @example
 * ```ts
 * parseCgroup("0::/system.slice/docker-" + "ab".repeat(32) + ".scope\n");
 * // -> { id: "abab...", runtime: "docker" }
 * ```
 */
export function parseCgroup(text: string): ContainerIdentity | undefined {
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1);
    if (line.startsWith("0::")) paths.unshift(path);
    else paths.push(path);
  }
  for (const path of paths) {
    const found = parseCgroupPath(path);
    if (found) return found;
  }
  return undefined;
}

/** The pids of `NSpid:` in /proc/PID/status text, outermost first; [] when absent. */
export function parseNsPids(status: string): number[] {
  const m = /^NSpid:([\t 0-9]*)$/m.exec(status);
  if (!m) return [];
  return m[1]!.trim().split(/\s+/).filter((s) => s !== "").map(Number);
}

function readLinkSync(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

let ours: { mnt?: string; pid?: string } | undefined;

/** Upspan's own namespaces, read once. */
function ownNamespaces(): { mnt?: string; pid?: string } {
  ours ??= { mnt: readLinkSync("/proc/self/ns/mnt"), pid: readLinkSync("/proc/self/ns/pid") };
  return ours;
}

/**
 * Reads a process's namespace pid and namespaces. Undefined when the process is gone.
 * The namespace links need the same rights as /proc/PID/maps (root or CAP_SYS_PTRACE);
 * without them `mntNs`/`pidNs` are undefined and the `other...` flags false.
 */
export async function readNamespaces(pid: number): Promise<NamespaceInfo | undefined> {
  let status: string;
  try {
    status = await Deno.readTextFile(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const nsPids = parseNsPids(status);
  const mntNs = readLinkSync(`/proc/${pid}/ns/mnt`);
  const pidNs = readLinkSync(`/proc/${pid}/ns/pid`);
  const own = ownNamespaces();
  return {
    nsPid: nsPids[nsPids.length - 1] ?? pid,
    nsPids: nsPids.length > 0 ? nsPids : [pid],
    mntNs,
    pidNs,
    otherMountNamespace: mntNs !== undefined && own.mnt !== undefined && mntNs !== own.mnt,
    otherPidNamespace: pidNs !== undefined && own.pid !== undefined && pidNs !== own.pid,
  };
}

/**
 * Reads which container a process is in, with its namespace pid. Undefined when the
 * process is gone.
 *
 * @example
 * ```ts
 * const info = await readContainer(1234);
 * if (info?.container) console.log(info.container.id, info.nsPid);
 * ```
 */
export async function readContainer(pid: number): Promise<ContainerInfo | undefined> {
  const ns = await readNamespaces(pid);
  if (!ns) return undefined;
  let cgroup = "";
  try {
    cgroup = await Deno.readTextFile(`/proc/${pid}/cgroup`);
  } catch {
    return undefined;
  }
  const container = parseCgroup(cgroup);
  return container ? { ...ns, container } : ns;
}
