/**
 * A seeded fuzzer for discovery's /proc text parsers — {@link parseCgroup},
 * {@link parseNsPids} and {@link listeningInodes}: cgroup paths carry names that runtimes
 * and delegated users choose, so they are parsed as untrusted. Mutates real samples and
 * checks that nothing throws and that what comes out is well-formed.
 *
 * @module
 */
import { mulberry32 } from "../src/prng.ts";
import { parseCgroup, parseNsPids } from "../src/discovery/container.ts";
import { listeningInodes } from "../src/discovery/selectors.ts";

/** What a fuzz run saw. */
export interface FuzzProcTextResult {
  iterations: number;
  /** Inputs in which a container id was found. */
  containers: number;
  /** Listening sockets found. */
  sockets: number;
}

const ID = "3f4a8e1b2c9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const UID = "6b7f3d2e_1a4c_4e8b_9f0d_2c5a7e9b1d3f";

const CORPUS: string[] = [
  `12:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n0::/docker/${ID}\n`,
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID}.slice/cri-containerd-${ID}.scope\n`,
  `0::/kubepods/besteffort/pod${UID.replaceAll("_", "-")}/${ID}\n`,
  `0::/machine.slice/libpod-${ID}.scope/container\n`,
  `0::/kubepods.slice/kubepods-pod${UID}.slice/crio-conmon-${ID}.scope\n`,
  "0::/user.slice/user-0.slice/session-3.scope\n",
  "Name:\tpython3\nTgid:\t81234\nNSpid:\t81234\t57\t1\nNSpgid:\t1\n",
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
  "   0: 0100007F:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 301234 1 0 100 0 0 10 0\n" +
  "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1555 1 0 100 0 0 10 0\n",
];

const TOKENS = [
  "/",
  ":",
  "\n",
  "\t",
  " ",
  "-",
  "_",
  ".scope",
  "pod",
  "docker-",
  "0A",
  "NSpid:",
  "\0",
];

function mutate(input: string, rand: () => number): string {
  let s = input;
  for (let r = 1 + Math.floor(rand() * 4); r > 0; r--) {
    const at = Math.floor(rand() * (s.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: // replace a character by a random one (any code unit)
        s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x10000)) + s.slice(at + 1);
        break;
      case 1: // delete a stretch
        s = s.slice(0, at) + s.slice(at + Math.floor(rand() * 24));
        break;
      case 2: // duplicate a stretch
        s = s.slice(0, at) + s.slice(at, at + Math.floor(rand() * 80)) + s.slice(at);
        break;
      case 3: // insert a token
        s = s.slice(0, at) + TOKENS[Math.floor(rand() * TOKENS.length)]! + s.slice(at);
        break;
      case 4: // append another sample
        s += CORPUS[Math.floor(rand() * CORPUS.length)]!;
        break;
      default: // truncate
        s = s.slice(0, at);
    }
  }
  return s;
}

/**
 * Runs `iterations` mutated inputs through the parsers with a fixed `seed`; throws on a
 * parser exception or a malformed result (an id that is not 64 hex digits, a pod uid with
 * underscores, a pid or inode that is not a positive integer).
 */
export function fuzzProcText(iterations: number, seed: number): FuzzProcTextResult {
  const rand = mulberry32(seed);
  let containers = 0;
  let sockets = 0;
  for (let i = 0; i < iterations; i++) {
    const input = mutate(CORPUS[Math.floor(rand() * CORPUS.length)]!, rand);
    const c = parseCgroup(input);
    if (c) {
      containers++;
      if (!/^[0-9a-f]{64}$/.test(c.id)) {
        throw new Error(`bad id ${JSON.stringify(c)} from ${JSON.stringify(input)}`);
      }
      if (c.podUid !== undefined && !/^[0-9a-f-]{36}$/.test(c.podUid)) {
        throw new Error(`bad pod uid ${JSON.stringify(c)} from ${JSON.stringify(input)}`);
      }
    }
    for (const pid of parseNsPids(input)) {
      if (!Number.isSafeInteger(pid) || pid < 0) {
        throw new Error(`bad pid ${pid} from ${JSON.stringify(input)}`);
      }
    }
    for (const port of [0x20fb, 22, Math.floor(rand() * 65536)]) {
      for (const inode of listeningInodes(input, port)) {
        sockets++;
        if (!Number.isSafeInteger(inode) || inode <= 0) throw new Error(`bad inode ${inode}`);
      }
    }
  }
  return { iterations, containers, sockets };
}
