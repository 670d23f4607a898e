// The composition root: the only place that constructs and wires the subsystems. Bootstrap → config store (static
// resources, then ADS and/or filesystem subscriptions) → on every published snapshot: clusters first, then route
// tables, then listeners → admin server reads the views. Lifecycle: PRE_INITIALIZING → INITIALIZING → LIVE →
// DRAINING (SIGTERM / drain_listeners) → exit.
// Process model: one process by default. With --concurrency N > 1 this process is the primary (config store, xDS,
// admin, status port, lifecycle; no traffic) and N node:cluster workers each run a data plane (see src/process/).
import * as grpc from '@grpc/grpc-js';
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunOptions } from './cli/run-options.js';
import type { BootstrapConfig, XdsServerConfig } from './bootstrap/bootstrap-config.js';
import { EMPTY_SNAPSHOT, type ConfigSnapshot } from './config/snapshot.js';
import type { ListenerConfig } from './config/listener.js';
import { ConfigStore } from './xds/config-store.js';
import { XdsHistory } from './xds/xds-history.js';
import { startXds, type XdsSources } from './xds/start-xds.js';
import { TypeUrl, type ResourceType, type XdsTypeUrl } from './xds/resource-type.js';
import type { AdsClientOptions } from './xds/ads-client.js';
import { grpcChannelCredentials } from './xds/grpc-credentials.js';
import { listenerResourceType } from './xds/resource-types/listener.js';
import { routeConfigurationResourceType } from './xds/resource-types/route-configuration.js';
import { clusterResourceType } from './xds/resource-types/cluster.js';
import { clusterLoadAssignmentResourceType } from './xds/resource-types/cluster-load-assignment.js';
import { ClusterManager } from './upstream/cluster-manager.js';
import { PoolManager } from './upstream/pools/pool-manager.js';
import { CompiledRoutes } from './router/compiled-routes.js';
import { initHashing, computeHash } from './router/hash-policy.js';
import { ListenerManager } from './listener/listener-manager.js';
import { TracerRegistry } from './http/tracer-registry.js';
import { AdminServer } from './admin/admin-server.js';
import { ServerLifecycle } from './admin/server-lifecycle.js';
import type { AdminDeps, DrainOptions, ListenerInfo, MetricsView } from './admin/admin-deps.js';
import { StatusServer, statusPortFrom } from './admin/status-server.js';
import { Metrics, createCoreMetrics, SERVER_STATE_VALUE } from './observability/metrics.js';
import { explainRequest } from './admin/explain.js';
import { mergeClustersJson, mergeClustersText } from './admin/clusters-merge.js';
import { DataPathObserver } from './observability/access-log/data-path-observer.js';
import type { DataPlane } from './process/worker-runtime.js';
import { WorkerRuntime } from './process/worker-runtime.js';
import { WorkerPool } from './process/worker-pool.js';
import { SnapshotEncoder, type Retranslate, type SnapshotKind } from './process/snapshot-wire.js';
import type { FromWorker, WorkerStatus } from './process/worker-messages.js';
import { aggregatePrometheus } from './process/metrics-aggregate.js';
import { WORKER_FLAGS_ENV } from './process/worker-flags.js';
import { SharedHealthAuthority } from './process/shared-health-authority.js';
import { SharedHealthFollower } from './process/shared-health-follower.js';
import type { HealthFollowerLink } from './upstream/upstream-cluster.js';
import { refuseInsecureHttpParser } from './http/strict-http-parser.js';
import { HotRestartSession } from './process/hot-restart-session.js';
import type { InheritedSockets } from './listener/inherited-sockets.js';

const TYPE_PREFIX = 'type.googleapis.com/';

/** A running proxy: what tests and `main` hold on to. */
export interface Proxy {
  readonly store: ConfigStore;
  /** The data plane's managers; null in the primary of --concurrency N (the workers hold theirs). */
  readonly listeners: ListenerManager | null;
  readonly clusters: ClusterManager | null;
  readonly lifecycle: ServerLifecycle;
  readonly metrics: Metrics;
  /** Admin address actually bound (port resolved when 0 was asked for). */
  adminPort(): number | undefined;
  /** The Istio readiness port meshlet serves itself (undefined when not configured or a static listener owns it). */
  statusPort(): number | undefined;
  listenerPort(name: string): number | undefined;
  /** Graceful drain then close; resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
}

function adsOptions(boot: BootstrapConfig, server: XdsServerConfig): AdsClientOptions {
  const { credentials, options } = grpcChannelCredentials(server.credentials, server.callCredentials);
  const channelOptions: grpc.ChannelOptions = { ...options, ...server.channelArgs };
  // Notice a dead management-server connection (Envoy docs recommend keepalive on the xDS cluster).
  if (channelOptions['grpc.keepalive_time_ms'] === undefined) channelOptions['grpc.keepalive_time_ms'] = (server.tcpKeepaliveTimeS ?? 30) * 1000;
  if (channelOptions['grpc.keepalive_timeout_ms'] === undefined) channelOptions['grpc.keepalive_timeout_ms'] = 20_000;
  if (channelOptions['grpc.keepalive_permit_without_calls'] === undefined) channelOptions['grpc.keepalive_permit_without_calls'] = 1;
  const metadata: Record<string, string> = {};
  for (const m of server.initialMetadata) metadata[m.key] = m.value;
  const lds = boot.dynamicResources.lds;
  const cds = boot.dynamicResources.cds;
  return {
    target: server.target,
    credentials,
    apiType: boot.dynamicResources.ads!.apiType,
    node: boot.node,
    setNodeOnFirstMessageOnly: boot.dynamicResources.ads!.setNodeOnFirstMessageOnly,
    channelOptions,
    listeners: lds?.kind === 'ads',
    clusters: cds?.kind === 'ads',
    initialFetchTimeoutMs: Math.min(lds?.initialFetchTimeoutMs ?? 15_000, cds?.initialFetchTimeoutMs ?? 15_000),
    metadata,
  };
}

function withType(typeUrl: string, resources: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return resources.map((r) => ({ '@type': typeUrl, ...r }));
}

const KIND_TYPE: Record<SnapshotKind, XdsTypeUrl> = {
  clusters: TypeUrl.Cluster,
  endpoints: TypeUrl.ClusterLoadAssignment,
  routes: TypeUrl.RouteConfiguration,
  listeners: TypeUrl.Listener,
};

function resourceRegistry(): Map<XdsTypeUrl, ResourceType<any>> {
  return new Map<XdsTypeUrl, ResourceType<any>>([
    [TypeUrl.Listener, listenerResourceType],
    [TypeUrl.RouteConfiguration, routeConfigurationResourceType],
    [TypeUrl.Cluster, clusterResourceType],
    [TypeUrl.ClusterLoadAssignment, clusterLoadAssignmentResourceType],
  ]);
}

/** The traffic half: clusters, pools, route tables, listeners and the observers bound to them. */
interface BuiltDataPlane extends DataPlane {
  readonly listenerManager: ListenerManager;
  readonly clusterManager: ClusterManager;
  /** `strategy` 'flag': the --drain-strategy (gradual|immediate); default immediate. */
  drain(which: 'all' | 'inbound', timeoutMs: number, strategy?: 'immediate' | 'flag'): Promise<void>;
}

function buildDataPlane(o: RunOptions, metrics: Metrics, inherited?: InheritedSockets, healthFollower?: HealthFollowerLink): BuiltDataPlane {
  const boot = o.bootstrap;
  const log = o.logger;
  // A --concurrency worker's clusters follow the primary's health checks and outlier detection (shared-health-*.ts).
  const clusters = new ClusterManager({ node: boot.node, logger: o.logs.child('upstream'), ...(healthFollower ? { healthFollower } : {}) });
  const pools = new PoolManager();
  const routes = new CompiledRoutes();
  const httpLog = o.logs.child('http');
  // Observability (issue 7): access logs and request stats from every finished stream, bound per applied config.
  const observer = new DataPathObserver({
    metrics, nodeMetadata: boot.node.metadata, statsConfig: boot.statsConfig, clusters,
    onError: (error) => httpLog.error({ error }, 'access log / stats config'),
  });
  const tracers = new TracerRegistry({ clusters, node: boot.node });
  const listeners = new ListenerManager(
    {
      routes,
      clusters,
      pools,
      hashKey: computeHash,
      onStreamEnd: observer.onStreamEnd,
      onTcpSessionEnd: (session) => observer.onTcpSessionEnd(session),
      node: boot.node,
      tracers,
      onConnectionRejected: (listener, reason) => httpLog.debug({ listener, reason }, 'connection rejected'),
    },
    { drainTimeMs: (o.flags.drainTimeS ?? 30) * 1000, drainStrategy: o.flags.drainStrategy ?? 'gradual', ...(inherited ? { inherited } : {}) },
  );
  let knownClusters = new Set<string>();
  let poolsSyncedFor: ConfigSnapshot = EMPTY_SNAPSHOT;
  let current: ConfigSnapshot = EMPTY_SNAPSHOT;
  const listenerInfo = (): ListenerInfo[] => listeners.status().map((s) => {
    const l = listeners.get(s.name);
    return { name: s.name, address: s.address, port: s.boundPort, ...(l ? { direction: l.config.trafficDirection } : {}) };
  });
  return {
    listenerManager: listeners,
    clusterManager: clusters,
    // Snapshot application: clusters first, then route tables, then listeners (Envoy's make-before-break order).
    async apply(snap) {
      current = snap;
      await clusters.applyAsync(snap);
      // A route- or listener-only push shares the cluster and endpoint maps: no pass over every cluster's pools.
      if (snap.clusters !== poolsSyncedFor.clusters || snap.endpoints !== poolsSyncedFor.endpoints) {
        const now = new Set(snap.clusters.keys());
        for (const name of knownClusters) if (!now.has(name)) await pools.removeCluster(name);
        for (const name of now) {
          const c = clusters.get(name);
          if (c) pools.syncHosts(c);
        }
        knownClusters = now;
        poolsSyncedFor = snap;
      }
      await routes.updateAsync(snap.routes); // compiled aside in ≤ 8 ms slices, swapped in at once
      const want = new Map<string, ListenerConfig>();
      for (const [name, e] of snap.listeners) want.set(name, e.value);
      const results = await listeners.apply(want);
      await observer.applyAsync(want.values(), knownClusters); // 10k clusters' series bound in ≤ 8 ms slices
      for (const r of results) if (!r.ok) log.error({ listener: r.name, error: r.error }, 'listener could not be applied');
    },
    listeners: () => listeners.status().map((s) => ({ name: s.name, address: s.address, port: s.boundPort, state: s.state, connections: s.connections })),
    activeConnections: () => listeners.activeConnections(),
    acceptedConnections: () => listeners.status().reduce((n, s) => n + (s.state === 'active' ? listeners.get(s.name)?.totalConnections ?? 0 : 0), 0),
    drain(which, timeoutMs, strategy = 'immediate') {
      if (which === 'all') return listeners.drainAll(timeoutMs, strategy);
      // Istio / Envoy drain_listeners?inboundonly: only listeners marked INBOUND stop taking connections; OUTBOUND
      // and unspecified ones keep working so the app can finish its own calls.
      return listeners.drain((c: ListenerConfig) => c.trafficDirection === 'INBOUND', timeoutMs, strategy);
    },
    async close() {
      await listeners.close().catch(() => undefined);
      await pools.close().catch(() => undefined);
      clusters.close();
      await observer.close().catch(() => undefined);
      await tracers.shutdown().catch(() => undefined);
    },
    metricsJson: () => metrics.registry.getMetricsAsJSON(),
    clustersText: () => clusters.clustersText(),
    clustersJson: () => clusters.clustersJson(),
    explain: (q) => explainRequest(q, { snapshot: current, routes, clusters, listeners: listenerInfo() }),
  };
}

/** A --concurrency worker: a data plane fed by the primary over IPC; no xDS, no admin, no signal handling. */
async function startWorker(o: RunOptions): Promise<void> {
  await initHashing();
  const metrics = new Metrics();
  const send = process.send!.bind(process) as (m: unknown) => boolean;
  // Health checks and outlier detection run once, in the primary: outcomes go there, host states come back.
  const health = new SharedHealthFollower({ send: (batch) => void send({ t: 'outcomes', batch } satisfies FromWorker) });
  const dp = buildDataPlane(o, metrics, undefined, health);
  const registry = resourceRegistry();
  const ctx = { node: o.bootstrap.node };
  const translate: Retranslate = (kind, raw) => {
    const r = registry.get(KIND_TYPE[kind])!.translate(raw, ctx);
    return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  };
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches the whole process group.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  const runtime = new WorkerRuntime({
    dataPlane: dp,
    translate,
    channel: process as unknown as ConstructorParameters<typeof WorkerRuntime>[0]['channel'],
    logger: o.logger,
    onHealth: (u) => health.apply(u, (name) => dp.clusterManager.get(name)),
    exit: (code) => {
      health.close();
      o.logs.flush();
      process.exit(code);
    },
  });
  runtime.start();
}

export async function startProxy(o: RunOptions): Promise<Proxy | void> {
  refuseInsecureHttpParser();
  if (cluster.isWorker) return startWorker(o);
  const boot = o.bootstrap;
  const log = o.logger;
  await initHashing();
  const workerCount = (o.flags.concurrency ?? 1) > 1 ? o.flags.concurrency : 0;
  // Hot restart (Envoy --restart-epoch): an epoch > 0 takes its parent's listen sockets before anything binds, or fails.
  const f = o.flags;
  const hot = HotRestartSession.open({
    restartEpoch: f.restartEpoch ?? 0, baseId: f.baseId ?? 0, concurrency: f.concurrency ?? 1, disableHotRestart: f.disableHotRestart ?? false,
    parentShutdownTimeS: f.parentShutdownTimeS ?? 900, logger: o.logs.child('main'),
  });

  const metrics = new Metrics();
  const core = createCoreMetrics(metrics, { startTime: o.startTime, concurrency: Math.max(1, o.flags.concurrency ?? 1) });
  const lifecycle = new ServerLifecycle((state) => {
    core.serverState.set(SERVER_STATE_VALUE[state]);
    core.serverLive.set(state === 'DRAINING' ? 0 : 1);
    log.info({ state }, 'server state');
    if (state === 'LIVE') hot.live();
  });
  metrics.gauge({ stat: 'server.hot_restart_epoch', help: 'Current hot restart epoch (--restart-epoch)' }).set(hot.epoch);
  metrics.gauge({ stat: 'server.hot_restart_generation', help: 'Current hot restart generation (epoch + 1)' }).set(hot.epoch + 1);
  lifecycle.startInitializing();

  const registry = resourceRegistry();
  const history = new XdsHistory();
  const xdsLog = o.logs.child('xds');
  const lds = boot.dynamicResources.lds;
  const cds = boot.dynamicResources.cds;
  const warmingTimeoutMs = Math.max(lds?.initialFetchTimeoutMs ?? 15_000, cds?.initialFetchTimeoutMs ?? 15_000);
  const store = new ConfigStore({ registry, ctx: { node: boot.node }, warmingTimeoutMs, history, logger: xdsLog });

  // The data plane lives here (one process) or in the workers (primary: this process serves no traffic).
  const dp = workerCount ? null : buildDataPlane(o, metrics, hot.inherited);
  let pool: WorkerPool | null = null;
  let health: SharedHealthAuthority | null = null;
  let dataReady: () => boolean = () => true;
  let applying: Promise<void> = Promise.resolve();
  if (dp) {
    // Snapshots published while one is still being applied collapse to the newest (it contains every change).
    let latest: ConfigSnapshot | null = null;
    store.subscribe((snap) => {
      const queued = latest !== null;
      latest = snap;
      if (queued) return;
      applying = applying.then(async () => {
        const next = latest!;
        latest = null;
        await dp.apply(next);
        core.workersStarted.set(1);
        updateReadiness();
      }).catch((e: unknown) => log.error({ err: e }, 'applying config failed'));
    });
  } else {
    const encoder = new SnapshotEncoder();
    // Active health checks and outlier detection for the whole process group (Envoy's main thread does this).
    const authority = new SharedHealthAuthority({ node: boot.node, logger: o.logs.child('upstream'), publish: (u) => pool?.publishHealth(u) });
    health = authority;
    pool = new WorkerPool({
      count: workerCount,
      exec: fileURLToPath(new URL('./process/worker-main.js', import.meta.url)),
      args: [],
      env: { [WORKER_FLAGS_ENV]: JSON.stringify(o.flags) },
      logger: o.logs.child('main'),
      onChange: () => updateReadiness(),
      healthState: () => authority.full(),
      onOutcomes: (batch) => authority.onOutcomes(batch),
    });
    const p = pool;
    // Workers apply whole generations; LIVE waits until every worker has applied the current one.
    dataReady = () => p.allApplied(store.current().generation);
    store.subscribe((snap) => {
      p.publish(encoder.encode(snap));
      void authority.apply(snap);
    });
  }

  const updateReadiness = (): void => {
    if (!dataReady()) return;
    if (pool) core.workersStarted.set(1);
    const r = store.readiness();
    const cdsDone = cds === null || r.cdsApplied || r.cdsInitTimedOut;
    const ldsDone = lds === null || r.ldsApplied || r.ldsInitTimedOut;
    if (cdsDone && r.warmingClusters.length === 0) lifecycle.cdsApplied();
    else if (store.rejected(TypeUrl.Cluster)) lifecycle.cdsRejected();
    if (ldsDone && r.warmingListeners.length === 0) lifecycle.ldsApplied();
    else if (store.rejected(TypeUrl.Listener)) lifecycle.ldsRejected();
  };

  // Static resources go through the same translators as xDS ones.
  const staticClusters = store.addStatic(TypeUrl.Cluster, withType(TYPE_PREFIX + 'envoy.config.cluster.v3.Cluster', boot.staticResources.clusters));
  if (!staticClusters.accepted) throw new Error(`static_resources.clusters: ${staticClusters.message}`);
  const staticListeners = store.addStatic(TypeUrl.Listener, withType(TYPE_PREFIX + 'envoy.config.listener.v3.Listener', boot.staticResources.listeners));
  if (!staticListeners.accepted) throw new Error(`static_resources.listeners: ${staticListeners.message}`);
  pool?.start();

  let sources: XdsSources | null = null;
  const adsServer = boot.dynamicResources.ads?.servers[0];
  const needsAds = lds?.kind === 'ads' || cds?.kind === 'ads';
  sources = startXds({
    store,
    ads: needsAds && adsServer ? adsOptions(boot, adsServer) : undefined,
    ldsPath: lds?.kind === 'path' ? lds.path : undefined,
    cdsPath: cds?.kind === 'path' ? cds.path : undefined,
    logger: xdsLog,
  });
  if (sources.ads) {
    sources.ads.onStateChange((s) => {
      core.controlPlaneConnectedState.set(s === 'connected' ? 1 : 0);
      xdsLog.info({ state: s }, 'ADS stream');
    });
  } else {
    core.controlPlaneConnectedState.set(0);
  }
  // The store counts per-type updates; mirror them into the Envoy-named counters (deltas, counters only grow).
  const seen = new Map<string, number>();
  const mirror = (key: string, value: number, c: { inc(n?: number): void }): void => {
    const prev = seen.get(key) ?? 0;
    if (value > prev) c.inc(value - prev);
    seen.set(key, value);
  };
  const statsTimer = setInterval(() => {
    for (const [t, m] of [[TypeUrl.Cluster, core.cds], [TypeUrl.Listener, core.lds]] as const) {
      const s = store.stats(t);
      mirror(`${t}a`, s.update_attempt, m.attempt);
      mirror(`${t}s`, s.update_success, m.success);
      mirror(`${t}r`, s.update_rejected, m.rejected);
      mirror(`${t}f`, s.update_failure, m.failure);
      m.updateTime.set(s.update_time);
    }
    updateReadiness();
  }, 250);
  statsTimer.unref();
  await applying;
  updateReadiness();

  // Open downstream connections over every listener (all workers' when there are workers).
  const activeConnections = async (): Promise<number> => {
    if (dp) return dp.activeConnections();
    return (await pool!.status()).reduce((n, s) => n + s.connections, 0);
  };
  // SIGTERM is Istio's termination drain, which pilot-agent runs on an Envoy started with --drain-strategy immediate:
  // always immediate. --drain-strategy ('flag') applies to POST /drain_listeners?graceful and LDS listener drains.
  // Workers get the same choice in their drain message (they parsed the same flags).
  const drainData = (which: 'all' | 'inbound', timeoutMs: number, strategy: 'immediate' | 'flag' = 'immediate'): Promise<unknown> => {
    if (dp) return dp.drain(which, timeoutMs, strategy);
    return pool!.askAll({ q: 'drain', inboundOnly: which === 'inbound', timeoutMs, strategy }, timeoutMs + 5000);
  };

  let admin: AdminServer | null = null;
  let status: StatusServer | null = null;
  let adminBound: { port: number } | null = null;
  let closing: Promise<void> | null = null;
  const drainTimeMs = (o.flags.drainTimeS ?? 600) * 1000;
  // One deadline for SIGTERM (Istio #34855): the earlier of --drain-time-s and --termination-deadline-s, so a pod's
  // grace period is not outlived by Envoy's 600 s default drain.
  const terminationMs = Math.min(drainTimeMs, (o.flags.terminationDeadlineS ?? 25) * 1000);
  /**
   * Istio's shutdown contract: not-ready at once, INBOUND listeners drain (HTTP/1.1 Connection: close, HTTP/2
   * GOAWAY) while every other listener keeps working; exit once no downstream connection is open (after a minimum drain of
   * 1 s, EXIT_ON_ZERO_ACTIVE_CONNECTIONS) or at --drain-time-s, whichever comes first.
   */
  const shutdown = (reason: string, minDrainMs = 1000, hotRestartDrainMs?: number): Promise<void> => {
    if (closing) return closing;
    // Hot restart: the child holds every listen socket, so every listener drains (not only INBOUND), by the child's deadline.
    const drainTimeMs = hotRestartDrainMs ?? terminationMs;
    log.info({ reason, drainTimeMs }, `shutting down: draining ${hotRestartDrainMs === undefined ? 'inbound' : 'all'} listeners`);
    lifecycle.startDraining();
    closing = (async () => {
      const t0 = Date.now();
      // Only listeners marked INBOUND drain (Istio's drain_listeners?inboundonly): OUTBOUND ones and those without a
      // direction keep serving so the app can finish its own calls; they close when the process exits.
      void drainData(hotRestartDrainMs === undefined ? 'inbound' : 'all', drainTimeMs).catch(() => undefined);
      await sleep(Math.min(minDrainMs, drainTimeMs));
      while (Date.now() - t0 < drainTimeMs) {
        const n = await activeConnections().catch(() => 0);
        if (n === 0) break;
        await sleep(Math.min(200, Math.max(1, drainTimeMs - (Date.now() - t0))));
      }
      log.info({ reason, drainedMs: Date.now() - t0 }, 'drain finished; closing');
      clearInterval(statsTimer);
      hot.close();
      sources?.close();
      if (dp) {
        await dp.drain('all', 0).catch(() => undefined);
        await dp.close();
      }
      await pool?.close(1000).catch(() => undefined);
      health?.close();
      store.close();
      await status?.close().catch(() => undefined);
      await admin?.close().catch(() => undefined);
      o.logs.flush();
    })();
    return closing;
  };

  const listenerInfo = async (): Promise<ListenerInfo[]> => {
    if (dp) {
      return dp.listeners().map((s) => {
        const l = dp.listenerManager.get(s.name);
        return { name: s.name, address: s.address, port: s.port, ...(l ? { direction: l.config.trafficDirection } : {}) };
      });
    }
    const first = (await pool!.status())[0] as WorkerStatus | undefined;
    return (first?.listeners ?? []).map((s) => ({ name: s.name, address: s.address, port: s.port }));
  };

  const metricsView: MetricsView = dp ? metrics : {
    prometheusContentType: metrics.prometheusContentType,
    prometheusText: async () => aggregatePrometheus([await metrics.registry.getMetricsAsJSON(), ...(await pool!.askAll({ q: 'metrics' }))]),
    stats: (q) => metrics.stats(q),
    statsText: (q) => metrics.statsText(q),
  };

  const deps: AdminDeps = {
    snapshot: () => store.current(),
    configDumpExtras: () => ({
      warmingClusters: store.warmingResources(TypeUrl.Cluster),
      warmingListeners: store.warmingResources(TypeUrl.Listener),
      rejectedListeners: store.rejectedResources(TypeUrl.Listener),
      rejectedClusters: store.rejectedResources(TypeUrl.Cluster),
    }),
    bootstrap: () => ({ raw: boot.raw, loadedAt: o.startTime }),
    serverState: () => lifecycle.state,
    readinessDetail: () => lifecycle.readinessDetail(),
    node: () => boot.node,
    commandLineOptions: () => o.commandLineOptions,
    startTime: () => o.startTime,
    firstStartTime: () => hot.firstStartTime(o.startTime),
    hotRestartVersion: () => hot.version,
    listeners: listenerInfo,
    // Every worker counts its own traffic: /clusters sums their per-host counters (clusters-merge.ts).
    clustersText: () => (dp ? dp.clustersText() : pool!.askAll({ q: 'clusters', format: 'text' }).then((a) => mergeClustersText(a as string[]))),
    clustersJson: () => (dp ? dp.clustersJson() : pool!.askAll({ q: 'clusters', format: 'json' }).then(mergeClustersJson)),
    xdsHistory: () => history.toJSON(),
    explain: (q) => (dp ? dp.explain(q) : pool!.askOne({ q: 'explain', query: q.toString() })),
    workers: async () => {
      if (!pool) return { concurrency: 1, workers: [] };
      const info = pool.info();
      const st = await pool.askEach({ q: 'status' }, 2000) as (WorkerStatus | undefined)[];
      return { concurrency: workerCount, workers: info.map((w, i) => ({ ...w, connections: st[i]?.connections, accepted: st[i]?.accepted })) };
    },
    metrics: metricsView,
    logging: o.logs,
    quit: () => {
      void shutdown('quitquitquit', 0).then(() => process.exit(0));
    },
    drainListeners: (opts: DrainOptions) => {
      lifecycle.startDraining();
      const which = opts.inboundOnly ? 'inbound' : 'all';
      // Graceful: connections finish within the drain time; otherwise the listeners stop and their connections close.
      const done = drainData(which, opts.graceful ? drainTimeMs : 0, 'flag').catch(() => undefined);
      log.info({ inboundOnly: opts.inboundOnly, graceful: opts.graceful }, 'drain_listeners');
      // Answer once the listening sockets are closed (new connections refused), not when the drain ends.
      return opts.graceful ? sleep(50) : done.then(() => undefined);
    },
    healthcheckFail: () => lifecycle.healthcheckFail(),
    healthcheckOk: () => lifecycle.healthcheckOk(),
  };
  if (boot.admin) {
    admin = new AdminServer(deps);
    const bound = await admin.listen(boot.admin);
    adminBound = bound;
    // Envoy --admin-address-path: the bound admin address (port resolved when 0 was asked) for tools and tests.
    if (o.flags.adminAddressPath) {
      const text = bound.path ?? (bound.address.includes(':') ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`);
      try {
        writeFileSync(o.flags.adminAddressPath, text);
      } catch (e) {
        log.error({ err: e, path: o.flags.adminAddressPath }, 'cannot write the admin address file');
      }
    }
  }

  // Istio's readiness port (:15021/healthz/ready), unless a static listener already serves that port (Istio's
  // bootstrap routes it to pilot-agent on 15020): then the static listener wins.
  const statusPort = statusPortFrom(o.flags.statusPort, boot.node.metadata);
  if (statusPort !== null) {
    const clash = boot.staticResources.listeners.find((l) => {
      const sa = (l.address as { socket_address?: { port_value?: number } } | undefined)?.socket_address;
      return sa?.port_value === statusPort;
    });
    if (clash) {
      log.info({ port: statusPort, listener: clash.name }, 'status port is served by a static listener; meshlet does not serve /healthz/ready itself');
    } else {
      status = new StatusServer({ serverState: () => lifecycle.state, readinessDetail: () => lifecycle.readinessDetail() });
      try {
        await status.listen(statusPort, '0.0.0.0');
      } catch (e) {
        log.error({ err: e, port: statusPort }, 'cannot listen on the status port');
        status = null;
      }
    }
  }

  // Serve epoch E+1: hand over the listen sockets, and drain then exit once it is LIVE (Envoy hot restart).
  await hot.serve({
    startTime: hot.firstStartTime(o.startTime),
    listenSockets: () => dp?.listenerManager.listenSockets() ?? [],
    shutdownAdmin: async () => {
      await status?.close().catch(() => undefined);
      await admin?.close().catch(() => undefined);
    },
    drainAndExit: (deadlineMs) => {
      void shutdown('hot restart', 1000, Math.min(drainTimeMs, deadlineMs)).then(() => process.exit(0));
    },
  });

  const onSignal = (sig: string): void => {
    void shutdown(sig).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  return {
    store,
    listeners: dp?.listenerManager ?? null,
    clusters: dp?.clusterManager ?? null,
    lifecycle,
    metrics,
    adminPort: () => adminBound?.port,
    statusPort: () => status?.port(),
    listenerPort: (name) => dp?.listenerManager.boundPort(name),
    shutdown,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
