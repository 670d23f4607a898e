// test/support: a real OTLP/gRPC trace receiver (what Jaeger and the OTel Collector expose on 4317) that decodes
// ExportTraceServiceRequest with the OTLP protos and keeps the spans for assertions.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: 'SERVER' | 'CLIENT' | 'INTERNAL' | 'PRODUCER' | 'CONSUMER' | 'UNSPECIFIED';
  readonly attributes: Record<string, string | number | boolean>;
  readonly serviceName: string;
  readonly traceState: string;
  readonly error: boolean;
}

function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'proto', 'test', 'opentelemetry');
    if (existsSync(join(p, 'trace.proto'))) return p;
    dir = dirname(dir);
  }
  throw new Error('OTLP test protos not found');
}

function anyValue(v: any): string | number | boolean {
  if (!v) return '';
  if (v.string_value !== undefined && v.string_value !== null) return v.string_value;
  if (v.bool_value !== undefined && v.bool_value !== null) return v.bool_value;
  if (v.int_value !== undefined && v.int_value !== null) return Number(v.int_value);
  if (v.double_value !== undefined && v.double_value !== null) return v.double_value;
  return JSON.stringify(v);
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server = new grpc.Server();
  private requestType: protobuf.Type;
  private responseType: protobuf.Type;
  port = 0;
  exports = 0;

  constructor() {
    const root = new protobuf.Root();
    const dir = protoDir();
    root.resolvePath = (_o, t) => join(dir, t.replace(/^.*\//, ''));
    root.loadSync(join(dir, 'trace.proto'), { keepCase: true });
    this.requestType = root.lookupType('opentelemetry.proto.trace.v1.ExportTraceServiceRequest');
    this.responseType = root.lookupType('opentelemetry.proto.trace.v1.ExportTraceServiceResponse');
  }

  async start(port = 0): Promise<number> {
    const reqT = this.requestType;
    const resT = this.responseType;
    this.server.addService(
      {
        Export: {
          path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: any) => Buffer.from(reqT.encode(v).finish()),
          requestDeserialize: (b: Buffer) => reqT.toObject(reqT.decode(b), { longs: String, enums: String, bytes: Buffer }),
          responseSerialize: (v: any) => Buffer.from(resT.encode(resT.fromObject(v)).finish()),
          responseDeserialize: (b: Buffer) => resT.decode(b),
        },
      } as grpc.ServiceDefinition,
      {
        Export: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
          this.exports++;
          this.collect(call.request);
          cb(null, {});
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return this.port;
  }

  private collect(req: any): void {
    for (const rs of req.resource_spans ?? []) {
      const res: Record<string, unknown> = {};
      for (const kv of rs.resource?.attributes ?? []) res[kv.key] = anyValue(kv.value);
      for (const ss of rs.scope_spans ?? []) {
        for (const s of ss.spans ?? []) {
          const attributes: Record<string, string | number | boolean> = {};
          for (const kv of s.attributes ?? []) attributes[kv.key] = anyValue(kv.value);
          this.spans.push({
            traceId: Buffer.from(s.trace_id ?? []).toString('hex'),
            spanId: Buffer.from(s.span_id ?? []).toString('hex'),
            parentSpanId: s.parent_span_id ? Buffer.from(s.parent_span_id).toString('hex') : '',
            name: s.name,
            kind: String(s.kind ?? 'SPAN_KIND_UNSPECIFIED').replace('SPAN_KIND_', '') as ReceivedSpan['kind'],
            attributes,
            serviceName: String(res['service.name'] ?? ''),
            traceState: s.trace_state ?? '',
            error: s.status?.code === 'STATUS_CODE_ERROR',
          });
        }
      }
    }
  }

  async waitForSpans(n: number, timeoutMs = 10000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.spans.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.spans;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }
}
