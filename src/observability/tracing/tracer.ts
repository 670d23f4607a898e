// observability/tracing: meshlet's tracer — OpenTelemetry JS SDK spans exported over OTLP/gRPC (Jaeger and the
// OTel Collector ingest it on 4317), named and attributed like Envoy's (conventions.md §7.3). The HTTP connection
// manager asks for a span only when the request is traced, so unsampled requests cost one decision.
import { createRequire } from 'node:module';
import type { Span, Tracer } from '@opentelemetry/api';
import type { BasicTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BoundedSpanProcessor } from './bounded-span-processor.js';
import type { TraceContext } from './trace-context.js';

type OtelApi = typeof import('@opentelemetry/api');
interface OtelSdk {
  readonly api: OtelApi;
  readonly TraceState: typeof import('@opentelemetry/core').TraceState;
  readonly resourceFromAttributes: typeof import('@opentelemetry/resources').resourceFromAttributes;
  readonly BasicTracerProvider: typeof import('@opentelemetry/sdk-trace-base').BasicTracerProvider;
  readonly OTLPTraceExporter: typeof import('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter;
}

let sdk: OtelSdk | null = null;
/**
 * The OpenTelemetry SDK and OTLP/gRPC exporter, loaded on the first MeshTracer (a tracing provider in the config)
 * instead of at import: ~260 CommonJS modules (sdk-metrics and otlp-transformer come with the exporter) that a
 * config without a tracing provider never uses. require() keeps tracer creation synchronous on the data path; these
 * are the same CommonJS builds an ESM import of these packages resolves to.
 */
function otel(): OtelSdk {
  if (sdk) return sdk;
  const req = createRequire(import.meta.url);
  sdk = {
    api: req('@opentelemetry/api') as OtelApi,
    TraceState: (req('@opentelemetry/core') as typeof import('@opentelemetry/core')).TraceState,
    resourceFromAttributes: (req('@opentelemetry/resources') as typeof import('@opentelemetry/resources')).resourceFromAttributes,
    BasicTracerProvider: (req('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base')).BasicTracerProvider,
    OTLPTraceExporter: (req('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter,
  };
  return sdk;
}

export interface TracerOptions {
  /** service.name resource attribute; Envoy's default is "unknown_service:envoy". */
  readonly serviceName: string;
  /** OTLP/gRPC collector URL, e.g. http://127.0.0.1:4317. Ignored when `exporter` is given. */
  readonly collectorUrl?: string;
  readonly exporter?: SpanExporter;
  readonly maxQueueSize?: number;
  readonly maxExportBatchSize?: number;
  readonly scheduledDelayMs?: number;
  readonly exportTimeoutMs?: number;
  /** Attributes on every span (Envoy: node_id, zone). */
  readonly commonAttributes?: Readonly<Record<string, string>>;
}

export type SpanKindName = 'server' | 'client';
export type AttributeValue = string | number | boolean;

/** A live span as the data path sees it. */
export interface MeshSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceState: string | undefined;
  setAttribute(key: string, value: AttributeValue): void;
  setError(): void;
  end(endTimeMs?: number): void;
}

class OtelMeshSpan implements MeshSpan {
  readonly traceId: string;
  readonly spanId: string;
  constructor(readonly span: Span, readonly traceState: string | undefined) {
    const ctx = span.spanContext();
    this.traceId = ctx.traceId;
    this.spanId = ctx.spanId;
  }
  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttribute(key, value);
  }
  setError(): void {
    this.span.setAttribute('error', true);
    this.span.setStatus({ code: otel().api.SpanStatusCode.ERROR });
  }
  end(endTimeMs?: number): void {
    this.span.end(endTimeMs);
  }
}

export class MeshTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  readonly processor: BoundedSpanProcessor;

  private readonly otel: OtelSdk;

  constructor(private readonly opts: TracerOptions) {
    const { OTLPTraceExporter, BasicTracerProvider, resourceFromAttributes } = this.otel = otel();
    const exporter = opts.exporter ?? new OTLPTraceExporter({ url: opts.collectorUrl ?? 'http://127.0.0.1:4317', timeoutMillis: opts.exportTimeoutMs ?? 5000 });
    this.processor = new BoundedSpanProcessor(exporter, {
      maxQueueSize: opts.maxQueueSize ?? 2048,
      maxExportBatchSize: opts.maxExportBatchSize ?? 64,
      scheduledDelayMs: opts.scheduledDelayMs ?? 200,
    });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
      spanProcessors: [this.processor],
    });
    this.tracer = this.provider.getTracer('meshlet');
  }

  /** Starts a span; `parent` is an extracted remote context or an earlier meshlet span of the same request. */
  startSpan(name: string, kind: SpanKindName, parent: TraceContext | MeshSpan | null, startTimeMs: number): MeshSpan {
    const { ROOT_CONTEXT, SpanKind, trace, TraceFlags } = this.otel.api;
    let ctx = ROOT_CONTEXT;
    let traceState: string | undefined;
    if (parent instanceof OtelMeshSpan) {
      ctx = trace.setSpan(ROOT_CONTEXT, parent.span);
      traceState = parent.traceState;
    } else if (parent) {
      const p = parent as TraceContext;
      traceState = p.traceState;
      ctx = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: p.traceId,
        spanId: p.spanId,
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
        traceState: p.traceState ? new this.otel.TraceState(p.traceState) : undefined,
      });
    }
    const span = this.tracer.startSpan(name, { kind: kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, startTime: startTimeMs }, ctx);
    if (this.opts.commonAttributes) for (const [k, v] of Object.entries(this.opts.commonAttributes)) span.setAttribute(k, v);
    span.setAttribute('component', 'proxy');
    return new OtelMeshSpan(span, traceState);
  }

  stats(): { dropped: number; failed: number; exported: number } {
    return { dropped: this.processor.dropped, failed: this.processor.failed, exported: this.processor.exported };
  }

  flush(): Promise<void> {
    return this.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
