/**
 * Byte streams: one direction of one connection put back in order from the chunks the
 * probes report, with holes, known truncations and key reuse said out loud to the
 * protocol parser that reads it.
 *
 * @example
 * ```ts ignore
 * import { StreamReassembler } from "./src/streams/mod.ts";
 * const stream = new StreamReassembler({ data, gap, reset });
 * stream.push(chunk);
 * ```
 *
 * @module
 */
export {
  type ReassemblyCounters,
  type StreamPart,
  StreamReassembler,
  type StreamReassemblerOptions,
  type StreamSink,
} from "./reassembler.ts";
