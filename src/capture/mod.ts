/**
 * The conversation capture, an instrumentation: the BPF object's TLS uprobes, socket hooks
 * and process-life tracepoints, the decoder of its ring-buffer records into stream chunks
 * and socket facts, and the verdicts that stop it shipping bytes nothing parses.
 *
 * @module
 */
export {
  captureDecoder,
  type CaptureEvent,
  type CaptureTypes,
  type ProcessEvent,
  type ProcessEventType,
  type SocketKey,
} from "./events.ts";
export { LOADER, loaderSites } from "./loader.ts";
export { TracedPids } from "./traced_pids.ts";
export {
  CAPTURE_OBJECT,
  CaptureInstrumentation,
  type CaptureOptions,
  type CaptureSpanOptions,
  type CaptureStats,
} from "./instrumentation.ts";
export {
  attachSyscalls,
  PROCESS_TRACEPOINTS,
  SYSCALL_PROGRAMS,
  SYSCALL_TRACEPOINTS,
  type SyscallAttach,
  syscallAttachOrder,
  type Tracepoint,
} from "./syscalls.ts";
