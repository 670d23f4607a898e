// config/: internal, readonly form of envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
// (filled in by xds/resource-types/http-connection-manager.ts). Plain data; http/ builds connection managers from it.
import type { RouteConfig } from './route.js';

export type CodecType = 'AUTO' | 'HTTP1' | 'HTTP2';
export type ServerHeaderTransformation = 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
export type HeadersWithUnderscoresAction = 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

/** One entry of http_filters (router excluded). The filter framework (issue 6) translates `config` by type URL. */
export interface HttpFilterConfig {
  readonly name: string;
  /** '@type' of typed_config ('' when the filter has none). */
  readonly typeUrl: string;
  /** Canonical typed_config (with '@type'), or null. */
  readonly config: Readonly<Record<string, unknown>> | null;
  readonly isOptional: boolean;
  readonly disabled: boolean;
}

export interface Http2Settings {
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number;
  readonly initialConnectionWindowSize: number;
}

export interface InternalAddressConfig {
  readonly unixSockets: boolean;
  /** CIDRs as [address, prefixLen]; empty = Envoy's default (RFC1918 + loopback). */
  readonly cidrRanges: readonly (readonly [string, number])[];
}

export interface HttpConnectionManagerConfig {
  readonly statPrefix: string;
  readonly codecType: CodecType;
  /** RDS route_config_name, or '' when the route config is inline. */
  readonly rdsName: string;
  /** Inline route_config, translated by the route slice's translator. */
  readonly routeConfig: RouteConfig | null;
  /** HTTP filters before the router, in order (disabled/optional-unknown filters already removed or flagged). */
  readonly httpFilters: readonly HttpFilterConfig[];
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  readonly via: string;
  readonly generateRequestId: boolean;
  readonly preserveExternalRequestId: boolean;
  readonly alwaysSetRequestIdInResponse: boolean;
  readonly serverName: string;
  readonly serverHeaderTransformation: ServerHeaderTransformation;
  /** 0 disables. Defaults: stream idle 5 min, request 0, headers 0, drain 5 s, delayed close 1 s, idle 1 h. */
  readonly streamIdleTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly requestHeadersTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly delayedCloseTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnectionDurationMs: number;
  readonly maxStreamDurationMs: number;
  readonly maxRequestHeadersKb: number;
  readonly maxHeadersCount: number;
  readonly maxRequestsPerConnection: number;
  readonly headersWithUnderscoresAction: HeadersWithUnderscoresAction;
  readonly acceptHttp10: boolean;
  readonly http2: Http2Settings;
  /** upgrade_type (lower-case) → enabled. */
  readonly upgrades: ReadonlyMap<string, boolean>;
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly pathWithEscapedSlashesAction: EscapedSlashesAction;
  readonly stripMatchingHostPort: boolean;
  readonly stripAnyHostPort: boolean;
  readonly internalAddressConfig: InternalAddressConfig;
  /** Canonical access_log entries, tracing and local_reply_config, kept for the observability slice. */
  readonly accessLog: readonly Readonly<Record<string, unknown>>[];
  /** HCM `tracing`, translated (null = tracing off). */
  readonly tracing: TracingConfig | null;
  readonly localReplyConfig: Readonly<Record<string, unknown>> | null;
  /** Options of the router filter (envoy.filters.http.router). */
  readonly router: RouterFilterOptions;
}

/** One HCM tracing custom_tags entry; `environment` tags are resolved to literals at translation. */
export interface CustomTag {
  readonly tag: string;
  readonly kind: 'literal' | 'request_header';
  /** The literal value, or the request header name (lower-case). */
  readonly value: string;
  /** request_header: value used when the header is absent ('' = no tag). */
  readonly defaultValue: string;
}

/** Where spans go: the first host of an xDS cluster (envoy_grpc) or a fixed target (google_grpc target_uri). */
export type TracingCollector =
  | { readonly kind: 'cluster'; readonly cluster: string }
  | { readonly kind: 'target'; readonly target: string };

/** HCM `tracing` (envoy.tracers.opentelemetry provider). Percentages are 0–100. */
export interface TracingConfig {
  /** null: tracing decisions and request-id marking only, no spans (no provider configured). */
  readonly collector: TracingCollector | null;
  readonly serviceName: string;
  readonly clientSampling: number;
  readonly randomSampling: number;
  readonly overallSampling: number;
  readonly customTags: readonly CustomTag[];
  readonly spawnUpstreamSpan: boolean;
  /** http.url tag length cap (Envoy default 256). */
  readonly maxPathTagLength: number;
  /** Export timeout for the collector (grpc_service.timeout), ms. */
  readonly exportTimeoutMs: number;
}

export interface RouterFilterOptions {
  readonly suppressEnvoyHeaders: boolean;
  readonly startChildSpan: boolean;
}
