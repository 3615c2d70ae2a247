/**
 * An HTTP/2 stream as the HTTP family's exchange record, so that its span is made by the
 * same mapping as HTTP/1's (`../http/semconv.ts`: the same attributes, names and status
 * rules, `network.protocol.version` "2"), with gRPC's part laid over it for gRPC calls
 * (`grpc_semconv.ts`).
 *
 * Only what was decoded is used: a stream whose method or status is unknown (its header
 * block was lost, or referenced HPACK entries never seen) gets no span, and a field that
 * could not be decoded is absent from the span rather than guessed.
 *
 * @module
 */
import type { Span } from "../../model/span.ts";
import type { TraceContext } from "../../model/trace_context.ts";
import type { Http1Request, Http1Response } from "../http1/framer.ts";
import type { HeaderField } from "../http/headers.ts";
import { type HttpExchangeContext, httpExchangeSpan } from "../http1/semconv.ts";
import { field, type Http2Exchange, type Http2Message } from "./connection.ts";
import { grpcSpanPart } from "./grpc_semconv.ts";

/**
 * The request of a stream as an HTTP/1-shaped record, or undefined when its method is not
 * known. `:authority` comes first as `host` (where HTTP/1 has it); pseudo-fields are left
 * out of the headers.
 */
export function requestRecord(m: Http2Message): Http1Request | undefined {
  const fields = m.headers?.fields;
  if (fields === undefined) return undefined;
  const method = field(fields, ":method");
  if (method === undefined) return undefined;
  const authority = field(fields, ":authority");
  const path = field(fields, ":path");
  const headers: HeaderField[] = authority === undefined ? [] : [["host", authority]];
  for (const f of fields) if (f[0].charCodeAt(0) !== 58) headers.push(f); // not ":..."
  const hasBody = m.bodySize > 0 || field(fields, "content-length") !== undefined;
  return {
    kind: "request",
    version: "2",
    method,
    target: method === "CONNECT" ? authority ?? "" : path ?? "",
    headers,
    trailers: m.trailers?.fields ?? [],
    framing: hasBody ? "length" : "none",
    bodySize: m.bodySize,
    complete: m.complete && m.ended,
    firstByteMonoNs: m.firstByteMonoNs,
    lastByteMonoNs: m.lastByteMonoNs,
    tid: m.tid,
  };
}

/** The response of a stream as an HTTP/1-shaped record, or undefined when its status is not known. */
export function responseRecord(
  m: Http2Message | undefined,
  method: string,
): Http1Response | undefined {
  const fields = m?.headers?.fields;
  if (m === undefined || fields === undefined) return undefined;
  const raw = field(fields, ":status");
  if (raw === undefined || !/^[1-5]\d\d$/.test(raw)) return undefined;
  const status = Number(raw);
  const bodiless = method === "HEAD" || status === 204 || status === 304;
  return {
    kind: "response",
    version: "2",
    status,
    reason: "",
    headers: fields.filter((f) => f[0].charCodeAt(0) !== 58),
    trailers: m.trailers?.fields ?? [],
    framing: bodiless ? "none" : "length",
    bodySize: m.bodySize,
    complete: m.complete && m.ended,
    firstByteMonoNs: m.firstByteMonoNs,
    lastByteMonoNs: m.lastByteMonoNs,
    tid: m.tid,
  };
}

/**
 * The span of a finished stream, or undefined when too little of it is known.
 *
 * @example
 * ```ts ignore
 * const span = http2Span(exchange, ctx, context);
 * span?.attributes["network.protocol.version"]; // "2"
 * ```
 */
export function http2Span(
  x: Http2Exchange,
  ctx: HttpExchangeContext,
  context?: TraceContext,
): Span | undefined {
  const req = requestRecord(x.request);
  if (req === undefined) return undefined;
  const resp = responseRecord(x.response, req.method);
  if (resp === undefined) return undefined;
  const span = httpExchangeSpan(req, resp, ctx, context);
  const grpc = grpcSpanPart(x, ctx.kind);
  if (grpc === undefined) return span;
  span.name = grpc.name;
  Object.assign(span.attributes, grpc.attributes);
  if (grpc.error === true) {
    span.status = grpc.message === undefined
      ? { code: "ERROR" }
      : { code: "ERROR", message: grpc.message };
    span.attributes["error.type"] = grpc.statusName!;
  } else if (grpc.error === false && resp.status === 200) {
    span.status = { code: "UNSET" };
    delete span.attributes["error.type"];
  }
  return span;
}
