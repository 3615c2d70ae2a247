/**
 * The conversation capture: the BPF object's syscall tracepoints and the decoder of its
 * ring-buffer records into stream chunks and socket facts, for TLS and plain sockets alike.
 *
 * @module
 */
export {
  captureDecoder,
  type CaptureEvent,
  type CaptureTypes,
  type ProcessEvent,
  SOCKET_CONN_PREFIX,
} from "./events.ts";
export {
  attachSyscalls,
  PROCESS_TRACEPOINTS,
  SYSCALL_PROGRAMS,
  SYSCALL_TRACEPOINTS,
  type SyscallAttach,
  syscallAttachOrder,
  type Tracepoint,
} from "./syscalls.ts";
