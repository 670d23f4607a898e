// observability/tracing: a batch span processor with a hard queue bound. The data path only ever pushes into an
// array; when the collector is slow or down the queue fills and further spans are dropped and counted — the
// request path never waits on export (issue 7: "spans are dropped and counted, and the data path never waits").
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** @opentelemetry/core's ExportResultCode.SUCCESS, inlined so this file loads no OTel module (the SDK is loaded by tracer.ts on first use). */
const EXPORT_SUCCESS = 0;

export interface BoundedProcessorOptions {
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
}

export class BoundedSpanProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private exporting = false;
  private timer: NodeJS.Timeout | null = null;
  /** Spans dropped because the queue was full. */
  dropped = 0;
  /** Spans whose export failed (collector down or rejecting). */
  failed = 0;
  exported = 0;

  constructor(private readonly exporter: SpanExporter, private readonly opts: BoundedProcessorOptions) {
    this.timer = setInterval(() => this.flushSome(), opts.scheduledDelayMs);
    this.timer.unref();
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.queue.length >= this.opts.maxQueueSize) {
      this.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.opts.maxExportBatchSize) this.flushSome();
  }

  private flushSome(): Promise<void> {
    if (this.exporting || this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.length <= this.opts.maxExportBatchSize ? this.queue : this.queue.slice(0, this.opts.maxExportBatchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
    this.exporting = true;
    return new Promise<void>((resolve) => {
      try {
        this.exporter.export(batch, (result) => {
          this.exporting = false;
          if (result.code === EXPORT_SUCCESS) this.exported += batch.length;
          else this.failed += batch.length;
          resolve();
        });
      } catch {
        this.exporting = false;
        this.failed += batch.length;
        resolve();
      }
    });
  }

  async forceFlush(): Promise<void> {
    for (let i = 0; i < 100 && (this.queue.length > 0 || this.exporting); i++) {
      if (this.exporting) await new Promise((r) => setTimeout(r, 10));
      else await this.flushSome();
    }
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.forceFlush();
    await this.exporter.shutdown();
  }
}
