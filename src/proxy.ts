// The composition root: the only place that constructs and wires the subsystems. Bootstrap → config store (static
// resources, then ADS and/or filesystem subscriptions) → on every published snapshot: clusters first, then route
// tables, then listeners → admin server reads the views. Lifecycle: PRE_INITIALIZING → INITIALIZING → LIVE →
// DRAINING (SIGTERM / drain_listeners) → exit.
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import type { RunOptions } from './cli/run-options.js';
import type { BootstrapConfig, XdsServerConfig } from './bootstrap/bootstrap-config.js';
import type { ConfigSnapshot } from './config/snapshot.js';
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
import { initHashing, hashKeyFromPolicies } from './router/hash-policy.js';
import { ListenerManager } from './listener/listener-manager.js';
import { TracerRegistry } from './http/tracer-registry.js';
import { AdminServer } from './admin/admin-server.js';
import { ServerLifecycle } from './admin/server-lifecycle.js';
import type { AdminDeps, DrainOptions, ListenerInfo } from './admin/admin-deps.js';
import { Metrics, createCoreMetrics, SERVER_STATE_VALUE } from './observability/metrics.js';
import { explainRequest } from './admin/explain.js';
import { DataPathObserver } from './observability/access-log/data-path-observer.js';
import { refuseInsecureHttpParser } from './http/strict-http-parser.js';

const TYPE_PREFIX = 'type.googleapis.com/';

/** A running proxy: what tests and `main` hold on to. */
export interface Proxy {
  readonly store: ConfigStore;
  readonly listeners: ListenerManager;
  readonly clusters: ClusterManager;
  readonly lifecycle: ServerLifecycle;
  readonly metrics: Metrics;
  /** Admin address actually bound (port resolved when 0 was asked for). */
  adminPort(): number | undefined;
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

export async function startProxy(o: RunOptions): Promise<Proxy> {
  refuseInsecureHttpParser();
  const boot = o.bootstrap;
  const log = o.logger;
  await initHashing();

  const metrics = new Metrics();
  const core = createCoreMetrics(metrics, { startTime: o.startTime, concurrency: o.flags.concurrency ?? 1 });
  const lifecycle = new ServerLifecycle((state) => {
    core.serverState.set(SERVER_STATE_VALUE[state]);
    core.serverLive.set(state === 'DRAINING' ? 0 : 1);
    log.info({ state }, 'server state');
  });
  lifecycle.startInitializing();

  const registry = new Map<XdsTypeUrl, ResourceType<any>>([
    [TypeUrl.Listener, listenerResourceType],
    [TypeUrl.RouteConfiguration, routeConfigurationResourceType],
    [TypeUrl.Cluster, clusterResourceType],
    [TypeUrl.ClusterLoadAssignment, clusterLoadAssignmentResourceType],
  ]);
  const history = new XdsHistory();
  const xdsLog = o.logs.child('xds');
  const lds = boot.dynamicResources.lds;
  const cds = boot.dynamicResources.cds;
  const warmingTimeoutMs = Math.max(lds?.initialFetchTimeoutMs ?? 15_000, cds?.initialFetchTimeoutMs ?? 15_000);
  const store = new ConfigStore({ registry, ctx: { node: boot.node }, warmingTimeoutMs, history, logger: xdsLog });

  const clusters = new ClusterManager({ node: boot.node, logger: o.logs.child('upstream') });
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
      hashKey: hashKeyFromPolicies,
      onStreamEnd: observer.onStreamEnd,
      onTcpSessionEnd: (session) => observer.onTcpSessionEnd(session),
      node: boot.node,
      tracers,
      onConnectionRejected: (listener, reason) => httpLog.debug({ listener, reason }, 'connection rejected'),
    },
    { drainTimeMs: (o.flags.drainTimeS ?? 30) * 1000 },
  );

  // Snapshot application: clusters first, then route tables, then listeners (Envoy's make-before-break order).
  let applying: Promise<void> = Promise.resolve();
  let knownClusters = new Set<string>();
  const apply = (snap: ConfigSnapshot): void => {
    applying = applying.then(async () => {
      clusters.apply(snap);
      const now = new Set(snap.clusters.keys());
      for (const name of knownClusters) if (!now.has(name)) await pools.removeCluster(name);
      for (const name of now) {
        const c = clusters.get(name);
        if (c) pools.syncHosts(c);
      }
      knownClusters = now;
      routes.update(snap.routes);
      const want = new Map<string, ListenerConfig>();
      for (const [name, e] of snap.listeners) want.set(name, e.value);
      const results = await listeners.apply(want);
      observer.apply(want.values(), now);
      for (const r of results) if (!r.ok) log.error({ listener: r.name, error: r.error }, 'listener could not be applied');
      core.workersStarted.set(1);
      updateReadiness();
    }).catch((e: unknown) => log.error({ err: e }, 'applying config failed'));
  };

  const updateReadiness = (): void => {
    const r = store.readiness();
    const cdsDone = cds === null || r.cdsApplied || r.cdsInitTimedOut;
    const ldsDone = lds === null || r.ldsApplied || r.ldsInitTimedOut;
    if (cdsDone && r.warmingClusters.length === 0) lifecycle.cdsApplied();
    else if (store.rejected(TypeUrl.Cluster)) lifecycle.cdsRejected();
    if (ldsDone && r.warmingListeners.length === 0) lifecycle.ldsApplied();
    else if (store.rejected(TypeUrl.Listener)) lifecycle.ldsRejected();
  };

  store.subscribe(apply);

  // Static resources go through the same translators as xDS ones.
  const staticClusters = store.addStatic(TypeUrl.Cluster, withType(TYPE_PREFIX + 'envoy.config.cluster.v3.Cluster', boot.staticResources.clusters));
  if (!staticClusters.accepted) throw new Error(`static_resources.clusters: ${staticClusters.message}`);
  const staticListeners = store.addStatic(TypeUrl.Listener, withType(TYPE_PREFIX + 'envoy.config.listener.v3.Listener', boot.staticResources.listeners));
  if (!staticListeners.accepted) throw new Error(`static_resources.listeners: ${staticListeners.message}`);

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

  let admin: AdminServer | null = null;
  let adminBound: { port: number } | null = null;
  let closing: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    if (closing) return closing;
    log.info({ reason }, 'shutting down');
    lifecycle.startDraining();
    closing = (async () => {
      clearInterval(statsTimer);
      sources?.close();
      await listeners.drainAll().catch(() => undefined);
      await listeners.close().catch(() => undefined);
      await pools.close().catch(() => undefined);
      clusters.close();
      store.close();
      await admin?.close().catch(() => undefined);
      await observer.close().catch(() => undefined);
      await tracers.shutdown().catch(() => undefined);
      o.logs.flush();
    })();
    return closing;
  };

  const listenerInfo = (): ListenerInfo[] =>
    listeners.status().map((s) => ({ name: s.name, address: s.address, port: s.boundPort }));

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
    listeners: listenerInfo,
    clustersText: () => clusters.clustersText(),
    clustersJson: () => clusters.clustersJson(),
    xdsHistory: () => history.toJSON(),
    explain: (q) => explainRequest(q, { snapshot: store.current(), routes, clusters, listeners: listenerInfo() }),
    metrics,
    logging: o.logs,
    quit: () => {
      void shutdown('quitquitquit').then(() => process.exit(0));
    },
    drainListeners: async (opts: DrainOptions) => {
      lifecycle.startDraining();
      await listeners.drainAll(opts.graceful ? undefined : 0);
      if (!opts.skipExit && !opts.graceful) log.info('listeners drained');
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

  const onSignal = (sig: string): void => {
    void shutdown(sig).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  return {
    store,
    listeners,
    clusters,
    lifecycle,
    metrics,
    adminPort: () => adminBound?.port,
    listenerPort: (name) => listeners.boundPort(name),
    shutdown,
  };
}
