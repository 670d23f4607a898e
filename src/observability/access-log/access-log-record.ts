// observability/access-log: the one shape every access logger and formatter reads — built once per finished HTTP
// stream (from http/ StreamInfo) or TCP proxy session (from TcpSessionResult), after the data path is done with it.
import type { FormatInput } from '../../common/substitution-format.js';
import type { HeaderMap, RequestHead } from '../../common/headers.js';

/** A finished stream or connection. Extends the common formatter input with what only access logs read. */
export interface AccessLogRecord extends FormatInput {
  readonly kind: 'http' | 'tcp';
  readonly durationMs: number;
  /** Time until the downstream request was fully received / until the first response byte, when known. */
  readonly requestDurationMs?: number;
  readonly responseDurationMs?: number;
  /** 0 when no response was sent. */
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  readonly responseCodeDetails?: string;
  readonly connectionTerminationDetails?: string;
  readonly upstreamTransportFailureReason?: string;
  readonly bytesReceived?: number;
  readonly bytesSent?: number;
  readonly upstreamLocalAddress?: string;
  readonly attemptCount?: number;
  /** Trace id (hex) when the stream was traced. */
  readonly traceId?: string;
  readonly statPrefix: string;
}

/** The fields of http/connection-manager.ts StreamInfo this module reads (newer ones optional until they land). */
export interface StreamInfoLike {
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly head: RequestHead;
  readonly protocol: string;
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  readonly responseCodeDetails: string;
  readonly upstreamHost: string;
  readonly upstreamCluster: string;
  readonly routeName: string;
  readonly statPrefix: string;
  readonly connection: { readonly remoteAddress: string; readonly remotePort: number; readonly localAddress: string; readonly localPort: number; readonly sni?: string };
  readonly bytesReceived?: number;
  readonly bytesSent?: number;
  /** null/absent when no response was sent. */
  readonly responseHeaders?: HeaderMap | null;
  readonly requestId?: string;
  readonly traceId?: string;
  /** -1 when unknown. */
  readonly upstreamServiceTimeMs?: number;
  readonly upstreamLocalAddress?: string;
  readonly attemptCount?: number;
  readonly downstreamLocalAddress?: string;
  readonly requestedServerName?: string;
  readonly requestDurationMs?: number;
  readonly responseDurationMs?: number;
  readonly upstreamTransportFailureReason?: string;
  readonly connectionTerminationDetails?: string;
}

const orUndef = (s: string | undefined): string | undefined => (s ? s : undefined);

function splitHostPort(a: string | undefined): { address: string; port: number } | undefined {
  if (!a) return undefined;
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(a);
  return m ? { address: m[1], port: Number(m[2]) } : { address: a, port: 0 };
}

export function recordFromStream(s: StreamInfoLike): AccessLogRecord {
  let responseHeaders = s.responseHeaders ?? undefined;
  if (!responseHeaders && s.upstreamServiceTimeMs !== undefined && s.upstreamServiceTimeMs >= 0) responseHeaders = { 'x-envoy-upstream-service-time': String(s.upstreamServiceTimeMs) };
  // The HCM builds downstreamLocalAddress from the connection's own address: parse it back only when the
  // connection does not carry one (no regex and result object per request).
  const conn = s.connection;
  let localAddress = conn.localAddress;
  let localPort = conn.localPort;
  if (!localAddress) {
    const local = splitHostPort(s.downstreamLocalAddress);
    if (local) {
      localAddress = local.address;
      localPort = local.port;
    }
  }
  return {
    kind: 'http',
    remoteAddress: conn.remoteAddress,
    remotePort: conn.remotePort,
    localAddress,
    localPort,
    protocol: s.protocol,
    startTimeMs: s.startTimeMs,
    requestHead: s.head,
    requestHeaders: s.head.headers,
    responseHeaders,
    upstreamHost: orUndef(s.upstreamHost),
    upstreamCluster: orUndef(s.upstreamCluster),
    responseCode: s.responseCode,
    requestedServerName: orUndef(s.requestedServerName ?? s.connection.sni),
    routeName: orUndef(s.routeName),
    durationMs: s.durationMs,
    requestDurationMs: s.requestDurationMs,
    responseDurationMs: s.responseDurationMs,
    responseFlags: s.responseFlags,
    responseCodeDetails: orUndef(s.responseCodeDetails),
    connectionTerminationDetails: orUndef(s.connectionTerminationDetails),
    upstreamTransportFailureReason: orUndef(s.upstreamTransportFailureReason),
    bytesReceived: s.bytesReceived,
    bytesSent: s.bytesSent,
    upstreamLocalAddress: orUndef(s.upstreamLocalAddress),
    attemptCount: s.attemptCount,
    traceId: orUndef(s.traceId),
    statPrefix: s.statPrefix,
  };
}

/** A finished tcp_proxy session (network/tcp-proxy TcpSessionResult plus the connection it served). */
export interface TcpSessionLike {
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly statPrefix: string;
  readonly cluster: string | null;
  readonly upstreamHost: string | null;
  readonly responseFlags: readonly string[];
  readonly connectAttempts: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly reason: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly requestedServerName?: string;
}

export function recordFromTcpSession(t: TcpSessionLike): AccessLogRecord {
  return {
    kind: 'tcp',
    remoteAddress: t.remoteAddress,
    remotePort: t.remotePort,
    localAddress: t.localAddress,
    localPort: t.localPort,
    protocol: '',
    startTimeMs: t.startTimeMs,
    upstreamHost: t.upstreamHost ?? undefined,
    upstreamCluster: t.cluster ?? undefined,
    responseCode: 0,
    requestedServerName: orUndef(t.requestedServerName),
    durationMs: t.durationMs,
    responseFlags: t.responseFlags,
    connectionTerminationDetails: t.reason === 'closed' ? undefined : t.reason,
    bytesReceived: t.bytesReceived,
    bytesSent: t.bytesSent,
    attemptCount: t.connectAttempts,
    statPrefix: t.statPrefix,
  };
}
