// observability/: Istio's standard HTTP metrics (istio_requests_total, istio_request_duration_milliseconds), emitted
// when the node metadata says Istio. Workload labels come from this proxy's node metadata (reporter "source" on
// OUTBOUND listeners, "destination" on INBOUND); peer labels need metadata exchange, which meshlet does not do yet,
// so they are "unknown". Label children are cached per (stat_prefix, cluster, code, flags, protocol).
import type { Counter, Histogram } from 'prom-client';
import type { Metrics } from './metrics.js';
import { ENVOY_BUCKETS_MS, bindCounter, bindHistogram } from './metrics.js';
import type { StatsInclusion } from './stream-metrics.js';

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export const ISTIO_LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version', 'source_cluster',
  'source_canonical_service', 'source_canonical_revision', 'destination_workload', 'destination_workload_namespace',
  'destination_principal', 'destination_app', 'destination_version', 'destination_service', 'destination_service_name',
  'destination_service_namespace', 'destination_cluster', 'destination_canonical_service', 'destination_canonical_revision',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
] as const;

type Labels = Record<(typeof ISTIO_LABELS)[number], string>;

export type TrafficDirection = 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';

export interface IstioStreamInput {
  readonly statPrefix: string;
  readonly durationMs: number;
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  readonly upstreamCluster: string;
  /** Request content-type starts with application/grpc. */
  readonly grpc?: boolean;
  /** grpc-status of the response, when known. */
  readonly grpcStatus?: string;
  /** The downstream connection was TLS with a client certificate (inbound mTLS). */
  readonly mtls?: boolean;
}

interface Bound {
  inc(): void;
  observe(v: number): void;
}

const U = 'unknown';

/** This workload's identity from Istio node metadata (NAME, NAMESPACE, LABELS, WORKLOAD_NAME, CLUSTER_ID). */
function workload(meta: Obj): { workload: string; namespace: string; app: string; version: string; cluster: string; canonicalService: string; canonicalRevision: string } {
  const labels = isObj(meta.LABELS) ? meta.LABELS : {};
  const s = (v: unknown): string => (typeof v === 'string' && v ? v : U);
  return {
    workload: s(meta.WORKLOAD_NAME),
    namespace: s(meta.NAMESPACE),
    app: s(labels.app ?? labels['app.kubernetes.io/name']),
    version: s(labels.version ?? labels['app.kubernetes.io/version']),
    cluster: s(meta.CLUSTER_ID),
    canonicalService: s(labels['service.istio.io/canonical-name'] ?? labels.app ?? meta.WORKLOAD_NAME),
    canonicalRevision: s(labels['service.istio.io/canonical-revision'] ?? labels.version ?? 'latest'),
  };
}

/** `outbound|80||reviews.default.svc.cluster.local` → FQDN, name, namespace. */
export function serviceFromCluster(cluster: string): { fqdn: string; name: string; namespace: string } {
  const parts = cluster.split('|');
  const fqdn = parts.length === 4 && parts[3] ? parts[3] : '';
  if (!fqdn) return { fqdn: U, name: U, namespace: U };
  const seg = fqdn.split('.');
  return { fqdn, name: seg[0] || U, namespace: seg.length > 2 && seg[2] === 'svc' ? seg[1] : U };
}

export class IstioMetrics {
  private readonly requests: Counter<string> | null;
  private readonly duration: Histogram<string> | null;
  private readonly directions = new Map<string, TrafficDirection>();
  private readonly children = new Map<string, Bound>();
  private readonly self: ReturnType<typeof workload>;

  constructor(metrics: Metrics, nodeMetadata: Obj, include: StatsInclusion | null = null) {
    this.self = workload(nodeMetadata);
    const reg = metrics.registry;
    // Istio's own bootstrap always keeps its "istio" stats (prefix in the default inclusion list).
    const keep = (n: string): boolean => !include || include(n) || include('istio');
    this.requests = keep('istio_requests_total')
      ? ((reg.getSingleMetric('istio_requests_total') as Counter<string> | undefined) ??
        metrics.promCounter({ name: 'istio_requests_total', help: 'Requests processed by an Istio proxy', labelNames: ISTIO_LABELS }))
      : null;
    this.duration = keep('istio_request_duration_milliseconds')
      ? ((reg.getSingleMetric('istio_request_duration_milliseconds') as Histogram<string> | undefined) ??
        metrics.promHistogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration (ms)', labelNames: ISTIO_LABELS, buckets: ENVOY_BUCKETS_MS }))
      : null;
  }

  /** Records which HCM stat_prefixes serve inbound and which outbound traffic (from the applied listeners). */
  sync(directions: ReadonlyMap<string, TrafficDirection>): void {
    this.directions.clear();
    for (const [k, v] of directions) this.directions.set(k, v);
    this.children.clear();
  }

  private labels(s: IstioStreamInput, inbound: boolean, grpc: boolean, grpcStatus: string | undefined): Labels {
    const w = this.self;
    const svc = serviceFromCluster(s.upstreamCluster);
    const mine = {
      workload: w.workload, namespace: w.namespace, app: w.app, version: w.version, cluster: w.cluster,
      canonicalService: w.canonicalService, canonicalRevision: w.canonicalRevision,
    };
    const peer = { workload: U, namespace: U, app: U, version: U, cluster: U, canonicalService: U, canonicalRevision: U };
    const src = inbound ? peer : mine;
    const dst = inbound ? mine : peer;
    return {
      reporter: inbound ? 'destination' : 'source',
      source_workload: src.workload, source_workload_namespace: src.namespace, source_principal: U, source_app: src.app,
      source_version: src.version, source_cluster: src.cluster, source_canonical_service: src.canonicalService,
      source_canonical_revision: src.canonicalRevision,
      destination_workload: dst.workload, destination_workload_namespace: dst.namespace, destination_principal: U,
      destination_app: dst.app, destination_version: dst.version,
      destination_service: inbound && svc.fqdn === U ? U : svc.fqdn,
      destination_service_name: svc.name, destination_service_namespace: inbound && svc.namespace === U ? w.namespace : svc.namespace,
      destination_cluster: dst.cluster, destination_canonical_service: dst.canonicalService, destination_canonical_revision: dst.canonicalRevision,
      request_protocol: grpc ? 'grpc' : 'http',
      response_code: String(s.responseCode),
      grpc_response_status: grpc ? grpcStatus ?? U : '',
      response_flags: s.responseFlags.length ? s.responseFlags.join(',') : '-',
      connection_security_policy: inbound ? (s.mtls ? 'mutual_tls' : 'none') : U,
    };
  }

  /** One finished stream; `grpc`/`grpcStatus` override the input's own fields (the observer passes them apart). */
  onStream(s: IstioStreamInput, grpc = s.grpc === true, grpcStatus = s.grpcStatus): void {
    if (!this.requests && !this.duration) return;
    const dir = this.directions.get(s.statPrefix) ?? 'UNSPECIFIED';
    const inbound = dir === 'INBOUND';
    const key = `${s.statPrefix}\u0000${s.upstreamCluster}\u0000${s.responseCode}\u0000${s.responseFlags.join(',')}\u0000${grpc ? grpcStatus ?? 'g' : ''}\u0000${s.mtls ? 1 : 0}`;
    let b = this.children.get(key);
    if (!b) {
      const l = this.labels(s, inbound, grpc, grpcStatus);
      const c = this.requests ? bindCounter(this.requests, l) : null;
      const h = this.duration ? bindHistogram(this.duration, l) : null;
      b = { inc: () => c?.inc(), observe: (v) => h?.observe(v) };
      if (this.children.size < 10_000) this.children.set(key, b);
    }
    b.inc();
    b.observe(s.durationMs);
  }
}
