// Bench peer: an OTLP/gRPC trace sink (the collector meshlet's tracing variants export to). It accepts
// TraceService/Export without decoding the spans and answers an empty response, so the cost measured is meshlet's.
// Usage: node otlp-sink.js PORT
import * as grpc from '@grpc/grpc-js';

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** Starts the sink on 127.0.0.1:port; returns the server and a counter of received export calls and bytes. */
export async function startOtlpSink(port: number): Promise<{ server: grpc.Server; stats: { exports: number; bytes: number } }> {
  const stats = { exports: 0, bytes: 0 };
  const server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  server.addService({
    Export: { path: EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity,
      responseSerialize: identity, responseDeserialize: identity },
  } as grpc.ServiceDefinition, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      stats.exports++;
      stats.bytes += call.request.length;
      cb(null, Buffer.alloc(0));
    },
  });
  await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, stats };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const port = Number(process.argv[2]);
  startOtlpSink(port).then(({ server, stats }) => {
    const stop = (): void => {
      process.stdout.write(`${JSON.stringify(stats)}\n`);
      server.forceShutdown();
      process.exit(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }, (e: unknown) => {
    process.stderr.write(`otlp-sink failed: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
