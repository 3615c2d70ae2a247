/**
 * Which processes to trace, and what is mapped inside them: selectors (`--pid`, `--exe`,
 * `--port`, `--all`, `--container`), container identity and namespaces, and a watcher for
 * processes that start, exec or exit.
 *
 * @module
 */
export {
  childrenOf,
  inspectProcess,
  isAlive,
  type MappedFile,
  parseMaps,
  type ProcessError,
  type ProcessInfo,
  type ProcessResult,
  withDescendants,
} from "./process.ts";
export {
  type ContainerIdentity,
  type ContainerInfo,
  type ContainerRuntime,
  type NamespaceInfo,
  parseCgroup,
  parseCgroupPath,
  parseNsPids,
  readContainer,
  readNamespaces,
} from "./container.ts";
export {
  exeMatches,
  globToRegExp,
  listeningInodes,
  type SelectedProcess,
  type Selection,
  type SelectOptions,
  type Selectors,
  selectProcesses,
} from "./selectors.ts";
export {
  type ExecReason,
  type WatchedProcess,
  type WatchOptions,
  watchProcesses,
} from "./watch.ts";
export {
  MappedFileError,
  type OpenedFile,
  openMappedFile,
  type OpenMappedResult,
  withMappedFile,
} from "./mapped_file.ts";
