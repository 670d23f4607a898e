// http/: the ONE place a failure becomes a response (Envoy sendLocalReply, linkerd respond.rs): status, response
// flag, response-code details and body; for gRPC requests a trailers-only response with grpc-status/grpc-message.
import { httpToGrpcStatus, ResponseFlag } from '../common/errors.js';
import type { ResponseFlagCode } from '../common/errors.js';
import type { HeaderMap } from '../common/headers.js';

/** Every local reply meshlet's HTTP path produces, with Envoy's status, flag, details and body. */
export const LocalReply = {
  routeNotFound: { status: 404, flag: ResponseFlag.NoRouteFound, details: 'route_not_found', body: '' },
  clusterNotFound: { status: 503, flag: ResponseFlag.NoClusterFound, details: 'cluster_not_found', body: '' },
  noHealthyUpstream: { status: 503, flag: ResponseFlag.NoHealthyUpstream, details: 'no_healthy_upstream', body: 'no healthy upstream' },
  dropOverload: { status: 503, flag: ResponseFlag.DropOverLoad, details: 'drop_overload', body: 'drop overload' },
  overflow: { status: 503, flag: ResponseFlag.UpstreamOverflow, details: 'upstream_reset_before_response_started{overflow}', body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow' },
  connectFailure: { status: 503, flag: ResponseFlag.UpstreamConnectionFailure, details: 'upstream_reset_before_response_started{connection_failure}', body: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure' },
  connectionTermination: { status: 503, flag: ResponseFlag.UpstreamConnectionTermination, details: 'upstream_reset_before_response_started{connection_termination}', body: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination' },
  remoteReset: { status: 503, flag: ResponseFlag.UpstreamRemoteReset, details: 'upstream_reset_before_response_started{remote_reset}', body: 'upstream connect error or disconnect/reset before headers. reset reason: remote reset' },
  refusedStream: { status: 503, flag: ResponseFlag.UpstreamRemoteReset, details: 'upstream_reset_before_response_started{remote_refused_stream_reset}', body: 'upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset' },
  protocolError: { status: 502, flag: ResponseFlag.UpstreamProtocolError, details: 'upstream_reset_before_response_started{protocol_error}', body: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error' },
  upstreamTimeout: { status: 504, flag: ResponseFlag.UpstreamRequestTimeout, details: 'upstream_response_timeout', body: 'upstream request timeout' },
  maxStreamDuration: { status: 408, flag: ResponseFlag.UpstreamMaxStreamDurationReached, details: 'max_stream_duration_reached', body: 'upstream max stream duration reached' },
  streamIdleTimeout: { status: 408, flag: ResponseFlag.StreamIdleTimeout, details: 'stream_idle_timeout', body: 'stream timeout' },
  requestTimeout: { status: 408, flag: ResponseFlag.StreamIdleTimeout, details: 'request_overall_timeout', body: 'request timeout' },
  tooManyHeaders: { status: 431, flag: ResponseFlag.DownstreamProtocolError, details: 'http1.too_many_headers', body: '' },
  headersTooLarge: { status: 431, flag: ResponseFlag.DownstreamProtocolError, details: 'http1.headers_too_large', body: '' },
  badHost: { status: 400, flag: ResponseFlag.DownstreamProtocolError, details: 'http1.invalid_host', body: '' },
  underscoreHeader: { status: 400, flag: ResponseFlag.DownstreamProtocolError, details: 'http1.unexpected_underscore', body: '' },
  escapedSlashes: { status: 400, flag: ResponseFlag.DownstreamProtocolError, details: 'http1.path_normalization_failed', body: '' },
  upgradeFailed: { status: 403, flag: null, details: 'upgrade_failed', body: '' },
  connectNotAllowed: { status: 403, flag: null, details: 'connect_not_allowed', body: '' },
  filterError: { status: 500, flag: null, details: 'filter_threw', body: '' },
} as const satisfies Record<string, LocalReplySpec>;

export interface LocalReplySpec {
  readonly status: number;
  readonly flag: ResponseFlagCode | null;
  readonly details: string;
  readonly body: string;
}

/** What the stream records about how it ended (read by access logs and stats). */
export interface StreamOutcome {
  responseFlags: ResponseFlagCode[];
  responseCodeDetails: string;
}

/** The part of a downstream stream a local reply needs. */
export interface LocalReplyTarget {
  readonly isGrpc: boolean;
  readonly isHead: boolean;
  readonly outcome: StreamOutcome;
  sendHeaders(status: number, headers: HeaderMap, endStream: boolean): void;
  sendData(chunk: Buffer, endStream: boolean): void;
}

export interface LocalReplyOptions {
  /** Overrides the spec's status (e.g. route cluster_not_found_response_code). */
  readonly status?: number;
  /** Overrides the spec's body. */
  readonly body?: string;
  /** Extra headers (e.g. x-envoy-overloaded). */
  readonly headers?: HeaderMap;
  /** Flag to record instead of the spec's (e.g. URX when retries were exhausted). */
  readonly extraFlag?: ResponseFlagCode;
  /** gRPC status for gRPC requests instead of the HTTP→gRPC mapping (e.g. a fault filter's grpc_status abort). */
  readonly grpcStatus?: number;
  /** Applies route/HCM response mutations (server header, x-request-id, ...). */
  readonly decorate?: (headers: HeaderMap) => void;
}

/** Sends a local reply and records flag + details on the stream. */
export function sendLocalReply(target: LocalReplyTarget, spec: LocalReplySpec, opts: LocalReplyOptions = {}): void {
  if (spec.flag) target.outcome.responseFlags.push(spec.flag);
  if (opts.extraFlag) target.outcome.responseFlags.push(opts.extraFlag);
  target.outcome.responseCodeDetails = spec.details;
  const status = opts.status ?? spec.status;
  const body = opts.body ?? spec.body;
  const headers: HeaderMap = { ...opts.headers };
  if (target.isGrpc) {
    headers['content-type'] = 'application/grpc';
    headers['grpc-status'] = String(opts.grpcStatus ?? httpToGrpcStatus(status));
    if (body) headers['grpc-message'] = encodeGrpcMessage(body);
    opts.decorate?.(headers);
    target.sendHeaders(200, headers, true);
    return;
  }
  if (body) {
    headers['content-type'] = 'text/plain';
    headers['content-length'] = String(Buffer.byteLength(body));
  } else {
    headers['content-length'] = '0';
  }
  opts.decorate?.(headers);
  if (!body || target.isHead) {
    target.sendHeaders(status, headers, true);
    return;
  }
  target.sendHeaders(status, headers, false);
  target.sendData(Buffer.from(body), true);
}

/** Percent-encodes a grpc-message value as gRPC's HTTP/2 spec requires. */
export function encodeGrpcMessage(msg: string): string {
  let out = '';
  for (const b of Buffer.from(msg, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
