// process/: a `--concurrency N` worker's half of shared health. Its clusters with health checks or outlier detection
// run neither (upstream-cluster.ts follower mode): this object keeps the host states the primary broadcast (applied
// to clusters as they change, and to hosts as they are created) and batches the worker's request outcomes to the
// primary's single outlier detector.
//
// Batching: outcomes are kept per cluster and host as run-length pairs [code, count, …] in the order this worker saw
// them and sent every `flushMs` (100 ms): one IPC message per worker per window, however many requests. The primary
// replays each batch in order as it arrives, so consecutive counts (consecutive_5xx, gateway, local-origin) are exact
// within one worker's window; across workers, a window's outcomes are serialised batch after batch instead of
// interleaved as they happened: a streak that really alternated between workers, or a success in one worker between
// another's failures, may be counted a little longer or shorter than a single process would, and an ejection lands
// up to one window (plus IPC) after the failure that triggered it. Totals (success rate, failure percentage) are exact.
import type { HostOutcome } from '../upstream/types.js';
import { outcomeCode, type HealthFollowerLink, type SharedHostHealth } from '../upstream/upstream-cluster.js';
import { decodeHostHealth, type WireHealthUpdate, type WireOutcomeBatch } from './shared-health-wire.js';

/** The part of a cluster runtime the follower drives. */
export interface FollowingCluster {
  applySharedHealth(changed: ReadonlyMap<string, SharedHostHealth | null>): void;
}

export interface SharedHealthFollowerOptions {
  readonly send: (batch: WireOutcomeBatch) => void;
  readonly flushMs?: number;
}

export class SharedHealthFollower implements HealthFollowerLink {
  private readonly states = new Map<string, Map<string, SharedHostHealth>>();
  private batch = new Map<string, Map<string, number[]>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: SharedHealthFollowerOptions) {}

  state(cluster: string, key: string): SharedHostHealth | undefined {
    return this.states.get(cluster)?.get(key);
  }

  report(cluster: string, key: string, outcome: HostOutcome): void {
    let hosts = this.batch.get(cluster);
    if (!hosts) this.batch.set(cluster, (hosts = new Map()));
    let runs = hosts.get(key);
    if (!runs) hosts.set(key, (runs = []));
    const code = outcomeCode(outcome);
    const n = runs.length;
    if (n > 0 && runs[n - 2] === code) runs[n - 1]++;
    else runs.push(code, 1);
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => this.flush(), this.o.flushMs ?? 100);
      this.timer.unref();
    }
  }

  /** Sends what was batched (also called on close). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.batch.size === 0) return;
    const out: [string, [string, number[]][]][] = [];
    for (const [cluster, hosts] of this.batch) out.push([cluster, [...hosts]]);
    this.batch = new Map();
    this.o.send(out);
  }

  /** A broadcast from the primary: store it, then hand each changed cluster its changed hosts. */
  apply(u: WireHealthUpdate, lookup: (cluster: string) => FollowingCluster | undefined): void {
    const changed = new Map<string, Map<string, SharedHostHealth | null>>();
    const note = (cluster: string, key: string, s: SharedHostHealth | null): void => {
      let m = changed.get(cluster);
      if (!m) changed.set(cluster, (m = new Map()));
      m.set(key, s);
    };
    if (u.full) {
      // Clusters this worker was told about but the full state no longer has: gone at the primary.
      const now = new Set(u.clusters.map((c) => c[0]));
      for (const [cluster, hosts] of [...this.states]) {
        if (now.has(cluster)) continue;
        for (const key of hosts.keys()) note(cluster, key, null);
        this.states.delete(cluster);
      }
    }
    for (const [cluster, hosts, removed] of u.clusters) {
      let m = this.states.get(cluster);
      if (removed === null) {
        if (m) for (const key of m.keys()) note(cluster, key, null);
        this.states.delete(cluster);
        continue;
      }
      const old = u.full ? m : undefined;
      if (!m || u.full) this.states.set(cluster, (m = new Map()));
      for (const w of hosts) {
        const s = decodeHostHealth(w);
        m.set(w[0], s);
        note(cluster, w[0], s);
      }
      for (const key of removed) {
        m.delete(key);
        note(cluster, key, null);
      }
      if (old) for (const key of old.keys()) if (!m.has(key)) note(cluster, key, null);
    }
    for (const [cluster, m] of changed) lookup(cluster)?.applySharedHealth(m);
  }

  close(): void {
    this.closed = true;
    this.flush();
  }
}
