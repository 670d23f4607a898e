// config/: internal, readonly form of envoy.config.route.v3.RouteConfiguration (filled in by
// xds/resource-types/route-configuration.ts). OWNER: route slice. Plain data; router/ compiles it into lookups.
import type { FractionConfig, HeaderMatcherConfig, QueryParameterMatcherConfig, RuntimeFractionConfig } from './matchers.js';

export type AppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

export interface HeaderValueOptionConfig {
  /** Lower-cased. */
  readonly name: string;
  /** Substitution-format string (%REQ(x)%, ...). */
  readonly value: string;
  readonly action: AppendAction;
  readonly keepEmptyValue: boolean;
}

/** request/response headers_to_add/remove of one level (route config, vhost, route or weighted cluster entry). */
export interface HeaderMutationsConfig {
  readonly requestHeadersToAdd: readonly HeaderValueOptionConfig[];
  readonly requestHeadersToRemove: readonly string[];
  readonly responseHeadersToAdd: readonly HeaderValueOptionConfig[];
  readonly responseHeadersToRemove: readonly string[];
}

/** typed_per_filter_config: filter name → canonical Any ({'@type', ...}). */
export type PerFilterConfig = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface RetryPolicyConfig {
  readonly retryOn: readonly string[];
  /** Default 1. */
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  readonly perTryIdleTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
  readonly retriableHeaders: readonly HeaderMatcherConfig[];
  /** Default base 25 ms, max 10 × base. */
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly avoidPreviousHosts: boolean;
  readonly hostSelectionRetryMaxAttempts: number;
}

export type HashPolicyConfig =
  | { readonly kind: 'header'; readonly headerName: string; readonly terminal: boolean }
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs?: number; readonly path?: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'filter_state'; readonly key: string; readonly terminal: boolean };

export interface MirrorPolicyConfig {
  readonly cluster: string;
  readonly clusterHeader?: string;
  /** runtime_fraction default (100% when unset). */
  readonly fraction: FractionConfig;
  readonly runtimeKey?: string;
  readonly disableShadowHostSuffixAppend: boolean;
}

export type PathMatchKind = 'prefix' | 'path' | 'safe_regex' | 'path_separated_prefix' | 'uri_template';

export interface RouteMatchConfig {
  readonly kind: PathMatchKind;
  /** The prefix/path/regex/template text as configured. */
  readonly value: string;
  /** Default true; ignored for safe_regex. */
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatcherConfig[];
  readonly queryParameters: readonly QueryParameterMatcherConfig[];
  readonly grpc: boolean;
  readonly runtimeFraction?: RuntimeFractionConfig;
}

export interface WeightedClusterEntryConfig {
  /** Exactly one of name / clusterHeader. */
  readonly name?: string;
  readonly clusterHeader?: string;
  readonly weight: number;
  readonly mutations: HeaderMutationsConfig;
  readonly hostRewriteLiteral?: string;
  readonly typedPerFilterConfig: PerFilterConfig;
}

export interface WeightedClustersConfig {
  readonly clusters: readonly WeightedClusterEntryConfig[];
  readonly runtimeKeyPrefix?: string;
  /** header_name: a single unsigned-integer value replaces the stream random value. */
  readonly headerName?: string;
}

export type PathRewriteConfig =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly pattern: string; readonly substitution: string }
  | { readonly kind: 'uri_template'; readonly template: string };

export type HostRewriteConfig =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'header'; readonly header: string }
  | { readonly kind: 'path_regex'; readonly pattern: string; readonly substitution: string }
  | { readonly kind: 'auto' };

export interface ForwardActionConfig {
  readonly kind: 'route';
  readonly cluster?: string;
  readonly clusterHeader?: string;
  readonly weightedClusters?: WeightedClustersConfig;
  /** 503 (SERVICE_UNAVAILABLE, default) or 404 (NOT_FOUND). */
  readonly clusterNotFoundStatus: number;
  readonly pathRewrite?: PathRewriteConfig;
  readonly hostRewrite?: HostRewriteConfig;
  readonly appendXForwardedHost: boolean;
  /** Default 15000; 0 disables. */
  readonly timeoutMs: number;
  /** undefined when unset (the HCM stream_idle_timeout applies); 0 disables. */
  readonly idleTimeoutMs?: number;
  /** Route-level policy, else the vhost's (already resolved here). */
  readonly retryPolicy?: RetryPolicyConfig;
  readonly requestMirrorPolicies: readonly MirrorPolicyConfig[];
  readonly hashPolicies: readonly HashPolicyConfig[];
  /** upgrade_type (lower-case) → enabled. */
  readonly upgrades: Readonly<Record<string, boolean>>;
  readonly maxStreamDuration?: {
    readonly maxStreamDurationMs?: number;
    readonly grpcTimeoutHeaderMaxMs?: number;
    readonly grpcTimeoutHeaderOffsetMs?: number;
  };
}

export interface RedirectActionConfig {
  readonly kind: 'redirect';
  /** 'https' for https_redirect, or scheme_redirect (lower-cased). */
  readonly scheme?: string;
  readonly host?: string;
  readonly port?: number;
  /** Always starts with '/'. */
  readonly path?: string;
  readonly prefixRewrite?: string;
  readonly regexRewrite?: { readonly pattern: string; readonly substitution: string };
  readonly status: number;
  readonly stripQuery: boolean;
}

export interface DirectResponseActionConfig {
  readonly kind: 'direct_response';
  readonly status: number;
  readonly body?: Buffer;
}

export type RouteActionConfig = ForwardActionConfig | RedirectActionConfig | DirectResponseActionConfig;

export interface RouteEntryConfig {
  readonly name: string;
  readonly match: RouteMatchConfig;
  readonly action: RouteActionConfig;
  readonly mutations: HeaderMutationsConfig;
  readonly decorator?: { readonly operation: string; readonly propagate: boolean };
  readonly typedPerFilterConfig: PerFilterConfig;
}

export interface VirtualClusterConfig {
  readonly name: string;
  readonly headers: readonly HeaderMatcherConfig[];
}

export type RequireTls = 'NONE' | 'EXTERNAL_ONLY' | 'ALL';

export interface VirtualHostConfig {
  readonly name: string;
  /** Lower-cased, as configured otherwise (ports kept). */
  readonly domains: readonly string[];
  readonly routes: readonly RouteEntryConfig[];
  readonly requireTls: RequireTls;
  readonly virtualClusters: readonly VirtualClusterConfig[];
  readonly mutations: HeaderMutationsConfig;
  readonly typedPerFilterConfig: PerFilterConfig;
  readonly retryPolicy?: RetryPolicyConfig;
  readonly hashPolicies: readonly HashPolicyConfig[];
  readonly requestMirrorPolicies: readonly MirrorPolicyConfig[];
  /** x-envoy-attempt-count on upstream requests / downstream responses (Istio sets the first on every vhost). */
  readonly includeRequestAttemptCount: boolean;
  readonly includeAttemptCountInResponse: boolean;
}

export interface RouteConfig {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostConfig[];
  readonly mutations: HeaderMutationsConfig;
  readonly mostSpecificHeaderMutationsWins: boolean;
  readonly ignorePortInHostMatching: boolean;
  readonly ignorePathParametersInPathMatching: boolean;
  /** Not in Envoy's v3 RouteConfiguration proto today; settable by meshlet callers (bullet 10). */
  readonly vhostHeader?: string;
  readonly typedPerFilterConfig: PerFilterConfig;
  readonly requestMirrorPolicies: readonly MirrorPolicyConfig[];
  /** internal_only_headers (lower-cased): the HCM strips them from requests from external clients. */
  readonly internalOnlyHeaders: readonly string[];
  /** Names of clusters this config references (cluster / weighted names / mirrors), for validate_clusters and admin. */
  readonly referencedClusters: readonly string[];
}
