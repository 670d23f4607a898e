// upstream/: the runtime of one cluster built from its ClusterConfig: hosts from EDS / load_assignment / DNS /
// original destination, the immutable PrioritySet + LoadBalancer swapped on every change, circuit breakers per
// priority, outlier detection and active health checking. Lifecycle: initializing → active → closed.
import dns from 'node:dns';
import type { ClusterConfig } from '../config/cluster.js';
import type { EndpointsConfig, LbEndpointConfig } from '../config/endpoint.js';
import type { CircuitBreakers, Host, HostOutcome, LbContext, UpstreamCluster, UpstreamProtocol } from './types.js';
import { UpstreamHost, hostKey, type HostInit } from './upstream-host.js';
import { PrioritySet, localityKey } from './priority-set.js';
import { LoadBalancer, type ZoneAwareInput } from './load-balancer.js';
import { ClusterCircuitBreakers } from './circuit-breakers.js';
import { OutlierDetector } from './outlier-detector.js';
import { HealthChecker } from './health-checker.js';
import { realTimers, silentLogger, type TimerSource, type UpstreamLogger } from './timer-source.js';

export type DnsLookup = (hostname: string, family: 0 | 4 | 6) => Promise<readonly { address: string; family: number }[]>;

export const defaultDnsLookup: DnsLookup = (hostname, family) => dns.promises.lookup(hostname, { all: true, family });

/** What the process group's health authority published for one host (see process/shared-health-*.ts). */
export interface SharedHostHealth {
  /** failed_active_hc (the primary's checker has no success yet, or found the host unhealthy). */
  readonly failedActiveHc: boolean;
  readonly degradedActiveHc: boolean;
  /** failed_outlier_check (the primary's outlier detector ejected the host). */
  readonly ejected: boolean;
  readonly successRate: number;
  readonly localOriginSuccessRate: number;
}

/**
 * --concurrency N worker side: active health checks and outlier detection run once, in the primary. A following
 * cluster runs neither; it reports request outcomes (batched) and applies the published host states.
 */
export interface HealthFollowerLink {
  /** The last state published for a host of a cluster, if any. */
  state(cluster: string, key: string): SharedHostHealth | undefined;
  /** One request outcome toward the primary's outlier detector (and its no-traffic test). */
  report(cluster: string, key: string, outcome: HostOutcome): void;
}

/** --concurrency N primary side: a cluster whose host health or outlier state may have changed (publish it). */
export interface HealthAuthorityHook {
  changed(cluster: ClusterRuntime): void;
}

/** Request outcomes as small integers on the wire: an HTTP status as itself, local-origin events below 100. */
export const OUTCOME_CODE = { connect_failure: 1, timeout: 2, reset: 3, success_local: 4, reset_after_response: 5 } as const;
const LOCAL_OUTCOMES: readonly (HostOutcome | undefined)[] = [
  undefined, { kind: 'connect_failure' }, { kind: 'timeout' }, { kind: 'reset' }, { kind: 'success_local' }, { kind: 'reset_after_response' },
];

export function outcomeCode(o: HostOutcome): number {
  return o.kind === 'http' ? o.status : OUTCOME_CODE[o.kind];
}

export interface ClusterDeps {
  /** Zone-aware routing input (from the cluster manager's local cluster), or null. */
  readonly zoneAware?: () => ZoneAwareInput | null;
  readonly timers?: TimerSource;
  readonly logger?: UpstreamLogger;
  readonly random?: () => number;
  readonly dnsLookup?: DnsLookup;
  /** --concurrency N worker: health checks / outlier detection follow the primary's (not for ORIGINAL_DST). */
  readonly healthFollower?: HealthFollowerLink;
  /** --concurrency N primary: told about every health or outlier change, to broadcast it to the workers. */
  readonly healthAuthority?: HealthAuthorityHook;
}

export type ClusterState = 'initializing' | 'active' | 'closed';

export interface ClusterStats {
  /** Requests reported through reportOutcome. */
  upstreamRqTotal: number;
  upstreamRqError: number;
  /** chooseHost returned null. */
  noHealthyHost: number;
  dropOverload: number;
  membershipChanges: number;
}

export class ClusterRuntime implements UpstreamCluster {
  readonly name: string;
  readonly protocol: UpstreamProtocol;
  state: ClusterState = 'initializing';
  readonly stats: ClusterStats = { upstreamRqTotal: 0, upstreamRqError: 0, noHealthyHost: 0, dropOverload: 0, membershipChanges: 0 };
  readonly outlier: OutlierDetector | null;
  readonly healthChecker: HealthChecker | null;
  /** Endpoints last applied (EDS resource or load_assignment). */
  endpoints: EndpointsConfig | null = null;
  /** Built on first use after every membership / health change (a mesh-sized CDS+EDS then costs nothing per cluster
   *  until it carries traffic); null = stale. */
  private setCache: PrioritySet | null = null;
  private lbCache: LoadBalancer | null = null;
  private hostListValue: UpstreamHost[] = [];
  /** Endpoints applied but not yet turned into hosts (only for clusters without health checking / outlier
   *  detection, which need their hosts at once), with the time they were applied (the hosts' createdAt). */
  private pendingEndpoints: { readonly e: EndpointsConfig | null; readonly at: number } | null = null;
  private readonly cbs: [ClusterCircuitBreakers, ClusterCircuitBreakers];
  private readonly timers: TimerSource;
  private readonly logger: UpstreamLogger;
  private readonly random: () => number;
  private readonly dnsLookup: DnsLookup;
  private dnsTimer: unknown = null;
  private odTimer: unknown = null;
  private readonly odLastUsed = new Map<UpstreamHost, number>();
  private hadTraffic = false;
  private readyWaiters: (() => void)[] = [];
  private readonly zoneAware: () => ZoneAwareInput | null;
  private readonly follower: HealthFollowerLink | null;
  private readonly authority: HealthAuthorityHook | null;

  constructor(readonly config: ClusterConfig, deps: ClusterDeps = {}) {
    this.name = config.name;
    this.protocol = config.http.protocol === 'downstream' ? 'auto' : config.http.protocol;
    this.timers = deps.timers ?? realTimers;
    this.logger = deps.logger ?? silentLogger;
    this.random = deps.random ?? Math.random;
    this.dnsLookup = deps.dnsLookup ?? defaultDnsLookup;
    this.zoneAware = deps.zoneAware ?? (() => null);
    this.cbs = [new ClusterCircuitBreakers(config.circuitBreakers[0]), new ClusterCircuitBreakers(config.circuitBreakers[1])];
    const shared = config.type !== 'ORIGINAL_DST' && (config.healthChecks.length > 0 || config.outlierDetection !== null);
    this.follower = shared ? deps.healthFollower ?? null : null;
    this.authority = shared ? deps.healthAuthority ?? null : null;
    this.outlier = config.outlierDetection
      ? new OutlierDetector(config.outlierDetection, { timers: this.timers, logger: this.logger, random: this.random, clusterName: this.name, onChange: () => this.onHealthChange(null, true) })
      : null;
    const hc = config.healthChecks[0];
    this.healthChecker = hc
      ? new HealthChecker(hc, {
          clusterName: this.name, timers: this.timers, logger: this.logger, random: this.random, tls: config.tls,
          hasTraffic: () => this.hadTraffic, onChange: (h, healthy) => this.onHealthChange(h, healthy), onSuccess: (h) => this.outlier?.onActiveHealthCheckSuccess(h),
          follower: this.follower !== null,
        })
      : null;
  }

  /** The current hosts, materialising endpoints applied lazily. */
  private get hostList(): UpstreamHost[] {
    if (this.pendingEndpoints) {
      const p = this.pendingEndpoints;
      this.pendingEndpoints = null;
      this.updateHosts(this.inits(p.e, p.at), false);
    }
    return this.hostListValue;
  }

  private set hostList(v: UpstreamHost[]) {
    this.hostListValue = v;
  }

  private get set(): PrioritySet {
    const h = this.hostList;
    return (this.setCache ??= this.makeSet(h));
  }

  private get lb(): LoadBalancer {
    const s = this.set;
    return (this.lbCache ??= this.makeLb(s));
  }

  /** Starts timers and the first resolution. STATIC/load_assignment and ORIGINAL_DST clusters are active at once. */
  start(): void {
    if (!this.follower) {
      this.outlier?.start();
      this.healthChecker?.start();
    }
    const c = this.config;
    if (c.type === 'STATIC') {
      this.setEndpoints(c.loadAssignment);
    } else if (c.type === 'ORIGINAL_DST') {
      this.markActive();
      this.scheduleOdCleanup();
    } else if (c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS') {
      void this.resolveDns();
    }
  }

  /** Resolves when the cluster has its first host set (EDS arrived, DNS resolved). */
  ready(): Promise<void> {
    if (this.state !== 'initializing') return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  close(): void {
    this.state = 'closed';
    this.outlier?.stop();
    this.healthChecker?.stop();
    if (this.dnsTimer !== null) this.timers.clearTimeout(this.dnsTimer);
    if (this.odTimer !== null) this.timers.clearTimeout(this.odTimer);
    this.dnsTimer = this.odTimer = null;
    this.markActive();
  }

  private markActive(): void {
    if (this.state === 'initializing') this.state = 'active';
    const w = this.readyWaiters;
    this.readyWaiters = [];
    for (const r of w) r();
  }

  /** Applies an EDS update (or the load_assignment): hosts with the same identity keep their state. */
  setEndpoints(e: EndpointsConfig | null): void {
    this.endpoints = e;
    const at = this.timers.now();
    if (this.healthChecker || this.outlier) {
      this.pendingEndpoints = null;
      this.updateHosts(this.inits(e, at));
    } else {
      // Hosts (and the priority set / balancer) are built on first use: most clusters of a big mesh config never
      // see a request from this proxy.
      this.pendingEndpoints = { e, at };
      this.stats.membershipChanges++;
      this.setCache = null;
      this.lbCache = null;
    }
    this.markActive();
  }

  private inits(e: EndpointsConfig | null, at: number): HostInit[] {
    const inits: HostInit[] = [];
    if (e) {
      for (const l of e.localities) for (const ep of l.endpoints) inits.push(this.hostInit(ep, l.priority, l.locality, undefined, at));
    }
    return inits;
  }

  private hostInit(ep: LbEndpointConfig, priority: number, locality: HostInit['locality'], resolved?: string, at?: number): HostInit {
    return {
      address: resolved ?? ep.address.address, port: ep.address.port, pipe: ep.address.pipe,
      hostname: ep.hostname || (resolved ? ep.address.address : ''), weight: ep.weight, priority, locality, metadata: ep.metadata,
      edsHealth: ep.healthStatus, healthCheckPort: ep.healthCheckPort, createdAt: at ?? this.timers.now(),
    };
  }

  private updateHosts(inits: readonly HostInit[], countChange = true): void {
    this.pendingEndpoints = null;
    const old = new Map(this.hostListValue.map((h) => [h.key, h]));
    const next: UpstreamHost[] = [];
    const seen = new Set<string>();
    for (const i of inits) {
      const k = hostKey(i.address, i.port, i.pipe);
      if (seen.has(k)) continue; // duplicates: first wins (as Envoy)
      seen.add(k);
      const prev = old.get(k);
      if (prev && prev.sameAs(i)) {
        prev.applyEdsHealth(i.edsHealth);
        prev.healthFlags.delete('pending_dynamic_removal');
        next.push(prev);
      } else {
        const h = new UpstreamHost(prev ? { ...i, createdAt: prev.createdAt } : i);
        if (prev) for (const f of prev.healthFlags) if (f === 'failed_outlier_check' || f === 'failed_active_hc') h.healthFlags.add(f);
        next.push(h);
      }
    }
    // Envoy: with active health checking, a host removed by discovery stays (pending_dynamic_removal) until it
    // fails its health check, unless ignore_health_on_host_removal.
    if (this.healthChecker && !this.config.ignoreHealthOnHostRemoval) {
      for (const h of this.hostListValue) {
        if (seen.has(h.key) || h.healthFlags.has('failed_active_hc')) continue;
        h.healthFlags.add('pending_dynamic_removal');
        next.push(h);
      }
    }
    this.hostList = next;
    if (countChange) this.stats.membershipChanges++;
    this.outlier?.setHosts(next);
    this.healthChecker?.setHosts(next);
    // Follower: hosts the primary already judged take its state now (new ones otherwise wait, pending, for it).
    if (this.follower) for (const h of next) this.applyHostState(h, this.follower.state(this.name, h.key));
    this.rebuild();
    this.authority?.changed(this);
  }

  private makeSet(hosts: readonly UpstreamHost[]): PrioritySet {
    const e = this.endpoints;
    const weights = new Map<string, number>();
    if (e) for (const l of e.localities) weights.set(`${l.priority}|${localityKey(l.locality)}`, l.weight);
    return new PrioritySet(hosts, {
      overprovisioningFactor: e?.overprovisioningFactor ?? 140,
      healthyPanicThreshold: this.config.commonLb.healthyPanicThreshold,
      weightedPriorityHealth: e?.weightedPriorityHealth ?? false,
      localityWeights: weights,
    });
  }

  private makeLb(set: PrioritySet): LoadBalancer {
    const za = this.config.commonLb.localityWeighted ? null : this.zoneAware();
    return new LoadBalancer(set, {
      zoneAware: za ? { ...za, routingEnabledPercent: this.config.commonLb.zoneAware.routingEnabledPercent, minClusterSize: this.config.commonLb.zoneAware.minClusterSize } : null,
      policy: this.config.lbPolicy,
      localityWeighted: this.config.commonLb.localityWeighted,
      slowStart: this.config.commonLb.slowStart,
      overprovisioningFactor: this.endpoints?.overprovisioningFactor ?? 140,
      random: this.random,
      now: () => this.timers.now(),
    });
  }

  private onHealthChange(h: UpstreamHost | null, healthy: boolean): void {
    if (h && !healthy && h.healthFlags.has('pending_dynamic_removal')) {
      this.hostList = this.hostList.filter((x) => x !== h);
      this.outlier?.setHosts(this.hostList);
      this.healthChecker?.setHosts(this.hostList);
    }
    this.rebuild();
    this.authority?.changed(this);
  }

  /** Follower: one host takes the published state through the same paths a local result takes. */
  private applyHostState(h: UpstreamHost, st: SharedHostHealth | undefined): void {
    if (!st) return;
    if (st.degradedActiveHc) h.healthFlags.add('degraded_active_hc');
    else h.healthFlags.delete('degraded_active_hc');
    h.successRate = st.successRate;
    h.localOriginSuccessRate = st.localOriginSuccessRate;
    this.outlier?.applyExternal(h, st.ejected);
    this.healthChecker?.applyExternal(h, st.failedActiveHc);
  }

  /**
   * Follower: the primary published new states for some hosts (null: the host left the primary's set). A host the
   * primary dropped while it was pending_dynamic_removal failed its check there, so it fails here and goes.
   */
  applySharedHealth(changed: ReadonlyMap<string, SharedHostHealth | null>): void {
    if (!this.follower) return;
    const byKey = new Map<string, UpstreamHost>();
    for (const h of this.hostList) byKey.set(h.key, h);
    for (const [key, st] of changed) {
      const h = byKey.get(key);
      if (!h) continue;
      if (st) this.applyHostState(h, st);
      else if (h.healthFlags.has('pending_dynamic_removal')) this.healthChecker?.applyExternal(h, true);
    }
    this.rebuild();
  }

  /**
   * Primary: outcomes a worker batched for one host, as [code, count, code, count, …] runs in the order the worker
   * saw them (see process/shared-health-follower.ts for what this does to consecutive counts across workers).
   */
  reportRemoteOutcomes(key: string, runs: readonly number[]): void {
    this.hadTraffic = true;
    const od = this.outlier;
    if (!od) return;
    const h = this.set.byKey.get(key);
    if (!h) return;
    for (let i = 0; i + 1 < runs.length; i += 2) {
      const code = runs[i];
      const o: HostOutcome | undefined = code >= 100 ? { kind: 'http', status: code } : LOCAL_OUTCOMES[code];
      if (!o) continue;
      for (let n = runs[i + 1]; n > 0; n--) od.report(h, o);
    }
  }

  /** Drops the immutable host set and balancer (after membership or health changes); rebuilt on next use. */
  rebuild(): void {
    this.setCache = null;
    this.lbCache = null;
  }

  get prioritySet(): PrioritySet {
    return this.set;
  }

  chooseHost(ctx: LbContext): UpstreamHost | null {
    this.hadTraffic = true;
    if (this.config.type === 'ORIGINAL_DST') return this.originalDstHost(ctx);
    const h = this.lb.chooseHost(ctx);
    if (!h) this.stats.noHealthyHost++;
    return h;
  }

  hosts(): readonly UpstreamHost[] {
    return this.hostList;
  }

  breakers(priority: number): CircuitBreakers {
    return this.cbs[priority > 0 ? 1 : 0];
  }

  /** The concrete breakers (for /clusters and stats). */
  breakerObjects(): readonly [ClusterCircuitBreakers, ClusterCircuitBreakers] {
    return this.cbs;
  }

  reportOutcome(host: Host, outcome: HostOutcome): void {
    const h = host as UpstreamHost;
    if (outcome.kind === 'reset_after_response') {
      // The request was counted (rq_total, rq_success) when its headers were reported; as in Envoy, only the outlier
      // detector hears about the reset.
      if (this.follower) this.follower.report(this.name, h.key, outcome);
      else this.outlier?.report(h, outcome);
      return;
    }
    const s = h.stats;
    this.stats.upstreamRqTotal++;
    if (s) {
      s.rqTotal++;
      const failed = outcome.kind === 'http' ? outcome.status >= 500 : outcome.kind !== 'success_local';
      if (outcome.kind === 'timeout') s.rqTimeout++;
      if (failed) {
        s.rqError++;
        this.stats.upstreamRqError++;
      } else if (outcome.kind === 'http') s.rqSuccess++;
      else s.rqTotal--; // a connect success is not a request
    }
    if (this.odLastUsed.has(h)) this.odLastUsed.set(h, this.timers.now());
    if (this.follower) this.follower.report(this.name, h.key, outcome);
    else this.outlier?.report(h, outcome);
  }

  shouldDrop(): boolean {
    const d = this.endpoints?.dropOverloads[0];
    if (!d || d.ppm <= 0) return false;
    if (this.random() * 1_000_000 < d.ppm) {
      this.stats.dropOverload++;
      return true;
    }
    return false;
  }

  // ---- ORIGINAL_DST ----------------------------------------------------------------------------------------

  private originalDstHost(ctx: LbContext): UpstreamHost | null {
    const dst = ctx.originalDestination;
    if (!dst) {
      this.stats.noHealthyHost++;
      return null;
    }
    const existing = this.set.byKey.get(dst);
    if (existing) {
      this.odLastUsed.set(existing, this.timers.now());
      return existing;
    }
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(dst);
    if (!m) {
      this.stats.noHealthyHost++;
      return null;
    }
    const h = new UpstreamHost({ address: m[1], port: Number(m[2]), hostname: '', weight: 1, priority: 0, locality: {}, metadata: {}, edsHealth: 'UNKNOWN', createdAt: this.timers.now() });
    this.hostList = [...this.hostList, h];
    this.odLastUsed.set(h, this.timers.now());
    this.outlier?.setHosts(this.hostList);
    this.rebuild();
    return h;
  }

  private scheduleOdCleanup(): void {
    const interval = this.config.originalDst?.cleanupIntervalMs ?? 5000;
    this.odTimer = this.timers.setTimeout(() => {
      const now = this.timers.now();
      const keep = this.hostList.filter((h) => h.activeRequests > 0 || now - (this.odLastUsed.get(h) ?? 0) < interval);
      if (keep.length !== this.hostList.length) {
        for (const h of this.hostList) if (!keep.includes(h)) this.odLastUsed.delete(h);
        this.hostList = keep;
        this.outlier?.setHosts(keep);
        this.rebuild();
      }
      if (this.state !== 'closed') this.scheduleOdCleanup();
    }, interval);
  }

  // ---- DNS -------------------------------------------------------------------------------------------------

  private async resolveDns(): Promise<void> {
    const c = this.config;
    const la = c.loadAssignment;
    if (!la) return;
    const family = c.dnsLookupFamily === 'V4_ONLY' ? 4 : c.dnsLookupFamily === 'V6_ONLY' ? 6 : 0;
    const inits: HostInit[] = [];
    let failed = false;
    for (const l of la.localities) {
      for (const ep of l.endpoints) {
        if (ep.address.pipe) {
          inits.push(this.hostInit(ep, l.priority, l.locality));
          continue;
        }
        try {
          let addrs = await this.dnsLookup(ep.address.address, family);
          if (c.dnsLookupFamily === 'V4_PREFERRED' && addrs.some((a) => a.family === 4)) addrs = addrs.filter((a) => a.family === 4);
          if (c.type === 'LOGICAL_DNS') addrs = addrs.slice(0, 1);
          for (const a of addrs) inits.push(this.hostInit(ep, l.priority, l.locality, a.address));
        } catch (e) {
          failed = true;
          this.logger.warn({ cluster: this.name, host: ep.address.address, err: (e as Error).message }, 'DNS resolution failed');
        }
      }
    }
    if (this.state === 'closed') return;
    // On failure keep the last good hosts (Envoy keeps them until a resolution succeeds).
    if (!failed || this.hostList.length === 0) {
      this.endpoints = la;
      const changed = inits.length !== this.hostList.length || inits.some((i, idx) => this.hostList[idx]?.key !== hostKey(i.address, i.port, i.pipe));
      if (changed || this.state === 'initializing') this.updateHosts(inits);
    }
    this.markActive();
    this.dnsTimer = this.timers.setTimeout(() => void this.resolveDns(), c.dnsRefreshRateMs);
  }
}
