/**
 * What a gRPC call adds to its span, by the OpenTelemetry RPC semantic conventions for gRPC
 * (https://opentelemetry.io/docs/specs/semconv/rpc/grpc/): `rpc.system` "grpc",
 * `rpc.service` and `rpc.method` from the `:path` (`/package.Service/Method`),
 * `rpc.grpc.status_code` from the `grpc-status` trailer (or from the headers of a
 * trailers-only response), the span name `{service}/{method}`, and the status: a server's
 * span is an error for UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE
 * and DATA_LOSS, a client's for any code but OK. Message counts per direction are upspan's
 * own attributes (`rpc.grpc.request.message_count`, `rpc.grpc.response.message_count`),
 * given only when exact.
 *
 * @module
 */
import type { Attributes } from "../../model/span.ts";
import { field, type Http2Exchange } from "./connection.ts";

/** gRPC status code names (grpc/grpc doc/statuscodes.md), by code. */
export const GRPC_STATUS_NAMES: readonly string[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** Codes that make a server span an error. */
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/** A gRPC call's part of its span. */
export interface GrpcSpanPart {
  /** `{service}/{method}`. */
  name: string;
  attributes: Attributes;
  /** Whether the span's status is ERROR; undefined when no status code is known. */
  error: boolean | undefined;
  /** The status code's name, for `error.type` on an error. */
  statusName: string | undefined;
  /** The `grpc-message`, for the status message on an error. */
  message: string | undefined;
}

/**
 * The gRPC part of an exchange's span, or undefined when the exchange is not gRPC (its
 * request's content-type is not `application/grpc...` or its path is not `/Service/Method`).
 *
 * @example
 * ```ts ignore
 * const part = grpcSpanPart(exchange, "SERVER");
 * part?.name; // "demo.Echo/Say"
 * ```
 */
export function grpcSpanPart(
  x: Http2Exchange,
  kind: "SERVER" | "CLIENT",
): GrpcSpanPart | undefined {
  const req = x.request.headers;
  if (req === undefined) return undefined;
  const ct = field(req.fields, "content-type");
  if (ct === undefined || !/^application\/grpc(?:[+;]|$)/i.test(ct)) return undefined;
  const m = /^\/([^/]+)\/([^/?]+)$/.exec(field(req.fields, ":path") ?? "");
  if (m === null) return undefined;
  const [, service, method] = m as unknown as [string, string, string];
  const attributes: Attributes = {
    "rpc.system": "grpc",
    "rpc.service": service,
    "rpc.method": method,
  };
  const code = statusCode(x);
  if (code !== undefined) attributes["rpc.grpc.status_code"] = code;
  const reqMessages = x.request.grpcMessages;
  if (reqMessages?.exact && reqMessages.atBoundary && x.request.complete) {
    attributes["rpc.grpc.request.message_count"] = reqMessages.count;
  }
  const respMessages = x.response?.grpcMessages;
  if (respMessages?.exact && respMessages.atBoundary && x.response?.complete) {
    attributes["rpc.grpc.response.message_count"] = respMessages.count;
  }
  const error = code === undefined
    ? undefined
    : kind === "SERVER"
    ? SERVER_ERRORS.has(code)
    : code !== 0;
  const statusName = code === undefined ? undefined : GRPC_STATUS_NAMES[code] ?? String(code);
  return { name: `${service}/${method}`, attributes, error, statusName, message: grpcMessage(x) };
}

/** `grpc-status` from the trailers, else from a trailers-only response's headers. */
function statusCode(x: Http2Exchange): number | undefined {
  const resp = x.response;
  if (resp === undefined) return undefined;
  const raw = (resp.trailers && field(resp.trailers.fields, "grpc-status")) ??
    (resp.headers && field(resp.headers.fields, "grpc-status"));
  if (raw === undefined || !/^\d{1,3}$/.test(raw)) return undefined;
  return Number(raw);
}

function grpcMessage(x: Http2Exchange): string | undefined {
  const resp = x.response;
  if (resp === undefined) return undefined;
  const raw = (resp.trailers && field(resp.trailers.fields, "grpc-message")) ??
    (resp.headers && field(resp.headers.fields, "grpc-message"));
  if (raw === undefined || raw === "") return undefined;
  // Percent-encoded (gRPC over HTTP/2); left as sent if it does not decode.
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
