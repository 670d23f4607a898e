// http/: one MeshTracer (OTLP/gRPC exporter + bounded batch queue) per distinct collector config, created lazily on
// the first traced request and shared by every HTTP connection manager that names the same collector. An
// envoy_grpc collector is resolved to the first host of its cluster at that moment (the cluster may warm later).
import type { NodeInfo } from '../config/node.js';
import type { TracingConfig } from '../config/http-connection-manager.js';
import type { ClusterManagerView } from '../upstream/types.js';
import { MeshTracer } from '../observability/tracing/tracer.js';
import type { TracerOptions } from '../observability/tracing/tracer.js';

/** What the HCM asks for a traced stream: the tracer for this config, or null (collector not resolvable yet). */
export interface TracerSource {
  tracerFor(cfg: TracingConfig): MeshTracer | null;
}

export interface TracerRegistryOptions {
  readonly clusters: ClusterManagerView;
  readonly node?: NodeInfo;
  /** Builds a tracer (tests inject exporters); default: new MeshTracer(opts). */
  readonly create?: (opts: TracerOptions) => MeshTracer;
}

export class TracerRegistry implements TracerSource {
  private readonly tracers = new Map<string, MeshTracer>();
  /** Last config object seen → its key, so the per-request lookup is one WeakMap hit. */
  private readonly keys = new WeakMap<TracingConfig, string>();

  constructor(private readonly opts: TracerRegistryOptions) {}

  tracerFor(cfg: TracingConfig): MeshTracer | null {
    const c = cfg.collector;
    if (!c) return null;
    let key = this.keys.get(cfg);
    if (key !== undefined) {
      const t = this.tracers.get(key);
      if (t) return t;
    }
    const url = this.collectorUrl(cfg);
    if (!url) return null;
    key = `${url}|${cfg.serviceName}|${cfg.exportTimeoutMs}`;
    this.keys.set(cfg, key);
    let t = this.tracers.get(key);
    if (!t) {
      const node = this.opts.node;
      const common: Record<string, string> = {};
      if (node?.id) common.node_id = node.id;
      if (node?.locality?.zone) common.zone = node.locality.zone;
      const options: TracerOptions = { serviceName: cfg.serviceName, collectorUrl: url, exportTimeoutMs: cfg.exportTimeoutMs, commonAttributes: common };
      t = this.opts.create ? this.opts.create(options) : new MeshTracer(options);
      this.tracers.set(key, t);
    }
    return t;
  }

  private collectorUrl(cfg: TracingConfig): string {
    const c = cfg.collector;
    if (!c) return '';
    if (c.kind === 'target') {
      const t = c.target.replace(/^dns:(\/\/\/)?/, '');
      return /^https?:\/\//.test(t) ? t : `http://${t}`;
    }
    const cluster = this.opts.clusters.get(c.cluster);
    const host = cluster?.hosts()[0];
    if (!host || host.pipe) return '';
    const addr = host.address.includes(':') ? `[${host.address}]` : host.address;
    return `http://${addr}:${host.port}`;
  }

  /** Tracers created so far (admin/stats views, tests). */
  all(): readonly MeshTracer[] {
    return [...this.tracers.values()];
  }

  flush(): Promise<void> {
    return Promise.all(this.all().map((t) => t.flush())).then(() => undefined);
  }

  async shutdown(): Promise<void> {
    const all = this.all();
    this.tracers.clear();
    await Promise.all(all.map((t) => t.shutdown().catch(() => undefined)));
  }
}
