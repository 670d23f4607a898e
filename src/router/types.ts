// router/: the contract between the route engine and its two users, the HTTP connection manager (per request)
// and `meshlet route-check` / the admin explain view. A RouteTable is compiled once per RouteConfiguration
// version and is immutable; `route()` is the hot path and must stay allocation-light.
import type { HeaderMap, RequestHead } from '../common/headers.js';
import type { FormatInput } from '../common/substitution-format.js';

/** Inputs for header-value formatters (%DOWNSTREAM_REMOTE_ADDRESS%, %REQ(x)%, %UPSTREAM_HOST%, ...): the formatter
 *  engine's own input type (common/substitution-format.ts), so route mutations render without adapting it. */
export type FormatContext = FormatInput;

export interface RouteLookupInput {
  readonly head: RequestHead;
  /** The stream's random value: weighted-cluster pick and runtime_fraction (Envoy's stream random). */
  readonly randomValue: number;
  readonly format: FormatContext;
  /**
   * Runtime emulation. 'live' (the proxy): runtime_fraction uses default_value. 'check-tool' (route-check): only
   * `runtimeKey` counts as enabled, as Envoy's router_check_tool does (route-check-format.md §4.3).
   */
  readonly runtimeMode?: 'live' | 'check-tool';
  readonly runtimeKey?: string;
}

export interface RetryBackoff {
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
}

export interface RetryPolicy {
  /** Envoy retry_on tokens: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream,
   *  retriable-status-codes, retriable-headers, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable. */
  readonly retryOn: ReadonlySet<string>;
  readonly numRetries: number;
  /** 0 = no per-try timeout. */
  readonly perTryTimeoutMs: number;
  readonly perTryIdleTimeoutMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
  /** Response header matchers (compiled) for retriable-headers. */
  readonly retriableHeaders: readonly ((headers: HeaderMap) => boolean)[];
  readonly backoff: RetryBackoff;
  /** retry_host_predicate envoy.retry_host_predicates.previous_hosts configured. */
  readonly avoidPreviousHosts: boolean;
  readonly hostSelectionRetryMaxAttempts: number;
}

export type HashPolicy =
  | { readonly kind: 'header'; readonly headerName: string; readonly terminal: boolean }
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs?: number; readonly path?: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'filter_state'; readonly key: string; readonly terminal: boolean };

export interface MirrorPolicy {
  readonly cluster: string;
  /** Cluster taken from this request header instead of `cluster`, when set. */
  readonly clusterHeader?: string;
  /** Fraction of requests mirrored, as numerator/denominator (denominator 100, 10000 or 1000000). */
  readonly numerator: number;
  readonly denominator: number;
  readonly disableShadowHostSuffixAppend: boolean;
}

export interface MaxStreamDuration {
  readonly maxStreamDurationMs?: number;
  /** If set, grpc-timeout is honoured, capped at this value (0 = no cap). */
  readonly grpcTimeoutHeaderMaxMs?: number;
  readonly grpcTimeoutHeaderOffsetMs?: number;
}

/** A route decided to forward upstream. */
export interface ForwardDecision {
  readonly kind: 'forward';
  /** Resolved cluster name (after weighted_clusters / cluster_header); '' when cluster_header was missing. */
  readonly cluster: string;
  /** Status for a cluster that does not exist: 503 (default) or 404 (cluster_not_found_response_code). */
  readonly clusterNotFoundStatus: number;
  readonly vhostName: string;
  /** Route name ('' when unnamed) and its index within the vhost (for explain / %ROUTE_NAME%). */
  readonly routeName: string;
  readonly routeIndex: number;
  readonly virtualClusterName: string;
  /** Route timeout in ms; 0 disables. Envoy default 15000. */
  readonly timeoutMs: number;
  /** Route idle_timeout in ms; 0 disables; -1 when unset (the HCM's stream_idle_timeout applies). */
  readonly idleTimeoutMs: number;
  readonly retryPolicy: RetryPolicy | null;
  readonly hashPolicies: readonly HashPolicy[];
  readonly mirrorPolicies: readonly MirrorPolicy[];
  readonly maxStreamDuration: MaxStreamDuration | null;
  /** Upgrade types allowed on this route (lower-case, e.g. 'websocket'), merged with the HCM's upgrade_configs. */
  readonly upgrades: ReadonlyMap<string, boolean>;
  readonly autoHostRewrite: boolean;
  /** vhost include_request_attempt_count / include_attempt_count_in_response: send x-envoy-attempt-count. */
  readonly includeAttemptCount?: boolean;
  readonly includeAttemptCountInResponse?: boolean;
  /** Route decorator operation and whether to propagate it (x-envoy-decorator-operation). */
  readonly decorator: { readonly operation: string; readonly propagate: boolean } | null;
  /**
   * typed_per_filter_config by filter name, most specific first: weighted cluster → route → vhost → route config.
   * Values are canonical Any objects (with '@type'); HTTP filters translate and cache them by identity.
   */
  readonly perFilterConfig: (filterName: string) => Readonly<Record<string, unknown>> | undefined;
  /** The vhost's virtual cluster for these (e.g. finalized) headers: first full match, 'other' if none, '' without any. */
  virtualClusterFor?(head: RequestHead): string;
  /** Request mutations in Envoy order (weighted cluster, levels, host rewrite, path rewrite); mutates `head`. */
  finalizeRequest(head: RequestHead, ctx: FormatContext): void;
  /** Response mutations (weighted cluster first, then levels); mutates `headers`. */
  finalizeResponse(headers: HeaderMap, ctx: FormatContext): void;
}

/** redirect, require_tls redirect or direct_response: answered locally, routing ends. */
export interface LocalResponseDecision {
  readonly kind: 'redirect' | 'direct';
  readonly status: number;
  /** Absolute URL (redirect) or request URL (direct), as route-check's path_redirect reports it. */
  readonly location: string;
  readonly body: Buffer | null;
  readonly vhostName: string;
  readonly routeName: string;
  readonly routeIndex: number;
  /** Applies local-reply headers (content-length/type for a body) then the response mutations. */
  finalizeResponse(headers: HeaderMap, ctx: FormatContext): void;
}

export interface NoRouteDecision {
  readonly kind: 'none';
  /** 'no_vhost' | 'no_route' | 'no_scheme' — why nothing matched (Envoy details route_not_found). */
  readonly reason: string;
}

export type RouteDecision = ForwardDecision | LocalResponseDecision | NoRouteDecision;

/** One step of a routing explanation: a candidate that was tried and why it did or did not match. */
export interface ExplainStep {
  readonly level: 'vhost' | 'route';
  readonly name: string;
  readonly index: number;
  readonly matched: boolean;
  /** Human-readable match description, e.g. "prefix /api" or "domains [*.example.com]". */
  readonly match: string;
  /** For a non-match: the first condition that failed, e.g. "header x-canary: absent". */
  readonly reason?: string;
}

export interface RouteExplanation {
  readonly decision: RouteDecision;
  readonly steps: readonly ExplainStep[];
}

export interface RouteTable {
  readonly name: string;
  /** Hot path. */
  route(input: RouteLookupInput): RouteDecision;
  /** Same decision as route(), plus every candidate considered (admin /debug/explain, route-check --details). */
  explain(input: RouteLookupInput): RouteExplanation;
}
