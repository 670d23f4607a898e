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
import { renderClustersJson, renderClustersText, type ClustersJson } from './clusters-admin.js';

const CDS_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

export interface ClusterManagerDeps extends ClusterDeps {
  readonly node?: NodeInfo;
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

  constructor(private readonly deps: ClusterManagerDeps = {}) {}

  apply(snapshot: ConfigSnapshot): void {
    if (this.closed) return;
    this.versionInfo = snapshot.versions[CDS_TYPE_URL] ?? '';
    // 1. add or update clusters
    for (const [name, entry] of snapshot.clusters) {
      const cur = this.clusters.get(name);
      if (cur && sameConfig(cur.config, entry.value)) continue;
      cur?.runtime.close();
      const runtime = new ClusterRuntime(entry.value, this.deps);
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
    // 3. remove clusters no longer present
    for (const [name, e] of this.clusters) {
      if (!snapshot.clusters.has(name)) {
        e.runtime.close();
        this.clusters.delete(name);
      }
    }
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
