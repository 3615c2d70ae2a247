/**
 * Whether this kernel lets upspan write a `traceparent` into a Go process's outgoing
 * requests. The write is `bpf_probe_write_user`, which the kernel withholds in lockdown
 * (integrity or confidentiality -- set at boot, by Secure Boot, or built into the kernel)
 * and from callers without CAP_SYS_ADMIN. Asked once at start-up, and by `doctor`: the
 * lockdown file when it says so, else the verifier, by loading a program that calls it
 * (`bpf/uprobes/write_user.bpf.c`, never attached).
 *
 * `UPSPAN_LOCKDOWN_FILE` names another file to read the lockdown mode from (tests use it
 * to see the refusal as a kernel in lockdown gives it, whatever this kernel allows).
 *
 * @module
 */
import { BpfObject } from "../../ffi/mod.ts";

const LOCKDOWN = "/sys/kernel/security/lockdown";
/** The built probe program. */
export const WRITE_USER_OBJECT =
  new URL("../../bpf/out/write_user.bpf.o", import.meta.url).pathname;

/**
 * Why `bpf_probe_write_user` is not allowed, in a few words; undefined when it is.
 *
 * @example
 * ```ts ignore
 * const refused = await injectionRefusal();
 * if (refused) console.error(`traceparent injection refused: ${refused}`);
 * ```
 */
export async function injectionRefusal(
  objectPath = WRITE_USER_OBJECT,
): Promise<string | undefined> {
  const path = Deno.env.get("UPSPAN_LOCKDOWN_FILE") || LOCKDOWN;
  const text = await Deno.readTextFile(path).catch(() => undefined);
  const mode = text === undefined ? undefined : lockdownMode(text);
  if (mode !== undefined && mode !== "none") {
    return `the kernel is in lockdown (${mode}), which forbids bpf_probe_write_user`;
  }
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(objectPath);
    obj.load();
    return undefined;
  } catch (e) {
    if (obj === undefined) return `${(e as Error).message.replace(/\.$/, "")}`;
    // Lockdown without securityfs mounted, or no CAP_SYS_ADMIN: the verifier refuses.
    return "the kernel refuses BPF programs that call bpf_probe_write_user (lockdown, or no CAP_SYS_ADMIN)";
  } finally {
    obj?.close();
  }
}

/** The selected mode of `/sys/kernel/security/lockdown` ("none [integrity] confidentiality"). */
export function lockdownMode(text: string): string | undefined {
  return /\[(\w+)\]/.exec(text)?.[1];
}
