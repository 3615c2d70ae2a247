/**
 * Which processes to trace, and what is mapped inside them.
 *
 * @module
 */
export {
  inspectProcess,
  isAlive,
  type MappedFile,
  parseMaps,
  type ProcessError,
  type ProcessInfo,
  type ProcessResult,
} from "./process.ts";
