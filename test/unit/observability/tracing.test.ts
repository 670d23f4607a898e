// Tracing building blocks: propagation formats, Envoy's sampling decision and request-id nibble, and spans
// exported over real OTLP/gRPC to a receiver that decodes the OTLP protos — including collector-down behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { extractTraceContext, parseTraceparent, formatTraceparent, injectTraceContext, parseB3Single } from '../../../src/observability/tracing/trace-context.js';
import { decideTrace, markRequestId } from '../../../src/observability/tracing/sampling.js';
import { MeshTracer } from '../../../src/observability/tracing/tracer.js';
import { OtlpReceiver } from '../../support/otlp-receiver.js';

test('traceparent: exactly 55 chars, lower-case hex, no all-zero ids, sampled from flags bit 0', () => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  assert.deepEqual(parseTraceparent(tp, 'k=v'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true, traceState: 'k=v', format: 'w3c' });
  assert.equal(parseTraceparent(tp.replace(/-01$/, '-00'))!.sampled, false);
  assert.equal(parseTraceparent(tp + '0'), null);
  assert.equal(parseTraceparent(tp.toUpperCase()), null);
  assert.equal(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), null);
  assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'), null);
  assert.equal(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), null);
  assert.equal(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true), tp);
});

test('B3 single and multi are accepted on ingress; W3C wins when both are present', () => {
  assert.deepEqual(parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1'), { traceId: '80f198ee56343ba864fe8b2a57d3eff7', spanId: 'e457b5a2e4d86bd1', sampled: true, format: 'b3-single' });
  const multi = extractTraceContext({ 'x-b3-traceid': '64fe8b2a57d3eff7', 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '0' });
  assert.equal(multi!.traceId, '000000000000000064fe8b2a57d3eff7');
  assert.equal(multi!.sampled, false);
  const both = extractTraceContext({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' });
  assert.equal(both!.format, 'w3c');
  assert.equal(extractTraceContext({ traceparent: 'garbage' }), null);
  const out: Record<string, string> = {};
  injectTraceContext(out, '4bf92f3577b34da6a3ce929d0e0e4736', '1111111111111111', true, 'a=b', true);
  assert.deepEqual(out, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01', tracestate: 'a=b', 'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736', 'x-b3-spanid': '1111111111111111', 'x-b3-sampled': '1' });
});

test('sampling follows Envoy order and random_sampling holds over many request ids', () => {
  const cfg = { clientSampling: 100, randomSampling: 10, overallSampling: 100 };
  let traced = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) if (decideTrace(cfg, randomUUID(), {}, false, undefined).traced) traced++;
  assert.ok(Math.abs(traced / n - 0.1) < 0.015, `random sampling 10% gave ${traced / n}`);
  assert.deepEqual(decideTrace(cfg, randomUUID(), { 'x-client-trace-id': 'abc' }, false, undefined), { traced: true, reason: 'client_forced' });
  assert.deepEqual(decideTrace({ ...cfg, randomSampling: 0 }, randomUUID(), { 'x-envoy-force-trace': '1' }, true, undefined), { traced: true, reason: 'service_forced' });
  assert.equal(decideTrace({ ...cfg, randomSampling: 0 }, randomUUID(), { 'x-envoy-force-trace': '1' }, false, undefined).traced, false);
  assert.deepEqual(decideTrace({ ...cfg, randomSampling: 0 }, randomUUID(), {}, false, true), { traced: true, reason: 'parent' });
  assert.equal(decideTrace({ ...cfg, randomSampling: 100, overallSampling: 0 }, randomUUID(), {}, false, undefined).traced, false);
  // The decision is a stable function of the request id, so every proxy on the path agrees.
  const id = randomUUID();
  assert.equal(decideTrace(cfg, id, {}, false, undefined).traced, decideTrace(cfg, id, {}, false, undefined).traced);
});

test('x-request-id carries the decision in its 14th hex digit', () => {
  const id = '6f9c3a2e-1b2c-4d3e-8f90-0123456789ab';
  assert.equal(markRequestId(id, { traced: true, reason: 'sampling' }), '6f9c3a2e-1b2c-9d3e-8f90-0123456789ab');
  assert.equal(markRequestId(id, { traced: true, reason: 'client_forced' })[14], 'b');
  assert.equal(markRequestId(id, { traced: true, reason: 'service_forced' })[14], 'a');
  assert.equal(markRequestId('not-a-uuid', { traced: true, reason: 'sampling' }), 'not-a-uuid');
  // A request id already marked sampled by an upstream proxy is traced here too.
  assert.equal(decideTrace({ clientSampling: 100, randomSampling: 0, overallSampling: 100 }, '6f9c3a2e-1b2c-9d3e-8f90-0123456789ab', {}, false, undefined).traced, true);
});

test('spans reach a real OTLP/gRPC receiver with parent links, kinds and attributes', async () => {
  const rx = new OtlpReceiver();
  const port = await rx.start();
  const tracer = new MeshTracer({ serviceName: 'productpage.default', collectorUrl: `http://127.0.0.1:${port}`, scheduledDelayMs: 50, commonAttributes: { node_id: 'n1', zone: 'z1' } });
  try {
    const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')!;
    const server = tracer.startSpan('ingress', 'server', parent, Date.now());
    server.setAttribute('http.status_code', '200');
    const client = tracer.startSpan('egress reviews', 'client', server, Date.now());
    client.setAttribute('upstream_cluster', 'outbound|9080||reviews');
    client.setError();
    client.end();
    server.end();
    const spans = await rx.waitForSpans(2);
    assert.equal(spans.length, 2);
    const s = spans.find((x) => x.kind === 'SERVER')!;
    const c = spans.find((x) => x.kind === 'CLIENT')!;
    assert.equal(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(s.parentSpanId, '00f067aa0ba902b7');
    assert.equal(c.traceId, s.traceId);
    assert.equal(c.parentSpanId, s.spanId);
    assert.equal(s.serviceName, 'productpage.default');
    assert.equal(c.attributes.upstream_cluster, 'outbound|9080||reviews');
    assert.equal(c.attributes.node_id, 'n1');
    assert.equal(c.attributes.component, 'proxy');
    assert.equal(c.error, true);
  } finally {
    await tracer.shutdown();
    await rx.stop();
  }
});

test('collector down: span ends never wait, the queue is bounded and drops are counted', async () => {
  // Port 9 on loopback: nothing listens, exports fail.
  const tracer = new MeshTracer({ serviceName: 's', collectorUrl: 'http://127.0.0.1:9', maxQueueSize: 100, maxExportBatchSize: 50, scheduledDelayMs: 20, exportTimeoutMs: 500 });
  try {
    for (let i = 0; i < 1000; i++) tracer.startSpan('ingress', 'server', null, Date.now()).end();
    const st = tracer.stats();
    assert.ok(st.dropped >= 800, `expected most spans dropped, got ${JSON.stringify(st)}`);
    assert.equal(st.exported, 0);
  } finally {
    await tracer.shutdown();
  }
});
