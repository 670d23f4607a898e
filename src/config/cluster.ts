// config/: internal, readonly form of envoy.config.cluster.v3.Cluster (filled in by xds/resource-types/cluster.ts).
// OWNER: cluster slice. Plain data; upstream/ builds runtime clusters from it. All durations are milliseconds.
import type { EndpointsConfig } from './endpoint.js';

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';

export type LbPolicy =
  | { readonly kind: 'ROUND_ROBIN' }
  | { readonly kind: 'LEAST_REQUEST'; readonly choiceCount: number; readonly activeRequestBias: number }
  | { readonly kind: 'RANDOM' }
  | { readonly kind: 'RING_HASH'; readonly minRingSize: number; readonly maxRingSize: number; readonly useHostnameForHashing: boolean }
  | { readonly kind: 'MAGLEV'; readonly tableSize: number; readonly useHostnameForHashing: boolean }
  | { readonly kind: 'CLUSTER_PROVIDED' };

export interface SlowStartConfig {
  readonly windowMs: number;
  /** aggression (default 1.0) */
  readonly aggression: number;
  /** min_weight_percent (default 10) */
  readonly minWeightPercent: number;
}

export interface CommonLbConfig {
  /** healthy_panic_threshold percent (default 50; 0 disables panic mode). */
  readonly healthyPanicThreshold: number;
  readonly localityWeighted: boolean;
  /** zone_aware_lb_config (null when locality-weighted or not configured → Envoy defaults apply). */
  readonly zoneAware: { readonly routingEnabledPercent: number; readonly minClusterSize: number; readonly failTrafficOnPanic: boolean };
  readonly slowStart: SlowStartConfig | null;
}

export interface ThresholdsConfig {
  readonly priority: 'DEFAULT' | 'HIGH';
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  /** retry_budget (null = max_retries applies). */
  readonly retryBudget: { readonly budgetPercent: number; readonly minRetryConcurrency: number } | null;
}

export interface OutlierDetectionConfig {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly enforcingConsecutive5xx: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  readonly enforcingConsecutiveLocalOriginFailure: number;
  readonly enforcingSuccessRate: number;
  readonly enforcingLocalOriginSuccessRate: number;
  readonly enforcingFailurePercentage: number;
  readonly enforcingFailurePercentageLocalOrigin: number;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  readonly successRateStdevFactor: number;
  readonly failurePercentageThreshold: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
  readonly splitExternalLocalOriginErrors: boolean;
  /** max_ejection_time_jitter in ms. */
  readonly maxEjectionTimeJitterMs: number;
  readonly successfulActiveHealthCheckUnejectHost: boolean;
}

export type HealthCheckKind =
  | {
      readonly kind: 'http';
      readonly path: string;
      /** '' = the cluster name (Envoy default). */
      readonly host: string;
      /** Half-open ranges [start, end); default [[200, 201)]. */
      readonly expectedStatuses: readonly (readonly [number, number])[];
      readonly requestHeadersToAdd: readonly { readonly name: string; readonly value: string; readonly append: boolean }[];
      readonly requestHeadersToRemove: readonly string[];
      readonly codec: 'http1' | 'http2';
      readonly method: string;
    }
  | { readonly kind: 'tcp'; readonly send: Buffer | null; readonly receive: readonly Buffer[] }
  | { readonly kind: 'grpc'; readonly serviceName: string; readonly authority: string };

export interface HealthCheckConfig {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly initialJitterMs: number;
  readonly intervalJitterMs: number;
  readonly intervalJitterPercent: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  readonly noTrafficIntervalMs: number;
  readonly noTrafficHealthyIntervalMs: number;
  readonly unhealthyIntervalMs: number;
  readonly unhealthyEdgeIntervalMs: number;
  readonly healthyEdgeIntervalMs: number;
  readonly reuseConnection: boolean;
  readonly alwaysLogHealthCheckFailures: boolean;
  readonly check: HealthCheckKind;
}

/** UpstreamTlsContext. Certificates and keys are read at translation time and kept as PEM strings. */
export interface UpstreamTlsConfig {
  readonly sni: string;
  readonly alpn: readonly string[];
  /** PEM of trusted CAs (validation_context.trusted_ca); null = system roots are NOT used, verification off. */
  readonly trustedCa: string | null;
  /** SAN matchers from match_typed_subject_alt_names / match_subject_alt_names. */
  readonly sanMatchers: readonly SanMatcher[];
  readonly certificateChain: string | null;
  readonly privateKey: string | null;
  /** node:tls form ('TLSv1.2', 'TLSv1.3'); null = TLS_AUTO. */
  readonly minVersion: string | null;
  readonly maxVersion: string | null;
  readonly cipherSuites: readonly string[];
  readonly allowRenegotiation: boolean;
  /** Stable identity of this TLS config (pools are keyed by it). */
  readonly key: string;
}

export interface TransportSocketMatch {
  readonly name: string;
  readonly match: Readonly<Record<string, unknown>>;
  readonly tls: UpstreamTlsConfig | null;
}

export interface SanMatcher {
  /** 'DNS' | 'URI' | 'IP_ADDRESS' | 'EMAIL' | 'OTHER_NAME' | 'ANY' (untyped legacy form). */
  readonly sanType: string;
  readonly match:
    | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase: boolean }
    | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase: boolean }
    | { readonly kind: 'suffix'; readonly value: string; readonly ignoreCase: boolean }
    | { readonly kind: 'contains'; readonly value: string; readonly ignoreCase: boolean }
    | { readonly kind: 'regex'; readonly regex: string };
}

export interface HttpProtocolConfig {
  /** 'http1' | 'http2' | 'auto' (ALPN) | 'downstream' (use_downstream_protocol_config). */
  readonly protocol: 'http1' | 'http2' | 'auto' | 'downstream';
  readonly idleTimeoutMs: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly maxHeadersCount: number;
  /** 0 = none. */
  readonly maxConnectionDurationMs: number;
  readonly maxStreamDurationMs: number;
  /** http2_protocol_options.max_concurrent_streams (default 2147483647). */
  readonly h2MaxConcurrentStreams: number;
  readonly h2InitialStreamWindowSize: number;
  readonly h2InitialConnectionWindowSize: number;
  /** connection_keepalive: PING interval / timeout (0 = off). */
  readonly h2KeepaliveIntervalMs: number;
  readonly h2KeepaliveTimeoutMs: number;
}

/** upstream_bind_config: the local address upstream connections are made from (Istio's inbound clusters bind
 *  127.0.0.6 so forwarded traffic is not captured again by the pod's iptables rules). Any local port. */
export interface UpstreamBindConfig {
  readonly sourceAddress: string;
}

export interface ClusterConfig {
  readonly name: string;
  readonly type: DiscoveryType;
  /** EDS service name (eds_cluster_config.service_name || name) for EDS clusters, else ''. */
  readonly edsServiceName: string;
  readonly connectTimeoutMs: number;
  readonly perConnectionBufferLimitBytes: number;
  readonly tcpKeepalive: { readonly probes: number; readonly timeSeconds: number; readonly intervalSeconds: number } | null;
  readonly http: HttpProtocolConfig;
  readonly lbPolicy: LbPolicy;
  readonly commonLb: CommonLbConfig;
  /** Index 0 = DEFAULT, 1 = HIGH (always both present, with Envoy defaults filled in). */
  readonly circuitBreakers: readonly [ThresholdsConfig, ThresholdsConfig];
  readonly trackRemaining: boolean;
  readonly outlierDetection: OutlierDetectionConfig | null;
  readonly healthChecks: readonly HealthCheckConfig[];
  readonly tls: UpstreamTlsConfig | null;
  /** transport_socket_matches in order: the first whose `match` entries all equal the endpoint's
   *  'envoy.transport_socket_match' metadata wins; no match → `tls`. `tls: null` = plaintext (raw_buffer). */
  readonly transportSocketMatches: readonly TransportSocketMatch[];
  /** load_assignment for STATIC / STRICT_DNS / LOGICAL_DNS (null for EDS and ORIGINAL_DST). */
  readonly loadAssignment: EndpointsConfig | null;
  readonly dnsRefreshRateMs: number;
  readonly dnsLookupFamily: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  readonly respectDnsTtl: boolean;
  /** ORIGINAL_DST: cleanup_interval (default 5 s) and use_http_header / http_header_name. */
  readonly originalDst: { readonly cleanupIntervalMs: number; readonly useHttpHeader: boolean; readonly httpHeaderName: string } | null;
  readonly ignoreHealthOnHostRemoval: boolean;
  readonly closeConnectionsOnHostHealthFailure: boolean;
  /** metadata.filter_metadata as plain JSON. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly altStatName: string;
  /** upstream_bind_config (null = the kernel picks the source address). */
  readonly upstreamBind: UpstreamBindConfig | null;
}
