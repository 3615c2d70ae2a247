/**
 * The probes upspan has placed, attached once per (file, offset, program). A uprobe is
 * placed on a file: attached for every process (pid -1), it fires in all that map the
 * file and BPF filters by the traced-pid map, so more traced processes sharing a library
 * cost map updates, not attaches. Where one traced process maps a file, the probe is
 * attached for that process alone: the kernel then plants no breakpoint in the others
 * (curl, wrk, every other OpenSSL user on the host), which would each pay ~4 µs per SSL
 * call for nothing.
 *
 * @module
 */
import type { BpfObject, Link } from "../ffi/mod.ts";
import { withMappedFile } from "./discovery/mod.ts";
import type { ProbeSite } from "./tls/mod.ts";

/** Attached probes, keyed by file identity and offset. Closing detaches them all. */
export class ProbeSet {
  readonly #obj: BpfObject;
  readonly #links = new Map<string, Link>();

  constructor(obj: BpfObject) {
    this.#obj = obj;
  }

  /**
   * Attaches the sites not yet attached; returns how many new probes were placed.
   * `pid` limits them to one process (default -1: every process mapping the file). Each
   * file is attached through a descriptor on the file its process maps (see
   * `withMappedFile`), not by its path, which the process may have changed; throws
   * `MappedFileError` if that file is no longer there.
   */
  attach(sites: readonly ProbeSite[], pid = -1): number {
    let added = 0;
    for (const site of sites) {
      const where = `${site.file.device}:${site.file.inode}:${site.offset}:${site.program}`;
      const key = `${pid}@${where}`;
      // Attached for every process already: it fires in this one too.
      if (this.#links.has(key) || this.#links.has(`-1@${where}`)) continue;
      const link = withMappedFile(
        site.file,
        (path) =>
          this.#obj.program(site.program).attachUprobe({
            path,
            offset: site.offset,
            retprobe: site.retprobe,
            cookie: site.shift,
            pid,
          }),
      );
      this.#links.set(key, link);
      added++;
    }
    return added;
  }

  /**
   * Detaches sites {@link attach} placed for `pid` (-1: for every process), off the main
   * thread; sites not attached so are left alone.
   */
  async detach(sites: readonly ProbeSite[], pid = -1): Promise<void> {
    const links: Link[] = [];
    for (const site of sites) {
      const key = `${pid}@${site.file.device}:${site.file.inode}:${site.offset}:${site.program}`;
      const link = this.#links.get(key);
      if (!link) continue;
      this.#links.delete(key);
      links.push(link);
    }
    await Promise.all(links.map((link) => link.closeAsync()));
  }

  /** Attaches a program to a tracepoint (once). */
  attachTracepoint(program: string, category: string, name: string): void {
    const key = `tp:${category}:${name}:${program}`;
    if (this.#links.has(key)) return;
    this.#links.set(key, this.#obj.program(program).attachTracepoint(category, name));
  }

  /** Attaches a program where its section names (`tp_btf/sys_enter`), once. */
  attachProgram(program: string): void {
    const key = `tp:${program}`;
    if (this.#links.has(key)) return;
    this.#links.set(key, this.#obj.program(program).attach());
  }

  /** Detaches what {@link attachProgram} attached. */
  detachProgram(program: string): void {
    const key = `tp:${program}`;
    this.#links.get(key)?.close();
    this.#links.delete(key);
  }

  /** How many probes are attached. */
  get size(): number {
    return this.#links.size;
  }

  /** How many of them are uprobes. */
  get uprobes(): number {
    return [...this.#links.keys()].filter((k) => !k.startsWith("tp:")).length;
  }

  /** Detaches every probe, all at once (each detach waits out an RCU grace period). */
  async close(): Promise<void> {
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(links.map((link) => link.closeAsync()));
  }
}
