// observability/access-log: joins the data path to access logs and stats. The composition root builds one, calls
// apply() with every applied listener set (binds stats, compiles access logs once per HCM config) and hands
// onStreamEnd to HttpDeps; each finished stream is logged and counted from one AccessLogRecord.
import { Issues, formatErrors } from '../../common/validation.js';
import type { ListenerConfig } from '../../config/listener.js';
import type { Metrics } from '../metrics.js';
import { StreamMetrics, compileStatsMatcher, labelStyleFor, type ClusterGaugeSource } from '../stream-metrics.js';
import { IstioMetrics, type TrafficDirection } from '../istio-metrics.js';
import { AccessLogSet, compileAccessLogs } from './access-logger.js';
import { AccessLogWriters } from './access-log-writers.js';
import { recordFromStream, recordFromTcpSession, type StreamInfoLike, type TcpSessionLike } from './access-log-record.js';

type Obj = Readonly<Record<string, unknown>>;

export interface DataPathObserverOptions {
  readonly metrics: Metrics;
  readonly nodeMetadata?: Obj;
  /** bootstrap stats_config (canonical), or null. */
  readonly statsConfig?: Obj | null;
  readonly clusters?: ClusterGaugeSource;
  readonly writers?: AccessLogWriters;
  readonly onError?: (message: string) => void;
}

export class DataPathObserver {
  readonly stats: StreamMetrics;
  readonly istio: IstioMetrics | null;
  readonly writers: AccessLogWriters;
  private readonly ownsWriters: boolean;
  /** stat_prefix → the access logs of the HCM (or tcp_proxy) using it. */
  private byPrefix = new Map<string, AccessLogSet>();
  private readonly compiled = new WeakMap<object, AccessLogSet>();
  /** The same access_log content from different listeners (Istio repeats BlackHoleCluster's) shares one set. */
  private readonly byContent = new Map<string, AccessLogSet>();
  private readonly onError: (message: string) => void;

  constructor(opts: DataPathObserverOptions) {
    this.onError = opts.onError ?? (() => undefined);
    const issues = new Issues('stats_config');
    const include = compileStatsMatcher(opts.statsConfig ?? null, issues);
    if (issues.hasErrors) this.onError(formatErrors(issues.allErrors()));
    const style = labelStyleFor(opts.nodeMetadata);
    this.stats = new StreamMetrics(opts.metrics, { style, include, clusters: opts.clusters });
    this.istio = style === 'istio' ? new IstioMetrics(opts.metrics, opts.nodeMetadata ?? {}, include) : null;
    this.ownsWriters = !opts.writers;
    this.writers = opts.writers ?? new AccessLogWriters();
  }

  /** Binds stats and compiles access logs for the listeners now applied; `clusterNames` are the clusters now known. */
  apply(listeners: Iterable<ListenerConfig>, clusterNames: Iterable<string>): void {
    this.stats.sync(this.applyListeners(listeners), clusterNames);
  }

  /** apply() for the xDS path: cluster stats are bound in ≤ 8 ms slices (StreamMetrics.syncAsync). */
  applyAsync(listeners: Iterable<ListenerConfig>, clusterNames: Iterable<string>): Promise<void> {
    return this.stats.syncAsync(this.applyListeners(listeners), clusterNames);
  }

  /** Access logs and Istio directions for the listeners; returns the HCM stat_prefixes to bind. */
  private applyListeners(listeners: Iterable<ListenerConfig>): string[] {
    const prefixes: string[] = [];
    const dirs = new Map<string, TrafficDirection>();
    const next = new Map<string, AccessLogSet>();
    this.byContent.clear(); // content sharing is per applied listener set; identity (WeakMap) carries across updates
    for (const l of listeners) {
      for (const chain of l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains) {
        for (const f of chain.filters) {
          if (f.kind !== 'http_connection_manager' && f.kind !== 'tcp_proxy') continue;
          const prefix = f.config.statPrefix;
          if (f.kind === 'http_connection_manager') prefixes.push(prefix);
          dirs.set(prefix, l.trafficDirection);
          const entries = f.config.accessLog;
          if (entries.length === 0) continue;
          let set = this.compiled.get(entries);
          const contentKey = set ? '' : JSON.stringify(entries);
          if (!set) set = this.byContent.get(contentKey);
          if (set) this.compiled.set(entries, set);
          else {
            const issues = new Issues(`listener ${l.name}: ${f.name}.access_log`);
            set = compileAccessLogs(entries, issues, this.writers);
            if (issues.hasErrors) this.onError(formatErrors(issues.allErrors()));
            this.compiled.set(entries, set);
            this.byContent.set(contentKey, set);
          }
          const prev = next.get(prefix);
          if (prev && prev !== set) this.onError(`stat_prefix ${prefix} is used by HCMs with different access_log configs: the first one logs for both`);
          else next.set(prefix, set);
        }
      }
    }
    this.byPrefix = next;
    this.istio?.sync(dirs);
    return prefixes;
  }

  /** HttpDeps.onStreamEnd: access logs, Envoy stats and (Istio) standard metrics for one finished stream. */
  readonly onStreamEnd = (info: StreamInfoLike): void => {
    const logs = this.byPrefix.get(info.statPrefix);
    if (logs && !logs.empty) logs.log(recordFromStream(info));
    this.stats.onStream(info);
    if (this.istio) {
      const ct = info.head.headers['content-type'];
      const grpc = typeof ct === 'string' && ct.startsWith('application/grpc');
      const gs = info.responseHeaders?.['grpc-status'];
      // gRPC facts as arguments, not `{ ...info, grpc }`: a spread copy of the 25-field info per request (its own
      // hidden class each time) cost more than the metric itself.
      this.istio.onStream(info, grpc, typeof gs === 'string' ? gs : undefined);
    }
  };

  /** A finished tcp_proxy session (for the listener to call once it surfaces TcpSessionResult). */
  onTcpSessionEnd(session: TcpSessionLike): void {
    const logs = this.byPrefix.get(session.statPrefix);
    if (logs && !logs.empty) logs.log(recordFromTcpSession(session));
  }

  /** Log rotation (SIGUSR1 / admin /reopen_logs). */
  reopen(): void {
    this.writers.reopen();
  }

  async close(): Promise<void> {
    if (this.ownsWriters) await this.writers.close();
    else this.writers.flush();
  }
}
