/**
 * A seeded fuzzer for the resource readers of text a traced process controls:
 * {@linkcode parseResourceAttributes} (its `OTEL_RESOURCE_ATTRIBUTES`) and
 * {@linkcode parseCgroup} (/proc/PID/cgroup). Mutates real samples and checks
 * that neither throws and that what they return is well formed.
 *
 * @module
 */
import { parseResourceAttributes } from "../src/resource.ts";
import { parseCgroup } from "../src/discovery/container.ts";
import { mulberry32 } from "../src/prng.ts";

/** What a fuzz run saw. */
export interface FuzzResourceResult {
  iterations: number;
  attributes: number;
  skipped: number;
  containerIds: number;
  problems: number;
}

const ID = "0123456789abcdef".repeat(4);
const CORPUS = [
  "service.name=shop,deployment.environment.name=prod%20eu",
  "a=1,b=x%2Cy,,=v,noeq,c=%zz",
  "k8s.pod.name=web-0,k8s.namespace.name=default,service.version=1.2.3",
  `12:pids:/docker/${ID}\n11:memory:/docker/${ID}\n`,
  `0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-${ID}.scope\n`,
  `0::/machine.slice/libpod-${ID}.scope/container\n`,
  "0::/user.slice/user-0.slice/session-1.scope\n",
];
const TOKENS = ["%", "%2", "%E2%82", "=", ",", ":", "/", "\n", ".scope", "docker-", ID];

function mutate(s: string, rand: () => number): string {
  let out = s;
  for (let r = 1 + Math.floor(rand() * 4); r > 0; r--) {
    const at = Math.floor(rand() * (out.length + 1));
    switch (Math.floor(rand() * 5)) {
      case 0:
        out = out.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) +
          out.slice(at + 1);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + Math.floor(rand() * 16));
        break;
      case 2:
        out = out.slice(0, at) + TOKENS[Math.floor(rand() * TOKENS.length)]! + out.slice(at);
        break;
      case 3:
        out = out + CORPUS[Math.floor(rand() * CORPUS.length)]!;
        break;
      default:
        out = out.slice(0, at);
    }
  }
  return out;
}

/** Runs `iterations` mutated inputs through both readers, seeded. */
export function fuzzResource(iterations: number, seed: number): FuzzResourceResult {
  const rand = mulberry32(seed);
  const result = { iterations: 0, attributes: 0, skipped: 0, containerIds: 0, problems: 0 };
  for (let i = 0; i < iterations; i++) {
    const input = mutate(CORPUS[Math.floor(rand() * CORPUS.length)]!, rand);
    result.iterations++;
    try {
      const r = parseResourceAttributes(input);
      for (const [k, v] of Object.entries(r.attributes)) {
        if (k === "" || typeof v !== "string") result.problems++;
        result.attributes++;
      }
      result.skipped += r.skipped.length;
      const id = parseCgroup(input)?.id;
      if (id !== undefined) {
        if (!/^[0-9a-f]{64}$/.test(id)) result.problems++;
        result.containerIds++;
      }
    } catch {
      result.problems++;
    }
  }
  return result;
}
