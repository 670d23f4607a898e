// config/: internal, readonly form of envoy.config.endpoint.v3.ClusterLoadAssignment (filled in by
// xds/resource-types/cluster-load-assignment.ts, and by the cluster translator for STATIC/DNS load_assignment).
// OWNER: cluster slice. Plain data; upstream/ builds immutable host sets from it.
import type { Locality } from './node.js';

/** Envoy core.v3.HealthStatus as reported by the control plane. */
export type EdsHealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface EndpointAddress {
  /** IP or DNS name (STRICT_DNS / LOGICAL_DNS resolve it); '' for pipes. */
  readonly address: string;
  readonly port: number;
  /** Unix socket path for pipe addresses. */
  readonly pipe?: string;
}

export interface LbEndpointConfig {
  readonly address: EndpointAddress;
  /** endpoint.hostname (used by auto_host_rewrite and hostname hashing), else ''. */
  readonly hostname: string;
  readonly healthStatus: EdsHealthStatus;
  /** load_balancing_weight, default 1. */
  readonly weight: number;
  /** endpoint.health_check_config.port_value (0 = use the endpoint port). */
  readonly healthCheckPort: number;
  /** endpoint.health_check_config.hostname, else ''. */
  readonly healthCheckHostname: string;
  /** metadata.filter_metadata as plain JSON (e.g. { 'envoy.lb': { hash_key: '…', canary: true } }). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface LocalityEndpointsConfig {
  readonly locality: Locality;
  /** Locality load_balancing_weight; 0 / unset = the locality takes no traffic under locality-weighted LB. */
  readonly weight: number;
  readonly priority: number;
  readonly endpoints: readonly LbEndpointConfig[];
}

export interface DropOverload {
  readonly category: string;
  /** Drop probability as parts per million. */
  readonly ppm: number;
}

export interface EndpointsConfig {
  readonly clusterName: string;
  readonly localities: readonly LocalityEndpointsConfig[];
  /** policy.overprovisioning_factor in percent (Envoy default 140). */
  readonly overprovisioningFactor: number;
  readonly dropOverloads: readonly DropOverload[];
  /** policy.endpoint_stale_after in ms (0 = never stale). */
  readonly endpointStaleAfterMs: number;
  /** policy.weighted_priority_health */
  readonly weightedPriorityHealth: boolean;
}
