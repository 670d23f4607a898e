// upstream/: per-cluster, per-priority resource limits (Envoy's ResourceManager): connections, pending requests,
// requests, retries — the retries limit follows retry_budget when configured (budget % of active requests and
// pending, at least min_retry_concurrency). Overflow is counted here; the data path answers 503 UO.
import type { ThresholdsConfig } from '../config/cluster.js';
import type { CircuitBreakers, ResourceKind } from './types.js';

export interface BreakerStats {
  /** upstream_cx_overflow, upstream_rq_pending_overflow, upstream_rq_overflow (requests), upstream_rq_retry_overflow. */
  readonly overflow: Record<ResourceKind, number>;
}

export class ClusterCircuitBreakers implements CircuitBreakers {
  readonly active: Record<ResourceKind, number> = { connections: 0, pending: 0, requests: 0, retries: 0 };
  readonly stats: BreakerStats = { overflow: { connections: 0, pending: 0, requests: 0, retries: 0 } };

  constructor(readonly config: ThresholdsConfig) {}

  max(kind: ResourceKind): number {
    const c = this.config;
    switch (kind) {
      case 'connections': return c.maxConnections;
      case 'pending': return c.maxPendingRequests;
      case 'requests': return c.maxRequests;
      case 'retries': {
        if (!c.retryBudget) return c.maxRetries;
        const budget = Math.floor(((this.active.requests + this.active.pending) * c.retryBudget.budgetPercent) / 100);
        return Math.max(budget, c.retryBudget.minRetryConcurrency);
      }
    }
  }

  tryAcquire(kind: ResourceKind): boolean {
    if (this.active[kind] >= this.max(kind)) {
      this.stats.overflow[kind]++;
      return false;
    }
    this.active[kind]++;
    return true;
  }

  release(kind: ResourceKind): void {
    if (this.active[kind] > 0) this.active[kind]--;
  }

  remaining(kind: ResourceKind): number {
    return Math.max(0, this.max(kind) - this.active[kind]);
  }
}
