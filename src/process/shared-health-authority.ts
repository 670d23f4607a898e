// process/: the `--concurrency N` primary's health authority. Active health checks and outlier detection run here
// once for the whole process group (as Envoy's main thread runs them), and every host state change is broadcast to
// the workers, which apply it to their host sets (shared-health-follower.ts).
//
// Why the primary and not worker 0: the primary already holds every published snapshot, carries no traffic (checks
// are not delayed by the data path) and outlives worker crashes, so there is no hand-over when a worker dies and a
// restarted worker gets the current state with its snapshot. It builds cluster runtimes only for clusters with a
// health check or outlier detection (no pools, no listeners); their hosts come from the same snapshot the workers get.
//
// Flow: snapshot → apply (queued, newest wins) → ClusterManager of those clusters → checker/detector change
// → changed() → flush on the next tick: per-host diff against what was sent → WireHealthUpdate to every worker.
// Worker outcome batches → ClusterRuntime.reportRemoteOutcomes → the one OutlierDetector (and its no-traffic test).
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { NodeInfo } from '../config/node.js';
import { ClusterManager } from '../upstream/cluster-manager.js';
import type { ClusterRuntime } from '../upstream/upstream-cluster.js';
import type { UpstreamLogger } from '../upstream/timer-source.js';
import { encodeHostHealth, sameHostHealth, type WireClusterHealth, type WireHealthUpdate, type WireHostHealth, type WireOutcomeBatch } from './shared-health-wire.js';

export interface SharedHealthAuthorityOptions {
  readonly node: NodeInfo;
  readonly logger?: UpstreamLogger;
  /** Sends a delta to every running worker. */
  readonly publish: (u: WireHealthUpdate) => void;
  /** Full diff of every cluster this often (success rates change on the outlier interval without an event). */
  readonly sweepMs?: number;
}

type Clusters = ConfigSnapshot['clusters'];

export class SharedHealthAuthority {
  private readonly manager: ClusterManager;
  /** What the workers were last told, per cluster and host. */
  private readonly sent = new Map<string, Map<string, WireHostHealth>>();
  private readonly dirty = new Set<string>();
  private flushQueued = false;
  private readonly sweep: NodeJS.Timeout;
  private applying: Promise<void> = Promise.resolve();
  private latest: ConfigSnapshot | null = null;
  /** The filtered cluster map for the last snapshot's map (same input map → same object, so route pushes skip). */
  private filteredFor: Clusters | null = null;
  private filtered: Clusters = new Map();
  private closed = false;

  constructor(private readonly o: SharedHealthAuthorityOptions) {
    this.manager = new ClusterManager({
      node: o.node,
      ...(o.logger ? { logger: o.logger } : {}),
      healthAuthority: { changed: (c: ClusterRuntime) => this.changed(c.name) },
    });
    this.sweep = setInterval(() => this.flush(true), o.sweepMs ?? 1000);
    this.sweep.unref();
  }

  /** Applies a published snapshot (the clusters that need shared health only); applies are serialised, newest wins. */
  apply(snap: ConfigSnapshot): Promise<void> {
    const queued = this.latest !== null;
    this.latest = snap;
    if (queued) return this.applying;
    this.applying = this.applying.then(async () => {
      const next = this.latest!;
      this.latest = null;
      if (this.closed) return;
      await this.manager.applyAsync({ ...next, clusters: this.sharedClusters(next.clusters) });
      this.flush(true);
    }).catch((e: unknown) => this.o.logger?.warn({ err: (e as Error).message }, 'shared health: applying config failed'));
    return this.applying;
  }

  /** A worker's outcome batch, replayed in order into the clusters' outlier detectors. */
  onOutcomes(batch: WireOutcomeBatch): void {
    for (const [cluster, hosts] of batch) {
      const c = this.manager.get(cluster);
      if (!c) continue;
      for (const [key, runs] of hosts) c.reportRemoteOutcomes(key, runs);
    }
  }

  /** Everything the workers were told so far: what a starting worker gets before its snapshot. */
  full(): WireHealthUpdate {
    this.flush(false);
    const clusters: WireClusterHealth[] = [];
    for (const [name, hosts] of this.sent) clusters.push([name, [...hosts.values()], []]);
    return { full: true, clusters };
  }

  /** For /clusters-style checks and tests: the authority's runtime of a cluster. */
  cluster(name: string): ClusterRuntime | undefined {
    return this.manager.get(name);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    this.manager.close();
  }

  private sharedClusters(all: Clusters): Clusters {
    if (all === this.filteredFor) return this.filtered;
    const m = new Map<string, Clusters extends ReadonlyMap<string, infer E> ? E : never>();
    for (const [name, e] of all) {
      const c = e.value;
      if (c.type !== 'ORIGINAL_DST' && (c.healthChecks.length > 0 || c.outlierDetection !== null)) m.set(name, e);
    }
    this.filteredFor = all;
    this.filtered = m;
    return m;
  }

  private changed(name: string): void {
    this.dirty.add(name);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush(false));
  }

  /** Sends the per-host differences of the dirty clusters (of every cluster when `all`). */
  private flush(all: boolean): void {
    this.flushQueued = false;
    if (this.closed) return;
    const names = all ? new Set([...this.sent.keys(), ...this.manager.names()]) : new Set(this.dirty);
    this.dirty.clear();
    const out: WireClusterHealth[] = [];
    for (const name of names) {
      const c = this.manager.get(name);
      const prev = this.sent.get(name);
      if (!c || c.state === 'closed') {
        if (prev) {
          this.sent.delete(name);
          out.push([name, [], null]);
        }
        continue;
      }
      const next = new Map<string, WireHostHealth>();
      const changed: WireHostHealth[] = [];
      for (const h of c.hosts()) {
        const w = encodeHostHealth(h.key, {
          failedActiveHc: h.healthFlags.has('failed_active_hc'),
          degradedActiveHc: h.healthFlags.has('degraded_active_hc'),
          ejected: h.healthFlags.has('failed_outlier_check'),
          successRate: h.successRate,
          localOriginSuccessRate: h.localOriginSuccessRate,
        });
        next.set(h.key, w);
        const p = prev?.get(h.key);
        if (!p || !sameHostHealth(p, w)) changed.push(w);
      }
      const removed: string[] = [];
      if (prev) for (const key of prev.keys()) if (!next.has(key)) removed.push(key);
      this.sent.set(name, next);
      if (changed.length > 0 || removed.length > 0) out.push([name, changed, removed]);
    }
    if (out.length > 0) this.o.publish({ full: false, clusters: out });
  }
}
