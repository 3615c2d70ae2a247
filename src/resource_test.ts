import assert from "node:assert/strict";
import {
  DISTRO_VERSION,
  otelEnv,
  parseResourceAttributes,
  processResource,
  runtimeOf,
} from "./resource.ts";
import type { ProcessInfo } from "./discovery/mod.ts";
import { inspectProcess } from "./discovery/mod.ts";

const PROC: ProcessInfo = {
  pid: 4242,
  comm: "python3",
  exe: "/usr/bin/python3.11",
  commandLine: ["python3", "server.py", "8443"],
  files: [],
};
const ID = "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed";

Deno.test("resource: from the executable when the process sets nothing", () => {
  const r = processResource(PROC, {
    environ: ["PATH=/bin"],
    cgroup: "0::/user.slice\n",
    hostName: "box",
  });
  assert.deepEqual(r, {
    "service.name": "python3.11",
    "service.instance.id": "box:4242",
    "process.pid": 4242,
    "process.executable.name": "python3.11",
    "process.executable.path": "/usr/bin/python3.11",
    "process.command_line": "python3 server.py 8443",
    "process.runtime.name": "cpython",
    "process.runtime.version": "3.11",
    "host.name": "box",
    "telemetry.distro.name": "upspan",
    "telemetry.distro.version": DISTRO_VERSION,
  });
});

Deno.test("resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES of the target", () => {
  const environ = [
    "OTEL_RESOURCE_ATTRIBUTES=service.name=ignored,deployment.environment.name=prod%20eu,process.pid=1",
    "OTEL_SERVICE_NAME=checkout",
  ];
  const r = processResource(PROC, {
    environ,
    cgroup: `0::/system.slice/docker-${ID}.scope\n`,
    hostName: "h",
  });
  assert.equal(r["service.name"], "checkout");
  assert.equal(r["deployment.environment.name"], "prod eu");
  assert.equal(r["process.pid"], 4242, "facts win over what the environment claims");
  assert.equal(r["container.id"], ID);
  const r2 = processResource(PROC, {
    environ: ["OTEL_RESOURCE_ATTRIBUTES=service.name=cart,service.instance.id=i-1"],
    cgroup: "",
    hostName: "h",
  });
  assert.equal(r2["service.name"], "cart");
  assert.equal(r2["service.instance.id"], "i-1");
});

Deno.test("resource: a target cannot claim another container or pod; its secrets stay home", () => {
  const other = "f".repeat(64);
  const environ = [
    `OTEL_RESOURCE_ATTRIBUTES=container.id=${other},k8s.pod.uid=1234,container.runtime.name=x,team=a`,
  ];
  const inContainer = processResource(PROC, {
    environ,
    cgroup: `0::/system.slice/docker-${ID}.scope\n`,
    hostName: "h",
  });
  assert.equal(inContainer["container.id"], ID, "the cgroup says which container");
  assert.equal(inContainer["k8s.pod.uid"], undefined);
  assert.equal(inContainer["team"], "a");
  const onHost = processResource(PROC, { environ, cgroup: "0::/user.slice\n", hostName: "h" });
  assert.equal(onHost["container.id"], undefined, "no container for a host process");
  assert.equal(onHost["k8s.pod.uid"], undefined);
  assert.equal(onHost["container.runtime.name"], undefined);
  const mysql = processResource(
    { ...PROC, commandLine: ["mysql", "-uapp", "-phunter2", "--host=db"] },
    { environ: [], cgroup: "", hostName: "h" },
  );
  assert.equal(mysql["process.command_line"], "mysql -uapp -pREDACTED --host=db");
});

Deno.test("resource: a real process, read from /proc", async () => {
  const child = new Deno.Command("sleep", {
    args: ["30"],
    env: { OTEL_SERVICE_NAME: "sleepy", OTEL_RESOURCE_ATTRIBUTES: "team=core" },
  }).spawn();
  try {
    const p = await inspectProcess(child.pid);
    assert.ok(p.ok);
    const r = processResource(p.process);
    assert.equal(r["service.name"], "sleepy");
    assert.equal(r["team"], "core");
    assert.equal(r["process.pid"], child.pid);
    assert.equal(r["host.name"], Deno.hostname());
  } finally {
    child.kill();
    await child.status;
  }
});

Deno.test("resource: OTEL_RESOURCE_ATTRIBUTES parsing skips what is malformed", () => {
  assert.deepEqual(parseResourceAttributes(""), { attributes: {}, skipped: [] });
  assert.deepEqual(parseResourceAttributes(" a = 1 ,b=x%2Cy,,=v,noeq,c=%zz"), {
    attributes: { a: "1", b: "x,y" },
    skipped: ["=v", "noeq", "c=%zz"],
  });
  assert.deepEqual(otelEnv(["OTEL_SERVICE_NAME=a", "OTEL_SERVICE_NAME=b"]), { serviceName: "b" });
});

Deno.test("resource: runtimes from executable names", () => {
  assert.deepEqual(runtimeOf("python3.12"), { name: "cpython", version: "3.12" });
  assert.deepEqual(runtimeOf("python"), { name: "cpython" });
  assert.deepEqual(runtimeOf("node"), { name: "nodejs" });
  assert.equal(runtimeOf("nginx"), undefined);
});
