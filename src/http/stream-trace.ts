// http/: tracing of one active stream — sampling decision (carried in x-request-id), incoming context extraction,
// the SERVER (inbound) or CLIENT (outbound) span named and attributed like Envoy's, one child span per upstream
// attempt when spawn_upstream_span, and the context injected into every upstream attempt. Unsampled streams create
// no span: they forward the incoming context untouched, or start a sampled=0 context the next hop honours.
import type { HeaderMap, RequestHead } from '../common/headers.js';
import { firstHeader } from '../common/headers.js';
import type { TracingConfig } from '../config/http-connection-manager.js';
import type { MeshSpan, MeshTracer } from '../observability/tracing/tracer.js';
import type { TraceContext } from '../observability/tracing/trace-context.js';
import { extractTraceContext, injectTraceContext } from '../observability/tracing/trace-context.js';
import { decideTrace, markRequestId } from '../observability/tracing/sampling.js';
import { randomHex } from './random-ids.js';

export type TraceDirection = 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';

/** What the stream knows when it ends, for the span's tags. */
export interface TraceFinish {
  readonly head: RequestHead;
  readonly protocol: string;
  readonly status: number;
  readonly responseFlags: string;
  readonly requestSize: number;
  readonly responseSize: number;
  readonly upstreamCluster: string;
  readonly upstreamHost: string;
  readonly peerAddress: string;
  /** grpc-status of the response (headers or trailers), undefined when not gRPC. */
  readonly grpcStatus: string | undefined;
  readonly grpcMessage: string | undefined;
  readonly endTimeMs: number;
}

const DECORATOR_HEADER = 'x-envoy-decorator-operation';

export class StreamTrace {
  /** The stream's span (null when not sampled or no tracer). */
  span: MeshSpan | null = null;
  private attemptSpan: MeshSpan | null = null;
  private readonly emitB3: boolean;
  /** Context propagated when no span exists: ids of a fresh unsampled context (no incoming context). */
  private ownTraceId = '';
  private ownSpanId = '';

  private constructor(
    private readonly cfg: TracingConfig,
    private readonly tracer: MeshTracer | null,
    readonly parent: TraceContext | null,
    readonly traced: boolean,
    readonly requestId: string,
  ) {
    this.emitB3 = parent !== null && parent.format !== 'w3c';
  }

  /**
   * Decides whether the request is traced and marks x-request-id with the decision (mutates `head.headers`).
   * `tracer` null = no spans (collector not resolvable yet, or no provider); the decision still propagates.
   */
  static begin(cfg: TracingConfig, tracer: MeshTracer | null, head: RequestHead, internal: boolean): StreamTrace {
    const parent = extractTraceContext(head.headers);
    let rid = firstHeader(head.headers, 'x-request-id') ?? '';
    const decision = decideTrace(cfg, rid, head.headers, internal, parent?.sampled);
    if (rid) {
      rid = markRequestId(rid, decision);
      head.headers['x-request-id'] = rid;
    }
    return new StreamTrace(cfg, tracer, parent, decision.traced, rid);
  }

  get traceId(): string {
    return this.span?.traceId ?? '';
  }

  /** Starts the stream's span once the route is known (decorator). */
  startSpan(head: RequestHead, direction: TraceDirection, decorator: { readonly operation: string; readonly propagate: boolean } | null, startTimeMs: number): void {
    const inbound = direction === 'INBOUND';
    const incomingOp = firstHeader(head.headers, DECORATOR_HEADER);
    if (incomingOp !== undefined) delete head.headers[DECORATOR_HEADER];
    if (decorator?.propagate && !inbound) head.headers[DECORATOR_HEADER] = decorator.operation;
    if (!this.traced || !this.tracer) return;
    let name: string;
    if (inbound) name = incomingOp ?? decorator?.operation ?? 'ingress';
    else name = decorator?.operation ?? `egress ${head.authority}`;
    try {
      this.span = this.tracer.startSpan(name, inbound ? 'server' : 'client', this.parent, startTimeMs);
    } catch {
      this.span = null; // tracing never breaks the data path
    }
  }

  /** Writes the outgoing trace context into one upstream attempt's headers (a child span per attempt if configured). */
  injectAttempt(headers: HeaderMap, attempt: number, cluster: string, hostKey: string, startTimeMs: number): void {
    const span = this.span;
    if (span && this.tracer) {
      let ctxSpan = span;
      if (this.cfg.spawnUpstreamSpan) {
        this.endAttemptSpan(true, startTimeMs);
        try {
          const a = this.tracer.startSpan(`router ${cluster} egress`, 'client', span, startTimeMs);
          a.setAttribute('upstream_cluster', cluster);
          a.setAttribute('upstream_address', hostKey);
          a.setAttribute('retry.count', attempt - 1);
          this.attemptSpan = a;
          ctxSpan = a;
        } catch { /* keep the stream span */ }
      }
      injectTraceContext(headers, ctxSpan.traceId, ctxSpan.spanId, true, ctxSpan.traceState, this.emitB3);
      return;
    }
    if (this.parent) return; // unsampled: the incoming context goes on unchanged
    if (!this.ownTraceId) {
      this.ownTraceId = randomHex(16);
      this.ownSpanId = randomHex(8);
    }
    injectTraceContext(headers, this.ownTraceId, this.ownSpanId, this.traced, undefined, false);
  }

  private endAttemptSpan(retried: boolean, endTimeMs: number, status?: number): void {
    const a = this.attemptSpan;
    if (!a) return;
    this.attemptSpan = null;
    if (retried) a.setAttribute('retried', true);
    if (status !== undefined && status > 0) a.setAttribute('http.status_code', String(status));
    if (retried || (status !== undefined && status >= 500)) a.setError();
    a.end(endTimeMs);
  }

  /** Tags and ends the span(s). */
  finish(f: TraceFinish): void {
    const span = this.span;
    if (!span) return;
    this.span = null;
    try {
      this.endAttemptSpan(false, f.endTimeMs, f.status);
      const h = f.head.headers;
      const cfg = this.cfg;
      let url = `${f.head.scheme}://${f.head.authority}${f.head.path}`;
      if (url.length > cfg.maxPathTagLength) url = url.slice(0, cfg.maxPathTagLength);
      span.setAttribute('guid:x-request-id', this.requestId);
      span.setAttribute('http.url', url);
      span.setAttribute('http.method', f.head.method);
      span.setAttribute('http.protocol', f.protocol);
      span.setAttribute('downstream_cluster', firstHeader(h, 'x-envoy-downstream-service-cluster') ?? '-');
      span.setAttribute('user_agent', firstHeader(h, 'user-agent') ?? '-');
      span.setAttribute('request_size', f.requestSize);
      span.setAttribute('response_size', f.responseSize);
      span.setAttribute('http.status_code', String(f.status));
      span.setAttribute('response_flags', f.responseFlags || '-');
      span.setAttribute('peer.address', f.peerAddress);
      if (f.upstreamCluster) {
        span.setAttribute('upstream_cluster', f.upstreamCluster);
        span.setAttribute('upstream_cluster.name', f.upstreamCluster);
      }
      if (f.upstreamHost) span.setAttribute('upstream_address', f.upstreamHost);
      if (f.grpcStatus !== undefined) {
        span.setAttribute('grpc.status_code', f.grpcStatus);
        if (f.grpcMessage) span.setAttribute('grpc.message', f.grpcMessage);
      }
      for (const t of cfg.customTags) {
        if (t.kind === 'literal') span.setAttribute(t.tag, t.value);
        else {
          const v = firstHeader(h, t.value) ?? t.defaultValue;
          if (v) span.setAttribute(t.tag, v);
        }
      }
      if (f.status >= 500 || f.status === 0 || (f.grpcStatus !== undefined && f.grpcStatus !== '0')) span.setError();
      span.end(f.endTimeMs);
    } catch { /* tracing never breaks the data path */ }
  }
}
