/**
 * libbpf and libc through Deno FFI. Nothing outside this folder calls FFI.
 *
 * @module
 */
export { BpfMap, BpfObject, BpfProgram, Link, type UprobeOptions } from "./bpf_object.ts";
export { BpfError, type LogLevel, type LogSink, possibleCpus, setLogSink } from "./libbpf.ts";
export type { Field, StructLayout } from "./btf.ts";
export {
  type BtfTypes,
  type CounterSource,
  encodeU32Struct,
  enumValue,
  fieldOf,
  readCounters,
} from "./struct.ts";
export {
  type DecodeResult,
  type RecordDecoder,
  type RecordHandler,
  RingReader,
} from "./ring_reader.ts";
export { CallbackRing } from "./callback_ring.ts";
export { monotonicNs, realtimeNs, releaseFreedMemory, WakeupSet } from "./libc.ts";
export { releaseFilePages } from "./file_pages.ts";
export {
  AT_FDCWD,
  closeFd,
  type FileStatus,
  fstat,
  O_DIRECTORY,
  O_NOCTTY,
  O_NONBLOCK,
  O_PATH,
  openat2,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
} from "./libc.ts";
