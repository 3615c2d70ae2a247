import assert from "node:assert/strict";
import {
  type ContainerIdentity,
  parseCgroup,
  parseCgroupPath,
  parseNsPids,
  readContainer,
  readNamespaces,
} from "./container.ts";

const ID = "3f4a8e1b2c9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const ID2 = "9c1e0b7f4d2a86e3b5c7d9f1a3e5c7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1";
const UID = "6b7f3d2e-1a4c-4e8b-9f0d-2c5a7e9b1d3f";
const UID_ = UID.replaceAll("-", "_");

// Each row: a runtime and cgroup layout, the /proc/PID/cgroup text as it reads there, and
// what should come out.
const CASES: [string, string, ContainerIdentity | undefined][] = [
  [
    "Docker, cgroup v1, cgroupfs driver",
    `12:memory:/docker/${ID}\n11:cpu,cpuacct:/docker/${ID}\n1:name=systemd:/docker/${ID}\n`,
    { id: ID, runtime: "docker" },
  ],
  [
    "Docker, cgroup v1, systemd driver",
    `11:pids:/system.slice/docker-${ID}.scope\n1:name=systemd:/system.slice/docker-${ID}.scope\n`,
    { id: ID, runtime: "docker" },
  ],
  [
    "Docker, cgroup v2, systemd driver",
    `0::/system.slice/docker-${ID}.scope\n`,
    { id: ID, runtime: "docker" },
  ],
  [
    "Docker, cgroup v2, cgroupfs driver",
    `0::/docker/${ID}\n`,
    { id: ID, runtime: "docker" },
  ],
  [
    "containerd (CRI), cgroup v2, systemd driver",
    `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`,
    { id: ID, runtime: "containerd", podUid: UID },
  ],
  [
    "containerd (CRI), guaranteed QoS, cgroup v2, systemd driver",
    `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope\n`,
    { id: ID, runtime: "containerd", podUid: UID },
  ],
  [
    "containerd (CRI), cgroup v1, cgroupfs driver",
    `12:cpuset:/kubepods/besteffort/pod${UID}/${ID}\n` +
    `4:memory:/kubepods/besteffort/pod${UID}/${ID}\n` +
    `1:name=systemd:/kubepods/besteffort/pod${UID}/${ID}\n`,
    { id: ID, podUid: UID },
  ],
  [
    "containerd (CRI), cgroup v2, cgroupfs driver",
    `0::/kubepods/burstable/pod${UID}/${ID}\n`,
    { id: ID, podUid: UID },
  ],
  [
    "CRI-O, cgroup v2, systemd driver",
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope\n`,
    { id: ID, runtime: "cri-o", podUid: UID },
  ],
  [
    "CRI-O, cgroup v1, systemd driver",
    `10:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope\n` +
    `1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope\n`,
    { id: ID, runtime: "cri-o", podUid: UID },
  ],
  [
    "CRI-O conmon (a monitor beside the container, not in it)",
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${ID}.scope\n`,
    undefined,
  ],
  [
    "Podman rootful, cgroup v2",
    `0::/machine.slice/libpod-${ID}.scope/container\n`,
    { id: ID, runtime: "podman" },
  ],
  [
    "Podman rootless, cgroup v2",
    `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope\n`,
    { id: ID, runtime: "podman" },
  ],
  [
    "Podman conmon",
    `0::/machine.slice/libpod-conmon-${ID}.scope\n`,
    undefined,
  ],
  [
    "Podman, cgroup v1, cgroupfs driver",
    `9:memory:/libpod_parent/libpod-${ID}\n`,
    { id: ID, runtime: "podman" },
  ],
  [
    "a container seen from a sibling container's cgroup namespace",
    `0::/../../kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID2}.scope\n`,
    { id: ID2, runtime: "containerd", podUid: UID },
  ],
  [
    "Docker in Kubernetes (dockershim), cgroup v1",
    `11:devices:/kubepods/burstable/pod${UID}/${ID}\n1:name=systemd:/kubepods/burstable/pod${UID}/${ID}\n`,
    { id: ID, podUid: UID },
  ],
  [
    "a host process, cgroup v2",
    "0::/user.slice/user-0.slice/session-3.scope\n",
    undefined,
  ],
  [
    "a host process, hybrid v1 + v2",
    "12:memory:/user.slice\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n0::/user.slice/user-0.slice/session-1.scope\n",
    undefined,
  ],
  ["the root cgroup", "0::/\n", undefined],
  ["empty", "", undefined],
  ["garbage", "no colons here\n::\n:::::\n\0\0\0", undefined],
];

Deno.test("parseCgroup: container id, runtime and pod uid for each runtime and layout", async (t) => {
  for (const [name, text, want] of CASES) {
    await t.step(name, () => assert.deepEqual(parseCgroup(text), want));
  }
});

Deno.test("parseCgroup: the v2 line is preferred over v1 lines", () => {
  const text = `4:memory:/docker/${ID}\n0::/system.slice/docker-${ID2}.scope\n`;
  assert.equal(parseCgroup(text)?.id, ID2);
});

Deno.test("parseCgroupPath: the innermost container segment wins; ids are 64 hex digits", () => {
  assert.equal(parseCgroupPath(`/docker/${ID}/docker/${ID2}`)?.id, ID2);
  assert.equal(parseCgroupPath(`/docker/${ID.slice(0, 63)}`), undefined);
  assert.equal(parseCgroupPath(`/docker/${ID.toUpperCase()}`), undefined);
});

Deno.test("parseNsPids: outermost first; absent on old kernels", () => {
  assert.deepEqual(parseNsPids("Name:\tpython3\nNSpid:\t81234\t57\t1\nNSpgid:\t1\n"), [
    81234,
    57,
    1,
  ]);
  assert.deepEqual(parseNsPids("Name:\tsleep\nNSpid:\t42\n"), [42]);
  assert.deepEqual(parseNsPids("Name:\tsleep\n"), []);
});

Deno.test("readNamespaces/readContainer: this process shares our namespaces", async () => {
  const ns = await readNamespaces(Deno.pid);
  assert.ok(ns);
  assert.equal(ns.otherMountNamespace, false);
  assert.equal(ns.otherPidNamespace, false);
  assert.match(ns.mntNs ?? "", /^mnt:\[\d+\]$/);
  assert.equal(ns.nsPids[0], Deno.pid);
  const c = await readContainer(Deno.pid);
  assert.ok(c);
  assert.equal(c.nsPid, ns.nsPid);
  assert.equal(await readContainer(4_000_003), undefined);
});
