// observability/tracing: meshlet's tracer — OpenTelemetry JS SDK spans exported over OTLP/gRPC (Jaeger and the
// OTel Collector ingest it on 4317), named and attributed like Envoy's (conventions.md §7.3). The HTTP connection
// manager asks for a span only when the request is traced, so unsampled requests cost one decision.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { BoundedSpanProcessor } from './bounded-span-processor.js';
import type { TraceContext } from './trace-context.js';

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
    this.span.setStatus({ code: SpanStatusCode.ERROR });
  }
  end(endTimeMs?: number): void {
    this.span.end(endTimeMs);
  }
}

export class MeshTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  readonly processor: BoundedSpanProcessor;

  constructor(private readonly opts: TracerOptions) {
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
        traceState: p.traceState ? new TraceState(p.traceState) : undefined,
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
