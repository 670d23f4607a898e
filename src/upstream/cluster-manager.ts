// upstream/: the cluster manager. Applies each published ConfigSnapshot: adds/updates clusters first, then their
// endpoints, then removes clusters no longer present. A cluster whose config is unchanged keeps its runtime
// (outlier and health-check state survive EDS updates). Implements ClusterManagerView for the data path and
// renders Envoy's /clusters output for the admin server.
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { ClusterConfig } from '../config/cluster.js';
import type { EndpointsConfig } from '../config/endpoint.js';
import type { NodeInfo } from '../config/node.js';
import type { ClusterManagerView } from './types.js';
import { ClusterRuntime, type ClusterDeps } from './upstream-cluster.js';
import type { ZoneAwareInput } from './load-balancer.js';
import { localityKey } from './priority-set.js';
import { renderClustersJson, renderClustersText, type ClustersJson } from './clusters-admin.js';
import { nextSlice } from '../common/next-slice.js';

const CDS_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

export interface ClusterManagerDeps extends ClusterDeps {
  /** This proxy's node (its locality drives zone-aware routing). */
  readonly node?: NodeInfo;
  /** bootstrap cluster_manager.local_cluster_name: the cluster this proxy belongs to (enables zone-aware routing). */
  readonly localClusterName?: string;
}

interface Entry {
  readonly runtime: ClusterRuntime;
  readonly config: ClusterConfig;
  readonly addedViaApi: boolean;
  endpoints: EndpointsConfig | null;
}

function sameConfig(a: ClusterConfig, b: ClusterConfig): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export class ClusterManager implements ClusterManagerView {
  private readonly clusters = new Map<string, Entry>();
  private versionInfo = '';
  private closed = false;

  private readonly clusterDeps: ClusterDeps;
  /** The snapshot maps the last completed applyAsync applied (null: none, or apply() ran since). */
  private appliedClusters: ConfigSnapshot['clusters'] | null = null;
  private appliedEndpoints: ConfigSnapshot['endpoints'] | null = null;
  /** Zone-aware routing: balancers are rebuilt on every apply (the local cluster's membership may have changed). */
  private readonly rebuildsPerApply: boolean;

  constructor(private readonly deps: ClusterManagerDeps = {}) {
    this.clusterDeps = { ...deps, zoneAware: () => this.zoneInput() };
    this.rebuildsPerApply = Boolean(deps.localClusterName && deps.node);
  }

  /** Zone-aware routing input: the local cluster's healthy hosts per locality, with our own locality. */
  private zoneInput(): ZoneAwareInput | null {
    const local = this.deps.localClusterName ? this.clusters.get(this.deps.localClusterName)?.runtime : undefined;
    const loc = this.deps.node?.locality;
    if (!local || !loc || (!loc.region && !loc.zone && !loc.sub_zone)) return null;
    const counts = new Map<string, number>();
    for (const h of local.hosts()) {
      if (h.priority !== 0 || !h.healthy) continue;
      const k = localityKey(h.locality);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return { localLocality: localityKey(loc), localCounts: counts, routingEnabledPercent: 100, minClusterSize: 6 };
  }

  apply(snapshot: ConfigSnapshot): void {
    if (this.closed) return;
    this.appliedClusters = null;
    this.appliedEndpoints = null;
    this.versionInfo = snapshot.versions[CDS_TYPE_URL] ?? '';
    // 1. add or update clusters
    for (const [name, entry] of snapshot.clusters) {
      const cur = this.clusters.get(name);
      if (cur && sameConfig(cur.config, entry.value)) continue;
      cur?.runtime.close();
      const runtime = new ClusterRuntime(entry.value, this.clusterDeps);
      this.clusters.set(name, { runtime, config: entry.value, addedViaApi: !entry.isStatic, endpoints: null });
      runtime.start();
    }
    // 2. endpoints of EDS clusters (only on real change)
    for (const e of this.clusters.values()) {
      if (e.config.type !== 'EDS') continue;
      const eds = snapshot.endpoints.get(e.config.edsServiceName)?.value ?? null;
      if (eds && eds !== e.endpoints) {
        e.endpoints = eds;
        e.runtime.setEndpoints(eds);
      }
    }
    // Zone-aware routing reads the local cluster's membership: rebuild balancers after it may have changed.
    if (this.deps.localClusterName && this.deps.node) for (const e of this.clusters.values()) e.runtime.rebuild();
    // 3. remove clusters no longer present
    for (const [name, e] of this.clusters) {
      if (!snapshot.clusters.has(name)) {
        e.runtime.close();
        this.clusters.delete(name);
      }
    }
  }

  /**
   * apply() in time-bounded chunks with setImmediate between them, so a mesh-sized snapshot (10,000s of clusters)
   * never holds the event loop for long. Same order and result as apply(): clusters are added/updated first (the
   * data path may already use the new ones), then endpoints, then removed clusters go; unchanged clusters are not
   * touched. Callers must not run two applies at once (the proxy serialises them).
   */
  async applyAsync(snapshot: ConfigSnapshot, chunkMs = 8): Promise<void> {
    if (this.closed) return;
    // A snapshot that changed only listeners or routes shares the cluster and endpoint maps of the last one applied
    // (the store rebuilds only changed maps): nothing to do, and no pass over 10,000 clusters per route push.
    if (snapshot.clusters === this.appliedClusters && snapshot.endpoints === this.appliedEndpoints && !this.rebuildsPerApply) {
      this.versionInfo = snapshot.versions[CDS_TYPE_URL] ?? '';
      return;
    }
    this.appliedClusters = null;
    this.appliedEndpoints = null;
    let deadline = performance.now() + chunkMs;
    let n = 0;
    const pause = async (): Promise<boolean> => {
      // The clock is read every 8 clusters: building a ClusterRuntime can take ~0.5 ms on a loaded machine, so 64
      // between checks overran the chunk several times over.
      if ((++n & 7) !== 0 || performance.now() < deadline) return false;
      await nextSlice();
      deadline = performance.now() + chunkMs;
      return this.closed;
    };
    this.versionInfo = snapshot.versions[CDS_TYPE_URL] ?? '';
    for (const [name, entry] of snapshot.clusters) {
      const cur = this.clusters.get(name);
      if (cur && cur.config === entry.value) continue;
      if (await pause()) return;
      if (cur && sameConfig(cur.config, entry.value)) continue;
      cur?.runtime.close();
      const runtime = new ClusterRuntime(entry.value, this.clusterDeps);
      this.clusters.set(name, { runtime, config: entry.value, addedViaApi: !entry.isStatic, endpoints: null });
      runtime.start();
    }
    for (const e of [...this.clusters.values()]) {
      if (e.config.type !== 'EDS' || e.runtime.state === 'closed') continue;
      const eds = snapshot.endpoints.get(e.config.edsServiceName)?.value ?? null;
      if (eds && eds !== e.endpoints) {
        if (await pause()) return;
        e.endpoints = eds;
        e.runtime.setEndpoints(eds);
      }
    }
    if (this.rebuildsPerApply) for (const e of this.clusters.values()) e.runtime.rebuild();
    for (const [name, e] of [...this.clusters]) {
      if (!snapshot.clusters.has(name)) {
        e.runtime.close();
        this.clusters.delete(name);
      }
    }
    this.appliedClusters = snapshot.clusters;
    this.appliedEndpoints = snapshot.endpoints;
  }

  get(name: string): ClusterRuntime | undefined {
    return this.clusters.get(name)?.runtime;
  }

  names(): IterableIterator<string> {
    return this.clusters.keys();
  }

  clustersText(): string {
    return renderClustersText(this.versionInfo, [...this.clusters.values()].map((e) => ({ runtime: e.runtime, addedViaApi: e.addedViaApi })));
  }

  clustersJson(): ClustersJson {
    return renderClustersJson([...this.clusters.values()].map((e) => ({ runtime: e.runtime, addedViaApi: e.addedViaApi })));
  }

  close(): void {
    this.closed = true;
    for (const e of this.clusters.values()) e.runtime.close();
    this.clusters.clear();
  }
}
