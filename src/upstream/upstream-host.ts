// upstream/: one endpoint of a cluster. Identity (address) and config (weight, locality, priority) are fixed for the
// object's life; health flags, outlier state and counters change in place. Host SETS are rebuilt immutably whenever
// membership or health changes (host-set.ts); a host whose weight/priority/locality changes is a new object.
import type { Locality } from '../config/node.js';
import type { EdsHealthStatus } from '../config/endpoint.js';
import type { HealthFlag, Host, HostStats } from './types.js';

export interface HostInit {
  readonly address: string;
  readonly port: number;
  readonly pipe?: string;
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: Locality;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly edsHealth: EdsHealthStatus;
  readonly healthCheckPort?: number;
  readonly createdAt: number;
}

export function hostKey(address: string, port: number, pipe?: string): string {
  if (pipe) return pipe;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export class UpstreamHost implements Host {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly pipe?: string;
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: Locality;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly healthFlags = new Set<HealthFlag>();
  activeRequests = 0;
  readonly stats: HostStats = { cxActive: 0, cxTotal: 0, cxConnectFail: 0, rqTotal: 0, rqError: 0, rqSuccess: 0, rqTimeout: 0 };
  /** When the host joined the cluster (slow start). */
  readonly createdAt: number;
  readonly healthCheckPort: number;
  /** Canary flag from metadata envoy.lb.canary. */
  readonly canary: boolean;
  /** The key consistent hashing uses: metadata envoy.lb.hash_key, else the address. */
  readonly hashKey: string;
  /** Active health check has not yet produced a first result (Envoy's pending-HC state, counted healthy for EDS). */
  edsHealth: EdsHealthStatus;
  /** Outlier detector's success rate for /clusters (-1 = not computed). */
  successRate = -1;
  localOriginSuccessRate = -1;

  constructor(init: HostInit) {
    this.address = init.address;
    this.port = init.port;
    if (init.pipe) this.pipe = init.pipe;
    this.key = hostKey(init.address, init.port, init.pipe);
    this.hostname = init.hostname;
    this.weight = init.weight;
    this.priority = init.priority;
    this.locality = init.locality;
    this.metadata = init.metadata;
    this.createdAt = init.createdAt;
    this.healthCheckPort = init.healthCheckPort || init.port;
    const lb = (init.metadata['envoy.lb'] ?? {}) as Record<string, unknown>;
    this.canary = lb.canary === true;
    this.hashKey = typeof lb.hash_key === 'string' && lb.hash_key ? lb.hash_key : this.key;
    this.edsHealth = init.edsHealth;
    this.applyEdsHealth(init.edsHealth);
  }

  /** Sets the EDS-derived flags (Envoy: UNHEALTHY/DRAINING/TIMEOUT → failed_eds_health, DEGRADED → degraded_eds_health). */
  applyEdsHealth(s: EdsHealthStatus): void {
    this.edsHealth = s;
    this.healthFlags.delete('failed_eds_health');
    this.healthFlags.delete('degraded_eds_health');
    if (s === 'UNHEALTHY' || s === 'DRAINING' || s === 'TIMEOUT') this.healthFlags.add('failed_eds_health');
    else if (s === 'DEGRADED') this.healthFlags.add('degraded_eds_health');
  }

  /** Healthy = no failure flag (degraded flags and pending_dynamic_removal do not count as failures, as in Envoy). */
  get healthy(): boolean {
    const f = this.healthFlags;
    return !(f.has('failed_active_hc') || f.has('failed_eds_health') || f.has('failed_outlier_check'));
  }

  get degraded(): boolean {
    return this.healthy && (this.healthFlags.has('degraded_eds_health') || this.healthFlags.has('degraded_active_hc'));
  }

  /** True when identity and LB-relevant config are equal (the host object, with its state, can be kept). */
  sameAs(init: HostInit): boolean {
    const l = this.locality;
    const m = init.locality;
    return this.key === hostKey(init.address, init.port, init.pipe) && this.weight === init.weight && this.priority === init.priority
      && l.region === m.region && l.zone === m.zone && l.sub_zone === m.sub_zone && this.hostname === init.hostname
      && JSON.stringify(this.metadata) === JSON.stringify(init.metadata)
      && this.healthCheckPort === (init.healthCheckPort || init.port);
  }
}
