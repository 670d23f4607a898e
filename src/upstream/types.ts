// upstream/: the contract between the cluster manager (host sets, load balancers, health, outlier detection,
// circuit breakers) and the data path that sends requests (HTTP router filter, TCP proxy). Runtime clusters are
// rebuilt from config; host sets are immutable and swapped whole on every EDS/health change.
import type { ClusterConfig } from '../config/cluster.js';
import type { Locality } from '../config/node.js';

export type HealthFlag = 'failed_active_hc' | 'failed_eds_health' | 'failed_outlier_check' | 'degraded_eds_health' | 'pending_dynamic_removal' | 'degraded_active_hc';

/** One upstream endpoint. Mutable counters live here; identity (address) never changes. */
export interface Host {
  /** 'ip:port' (or the pipe path), the key used by /clusters, outlier detection and pools. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** Unix socket path for pipe endpoints. */
  readonly pipe?: string;
  /** Endpoint hostname from EDS (used by auto_host_rewrite), else ''. */
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: Locality;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Current health flags (empty = healthy). */
  readonly healthFlags: ReadonlySet<HealthFlag>;
  /** Requests in flight to this host (maintained by the data path via acquire/release). */
  activeRequests: number;
  /** Plain-number counters shown by /clusters (present on every host the cluster manager creates). Pools bump the
   *  cx_* fields; reportOutcome bumps the rq_* fields. */
  readonly stats?: HostStats;
}

export interface HostStats {
  cxActive: number;
  cxTotal: number;
  cxConnectFail: number;
  rqTotal: number;
  rqError: number;
  rqSuccess: number;
  rqTimeout: number;
}

/** Per-request inputs to the load balancer. */
export interface LbContext {
  /** Consistent-hash key computed from the route's hash policies (xxHash64), if any. */
  readonly hash?: bigint;
  /** Hosts already tried by earlier attempts (retry_host_predicate previous_hosts). */
  readonly previousHosts?: readonly Host[];
  /** ORIGINAL_DST clusters: the connection's original destination 'ip:port'. */
  readonly originalDestination?: string;
  /** Key of a host that session affinity (cookie) points to; chosen when present and healthy. */
  readonly overrideHostKey?: string;
}

export type ResourceKind = 'connections' | 'pending' | 'requests' | 'retries';

/** Circuit breakers of one priority. tryAcquire returns false on overflow (answer 503 UO, count overflow). */
export interface CircuitBreakers {
  tryAcquire(kind: ResourceKind): boolean;
  release(kind: ResourceKind): void;
  remaining(kind: ResourceKind): number;
}

/** How a request to a host ended, for outlier detection (Envoy's external vs local-origin results). */
export type HostOutcome =
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'connect_failure' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'reset' }
  /** The upstream stream was reset after its response headers were reported (mid-body): Envoy's router reports
   *  LocalOriginConnectFailed for it too, to the outlier detector only (the request was counted at headers). */
  | { readonly kind: 'reset_after_response' }
  | { readonly kind: 'success_local' };

export type UpstreamProtocol = 'http1' | 'http2' | 'auto';

export interface UpstreamCluster {
  readonly name: string;
  readonly config: ClusterConfig;
  /** Protocol to speak to hosts (from typed_extension_protocol_options / http2_protocol_options). */
  readonly protocol: UpstreamProtocol;
  /** Pick a host; null means no healthy host (503 UH). Must be O(1)/O(log n) on the hot path. */
  chooseHost(ctx: LbContext): Host | null;
  /** All hosts of all priorities (for /clusters and health checks). */
  hosts(): readonly Host[];
  breakers(priority: number): CircuitBreakers;
  /** Report a finished request for outlier detection. */
  reportOutcome(host: Host, outcome: HostOutcome): void;
  /** EDS drop_overloads: true when this request should be dropped (503, flag DO). */
  shouldDrop(): boolean;
}

export interface ClusterManagerView {
  get(name: string): UpstreamCluster | undefined;
  names(): IterableIterator<string>;
}
