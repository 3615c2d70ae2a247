/**
 * Decodes the capture's ring-buffer records (`struct data_event` and `struct socket_event`
 * of `bpf/uprobes/capture.h`) into stream chunks and socket facts. Field offsets come from
 * the object's BTF, so the C header stays the one definition.
 *
 * @module
 */
import { type BtfTypes, enumValue as value, fieldOf, type StructLayout } from "../../ffi/mod.ts";
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/** A process that executed a new program, a traced process that forked or ended. */
export interface ProcessEvent {
  pid: number;
  /** The thread's name (after an exec: the new program's). */
  comm: string;
  monoNs: bigint;
  /** A fork's parent process. */
  parent?: number;
}

/**
 * A plain socket as the kernel keys it (`struct sock *`, the 8 bytes of `ignored_socks`'s
 * key), copied from its record.
 */
export type SocketKey = Uint8Array<ArrayBuffer> & { readonly __socketKey: never };

/**
 * A decoded record: bytes, a connection's socket (with the kernel's key where it is a plain
 * socket), a plain socket closed, a process event.
 */
export type CaptureEvent =
  | { type: "chunk"; chunk: StreamChunk }
  | { type: "socket"; socket: SocketInfo; key?: SocketKey }
  | { type: "close"; socket: SocketInfo }
  | { type: ProcessEventType; process: ProcessEvent };

/** Execs, exits and forks; `load`: a traced process's loader mapped or unmapped libraries. */
export type ProcessEventType = "exec" | "exit" | "fork" | "load";

const field = (layout: StructLayout, name: string) => fieldOf(layout, name).offset;

/** What the connection key of a plain socket starts with (its kernel address follows). */
export const SOCKET_KEY_PREFIX = "sock:";

/** IPv4 address text, from 4 bytes at `at`. */
export function ipv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/** Whether 16 bytes at `at` are an IPv4-mapped IPv6 address (checked before any text is made). */
function mappedIpv4(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 10; i++) if (bytes[i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

/** IPv6 address text (RFC 5952; an IPv4-mapped one as IPv4), from 16 bytes at `at`. */
export function ipv6(bytes: Uint8Array, at: number): string {
  // ::ffff:a.b.c.d (an IPv4 peer on a dual-stack socket) reads best as IPv4.
  if (mappedIpv4(bytes, at)) return ipv4(bytes, at + 12);
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push(((bytes[at + i]! << 8) | bytes[at + i + 1]!).toString(16));
  }
  // RFC 5952: the longest run of two or more zero words (the first of equals) becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}`;
}

/**
 * Connection keys made from an address in a record: a plain socket's `struct sock *` (the
 * kernel's, prefixed `sock:`) or an `SSL *` (the process's). Every record names one, and
 * formatting 64 bits as hex each time cost more than the rest of decoding; the same string
 * each time also lets the maps keyed by it skip hashing it again. Bounded: emptied when it
 * holds more keys than a busy host keeps connections open.
 */
export class AddressKeys {
  #prefix: string;
  #byHigh = new Map<number, Map<number, string>>();
  #size = 0;
  // In front of the maps, the last address seen in each of 256 slots: a record usually
  // names a connection seen just before, and two map lookups cost more than the rest of it.
  #slotLo = new Uint32Array(256);
  #slotHi = new Uint32Array(256);
  #slotName = new Array<string>(256).fill("");

  /** `prefix`: what the key starts with, before the address's hex. */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** The connection key of the address (8 bytes, little-endian) at `at`. */
  key(view: DataView, at: number): string {
    const lo = view.getUint32(at, true), hi = view.getUint32(at + 4, true);
    // Sockets are cache-line aligned, and SSLs, kilobytes each, differ above bit 6 too.
    const slot = ((lo >>> 6) ^ (lo >>> 14)) & 255;
    const cached = this.#slotName[slot]!;
    if (this.#slotLo[slot] === lo && this.#slotHi[slot] === hi && cached !== "") return cached;
    const name = this.#named(lo, hi);
    this.#slotLo[slot] = lo;
    this.#slotHi[slot] = hi;
    this.#slotName[slot] = name;
    return name;
  }

  #named(lo: number, hi: number): string {
    let names = this.#byHigh.get(hi);
    if (names === undefined) this.#byHigh.set(hi, names = new Map());
    let name = names.get(lo);
    if (name === undefined) {
      if (++this.#size > 65536) {
        this.#byHigh.clear();
        this.#byHigh.set(hi, names = new Map());
        this.#size = 1;
      }
      // Two 32-bit halves, not a BigInt: a kernel address takes all 64 bits.
      const hex = hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, "0");
      names.set(lo, name = this.#prefix + "0x" + hex);
    }
    return name;
  }
}

/** Where the decoder reads the C definitions: the BPF object's BTF. */
export type CaptureTypes = BtfTypes;

/**
 * Builds a decoder for the records of `bpf/uprobes/capture.h`, by their BTF. The decoder
 * copies only the captured bytes out of the ring (the record itself is read in place).
 */
export function captureDecoder(types: CaptureTypes) {
  const data = types.structLayout("data_event");
  const socket = types.structLayout("socket_event");
  const kinds = types.enumValues("event_kind");
  const KIND_DATA = value(kinds, "EVENT_DATA");
  const KIND_SOCKET = value(kinds, "EVENT_SOCKET");
  const KIND_CLOSE = value(kinds, "EVENT_CLOSE");
  const KIND_EXEC = value(kinds, "EVENT_EXEC");
  const KIND_EXIT = value(kinds, "EVENT_EXIT");
  const KIND_FORK = value(kinds, "EVENT_FORK");
  const KIND_LOAD = value(kinds, "EVENT_LOAD");
  const proc = types.structLayout("process_event");
  const p = {
    tgid: field(proc, "tgid"),
    ts: field(proc, "ts_ns"),
    comm: field(proc, "comm"),
    parent: field(proc, "parent"),
  };
  const latin1 = new TextDecoder("latin1");
  const SOURCE_SOCKET = value(types.enumValues("event_source"), "SOURCE_SOCKET");
  const INGRESS = value(types.enumValues("direction"), "DIR_INGRESS");
  const d = {
    kind: field(data, "kind"),
    tgid: field(data, "tgid"),
    tid: field(data, "tid"),
    direction: field(data, "direction"),
    last: field(data, "last"),
    source: field(data, "source"),
    ts: field(data, "ts_ns"),
    conn: field(data, "conn"),
    callPos: field(data, "call_pos"),
    callLen: field(data, "call_len"),
    chunkOff: field(data, "chunk_off"),
    dataLen: field(data, "data_len"),
    data: field(data, "data"),
  };
  const s = {
    tgid: field(socket, "tgid"),
    ts: field(socket, "ts_ns"),
    callTs: field(socket, "call_ts"),
    sock: field(socket, "sock"),
    fd: field(socket, "fd"),
    conn: field(socket, "conn"),
    source: field(socket, "source"),
    family: field(socket, "family"),
    localPort: field(socket, "local_port"),
    peerPort: field(socket, "peer_port"),
    localAddr: field(socket, "local_addr"),
    peerAddr: field(socket, "peer_addr"),
  };
  // A plain socket is keyed by its kernel address, an SSL* by its address in the process.
  const socketKeys = new AddressKeys(SOCKET_KEY_PREFIX), addresses = new AddressKeys("");
  const key = (view: DataView, at: number, source: number) =>
    (source === SOURCE_SOCKET ? socketKeys : addresses).key(view, at);

  return (
    bytes: Uint8Array,
    view: DataView,
    at: number,
    length: number,
  ): CaptureEvent | undefined => {
    if (length < 4) return undefined;
    const kind = view.getUint32(at + d.kind, true);
    if (kind === KIND_DATA && length >= d.data) {
      const callPos = view.getUint32(at + d.callPos, true) +
        view.getUint32(at + d.callPos + 4, true) * 2 ** 32;
      const dataLen = Math.min(view.getUint32(at + d.dataLen, true), length - d.data);
      const start = at + d.data;
      const source = view.getUint8(at + d.source);
      return {
        type: "chunk",
        chunk: {
          pid: view.getUint32(at + d.tgid, true),
          tid: view.getUint32(at + d.tid, true),
          conn: key(view, at + d.conn, source),
          secure: source !== SOURCE_SOCKET,
          direction: view.getUint8(at + d.direction) === INGRESS ? "ingress" : "egress",
          pos: callPos + view.getUint32(at + d.chunkOff, true),
          // A view into the ring, not a copy: what is kept past the call is copied by
          // whoever keeps it (the reassembler, the framers), as StreamChunk says.
          data: bytes.subarray(start, start + dataLen),
          callEnd: callPos + view.getUint32(at + d.callLen, true),
          last: view.getUint8(at + d.last) !== 0,
          monoNs: view.getBigUint64(at + d.ts, true),
        },
      };
    }
    if ((kind === KIND_SOCKET || kind === KIND_CLOSE) && length >= socket.size) {
      const family = view.getUint16(at + s.family, true);
      const addr = family === AF_INET ? ipv4 : family === AF_INET6 ? ipv6 : () => "";
      const source = view.getUint8(at + s.source);
      const info: SocketInfo = {
        pid: view.getUint32(at + s.tgid, true),
        conn: key(view, at + s.conn, source),
        socket: addresses.key(view, at + s.sock),
        fd: view.getInt32(at + s.fd, true),
        family: family === AF_INET
          ? "ipv4"
          : family === AF_INET6
          ? "ipv6"
          : family === AF_UNIX
          ? "unix"
          : "other",
        localAddress: addr(bytes, at + s.localAddr),
        localPort: view.getUint16(at + s.localPort, true),
        peerAddress: addr(bytes, at + s.peerAddr),
        peerPort: view.getUint16(at + s.peerPort, true),
        monoNs: view.getBigUint64(at + s.ts, true),
        callMonoNs: view.getBigUint64(at + s.callTs, true),
      };
      if (kind === KIND_CLOSE) return { type: "close", socket: info };
      if (source !== SOURCE_SOCKET) return { type: "socket", socket: info };
      const sock = bytes.slice(at + s.conn, at + s.conn + 8) as SocketKey;
      return { type: "socket", socket: info, key: sock };
    }
    const type = kind === KIND_EXEC
      ? "exec"
      : kind === KIND_EXIT
      ? "exit"
      : kind === KIND_FORK
      ? "fork"
      : kind === KIND_LOAD
      ? "load"
      : undefined;
    if (type !== undefined && length >= proc.size) {
      const comm = bytes.subarray(at + p.comm, at + p.comm + 16);
      const end = comm.indexOf(0);
      const process: ProcessEvent = {
        pid: view.getUint32(at + p.tgid, true),
        comm: latin1.decode(end < 0 ? comm : comm.subarray(0, end)),
        monoNs: view.getBigUint64(at + p.ts, true),
      };
      if (type === "fork") process.parent = view.getUint32(at + p.parent, true);
      return { type, process };
    }
    return undefined;
  };
}
