// common/: the one catalog of meshlet's typed errors and Envoy response flags. Every local reply and every
// access-log flag comes from here (undici UND_ERR_*, Envoy StreamInfo::ResponseFlag).

/** Envoy short response flags as printed by %RESPONSE_FLAGS%. */
export const ResponseFlag = {
  NoHealthyUpstream: 'UH',
  UpstreamConnectionFailure: 'UF',
  UpstreamOverflow: 'UO',
  NoRouteFound: 'NR',
  UpstreamRetryLimitExceeded: 'URX',
  NoClusterFound: 'NC',
  DurationTimeout: 'DT',
  DownstreamConnectionTermination: 'DC',
  FailedLocalHealthCheck: 'LH',
  UpstreamRequestTimeout: 'UT',
  LocalReset: 'LR',
  UpstreamRemoteReset: 'UR',
  UpstreamConnectionTermination: 'UC',
  DelayInjected: 'DI',
  FaultInjected: 'FI',
  RateLimited: 'RL',
  UnauthorizedExternalService: 'UAEX',
  RateLimitServiceError: 'RLSE',
  InvalidEnvoyRequestHeaders: 'IH',
  StreamIdleTimeout: 'SI',
  DownstreamProtocolError: 'DPE',
  UpstreamProtocolError: 'UPE',
  UpstreamMaxStreamDurationReached: 'UMSDR',
  OverloadManager: 'OM',
  DnsResolutionFailed: 'DF',
  DropOverLoad: 'DO',
  NoFilterConfigFound: 'NFCF',
} as const;
export type ResponseFlagCode = (typeof ResponseFlag)[keyof typeof ResponseFlag];

/** Stable error codes for meshlet's own failures (CLI, bootstrap, xDS, data path). */
export type ErrorCode =
  | 'BOOTSTRAP_UNREADABLE'
  | 'BOOTSTRAP_PARSE'
  | 'BOOTSTRAP_INVALID'
  | 'CLI_USAGE'
  | 'XDS_NACK'
  | 'XDS_STREAM'
  | 'CONFIG_INVALID'
  | 'ROUTE_CHECK_LOAD'
  | 'UPSTREAM_CONNECT'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_RESET'
  | 'UPSTREAM_OVERFLOW'
  | 'NO_HEALTHY_UPSTREAM'
  | 'INTERNAL';

export class MeshletError extends Error {
  constructor(readonly code: ErrorCode, message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'MeshletError';
  }
}

/** Default gRPC status for an HTTP status used in a local reply (Envoy Grpc::Utility::httpToGrpcStatus). */
export function httpToGrpcStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: return 14; // UNAVAILABLE
    case 502: return 14;
    case 503: return 14;
    case 504: return 14;
    default: return 2; // UNKNOWN
  }
}
