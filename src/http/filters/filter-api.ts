// http/filters: the contract between the HTTP connection manager's filter manager and each HTTP filter
// (Envoy's StreamDecoderFilter / StreamEncoderFilter, shaped for Node). A filter type translates its config once
// per listener update (config half) and creates one small per-stream instance (runtime half); a registry keyed by
// type URL joins them. Decoder hooks run in list order, encoder hooks in reverse; a hook returns 'continue' or
// 'stop' (then the filter later calls continueDecoding() or sendLocalReply()).
import type { Transform } from 'node:stream';
import type { HeaderMap, RequestHead } from '../../common/headers.js';
import type { ResponseFlagCode } from '../../common/errors.js';
import type { Issues } from '../../common/validation.js';

export type FilterStatus = 'continue' | 'stop';

/** Peer certificate facts for principals (mTLS). */
export interface PeerIdentity {
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  readonly subject: string;
}

/** What a filter can see of the downstream request and connection. */
export interface FilterRequest {
  readonly head: RequestHead;
  /** Downstream remote address after XFF processing (Envoy's remote_ip / source.address). */
  readonly remoteAddress: string;
  /** Downstream remote port (formatters' %DOWNSTREAM_REMOTE_ADDRESS%); 0 when unknown. */
  readonly remotePort?: number;
  /** Stream start, epoch ms (formatters' %START_TIME%). */
  readonly startTimeMs?: number;
  /** The TCP peer address (Envoy's direct_remote_ip). */
  readonly directRemoteAddress: string;
  readonly localAddress: string;
  readonly localPort: number;
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  readonly isGrpc: boolean;
  readonly peer: PeerIdentity | null;
  /** Requested server name (SNI) when TLS. */
  readonly sni: string;
  /** Cluster chosen by the route, '' when the route is not a forwarding route. */
  readonly upstreamCluster: string;
  /** This proxy's node id and cluster (fault downstream_nodes uses x-envoy-downstream-service-node). */
  readonly nodeId: string;
}

export interface LocalReplyRequest {
  readonly status: number;
  readonly body?: string;
  readonly headers?: HeaderMap;
  /** gRPC status to use for gRPC requests instead of the HTTP→gRPC mapping. */
  readonly grpcStatus?: number;
  readonly flag?: ResponseFlagCode;
  /** %RESPONSE_CODE_DETAILS%, e.g. 'fault_filter_abort', 'rbac_access_denied_matched_policy[deny-all]'. */
  readonly details: string;
}

/** Callbacks the filter manager gives a filter instance. */
export interface FilterCallbacks {
  /** Answer locally; the request never reaches the upstream. Ends decoding. */
  sendLocalReply(reply: LocalReplyRequest): void;
  /** Resume the decoder chain after a hook returned 'stop'. */
  continueDecoding(): void;
  /** Most specific typed_per_filter_config for this filter, already translated by the filter type (or undefined). */
  perRouteConfig<T>(): T | undefined;
  /** Headers to add to the response the client gets (success path), e.g. x-ratelimit-*. */
  addResponseHeader(name: string, value: string): void;
  setResponseFlag(flag: ResponseFlagCode): void;
  /** Metadata for the access log / other filters (e.g. basic_auth username). */
  setDynamicMetadata(namespace: string, key: string, value: unknown): void;
  /** Request body bytes the filter manager buffered for this filter (only when the filter asked for it). */
  readonly bufferedRequestBody: Buffer | null;
  /** True when the request body was longer than what was buffered. */
  readonly requestBodyTruncated?: boolean;
}

/** Per-stream instance. Every hook is optional. */
export interface HttpFilter {
  decodeHeaders?(req: FilterRequest, endStream: boolean, cb: FilterCallbacks): FilterStatus;
  /** Ask the manager to buffer up to N request-body bytes before decodeHeaders (ext_authz with_request_body). */
  readonly bufferRequestBodyBytes?: number;
  /** Transform applied to the request body on its way upstream (decompressor). */
  wrapRequestBody?(req: FilterRequest): Transform | null;
  /** Called with the upstream (or local) response headers before they go downstream; may mutate them. */
  encodeHeaders?(status: number, headers: HeaderMap, req: FilterRequest, cb: FilterCallbacks): FilterStatus;
  /** Transform applied to the response body on its way downstream (compressor); streaming, with backpressure. */
  wrapResponseBody?(status: number, headers: HeaderMap, req: FilterRequest): Transform | null;
  /** The stream ended (completed, reset or aborted): release resources (e.g. max_active_faults counters). */
  onDestroy?(): void;
}

/** Built once per listener/HCM config for one entry of http_filters. */
export interface HttpFilterFactory {
  /** The http_filters[].name (the key for typed_per_filter_config). */
  readonly name: string;
  /** A new instance for a stream, or null when this filter has nothing to do (e.g. disabled). */
  create(): HttpFilter | null;
  /** Request-body bytes to buffer before decodeHeaders for this filter (ext_authz with_request_body); 0/absent = none. */
  readonly bufferRequestBodyBytes?: number;
  /** Release what the factory holds (e.g. ext_authz gRPC channels) when its config is replaced. */
  dispose?(): void;
}

export interface FilterDeps {
  readonly nodeId: string;
  readonly nodeCluster: string;
  /** Clock for token buckets and delays (tests inject one). */
  readonly now: () => number;
  /** Random source in [0,1) for percentages (fault, filter_enabled fractions); Math.random when absent. */
  readonly random?: () => number;
  /**
   * ext_authz http_service: sends the check request to `cluster` (the data plane resolves it). Absent → ext_authz
   * uses server_uri.uri directly (tests, or clusters meshlet cannot resolve here).
   */
  readonly sendAuthRequest?: AuthRequestSender;
  /** ext_authz grpc_service: gRPC target (host:port) for an envoy_grpc cluster; absent → the cluster name is used as the target. */
  readonly resolveGrpcTarget?: (cluster: string) => string | undefined;
}

export interface AuthRequest {
  readonly method: string;
  /** Path (with query) to send to the auth service. */
  readonly path: string;
  readonly headers: HeaderMap;
  readonly body: Buffer | null;
  readonly timeoutMs: number;
}

export interface AuthResponse {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Buffer;
}

/** Sends an HTTP request to a cluster; resolves with the response or rejects (connect failure, timeout). */
export type AuthRequestSender = (cluster: string, uri: string, req: AuthRequest) => Promise<AuthResponse>;

/** One HTTP filter extension: config translation (once) and a factory (once per config). */
export interface HttpFilterType<Config, PerRoute = Config> {
  /** Type URL of the filter's config message, e.g. type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault. */
  readonly typeUrl: string;
  /** Type URLs accepted in typed_per_filter_config (often the same message, sometimes a *PerRoute one). */
  readonly perRouteTypeUrls: readonly string[];
  /** Validate and translate the listener-level config (canonical, without '@type'). Never throws. */
  translate(config: Readonly<Record<string, unknown>>, issues: Issues): Config;
  /** Validate and translate a per-route override (canonical, with its '@type' removed). Never throws. */
  translatePerRoute?(config: Readonly<Record<string, unknown>>, typeUrl: string, issues: Issues): PerRoute;
  createFactory(name: string, config: Config, deps: FilterDeps): HttpFilterFactory;
}
