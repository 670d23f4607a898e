// End to end (issue 7): client → meshlet A (real process, OUTBOUND listener) → meshlet B (real process, INBOUND
// listener) → upstream, both exporting to a real OTLP/gRPC receiver: one trace, A's CLIENT span the parent of B's
// SERVER span, the trace id taken from the client's traceparent when given, and the trace id in A's access log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EchoUpstream } from '../support/upstreams.js';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { MeshletProcess, freePort, httpRequest, pollUntil } from '../support/meshlet-process.js';

const TYPE = 'type.googleapis.com/';
const HCM = `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const HTTP_OPTS = `${TYPE}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`;

function staticCluster(name: string, port: number, h2 = false): Record<string, unknown> {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
    ...(h2 ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTS, explicit_http_config: { http2_protocol_options: {} } } } } : {}),
  };
}

/** One meshlet's bootstrap: a static HTTP listener in `direction`, tracing 100 % to the OTLP receiver, an optional file access log. */
function bootstrap(o: { direction: 'INBOUND' | 'OUTBOUND'; port: number; nextPort: number; collectorPort: number; service: string; accessLog?: string }): Record<string, unknown> {
  const next = o.direction === 'OUTBOUND' ? 'outbound|8080||backend' : 'inbound|8080||';
  return {
    node: { id: `sidecar~${o.service}`, cluster: o.service },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: o.direction.toLowerCase(),
        traffic_direction: o.direction,
        address: { socket_address: { address: '127.0.0.1', port_value: o.port } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
          '@type': HCM,
          stat_prefix: o.direction.toLowerCase(),
          route_config: { name: 'routes', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: next, timeout: '10s' } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` } }],
          tracing: {
            random_sampling: { value: 100 },
            provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': `${TYPE}envoy.config.trace.v3.OpenTelemetryConfig`,
              service_name: o.service, grpc_service: { envoy_grpc: { cluster_name: 'otel' }, timeout: '1s' } } },
          },
          ...(o.accessLog ? { access_log: [{ name: 'envoy.access_loggers.file', typed_config: {
            '@type': `${TYPE}envoy.extensions.access_loggers.file.v3.FileAccessLog`, path: o.accessLog,
            log_format: { text_format_source: { inline_string: 'trace=%TRACE_ID% code=%RESPONSE_CODE% path=%REQ(:PATH)%\n' } },
          } }] } : {}),
        } }] }],
      }],
      clusters: [staticCluster(next, o.nextPort), staticCluster('otel', o.collectorPort, true)],
    },
  };
}

describe('tracing through two real meshlet processes', { timeout: 90_000 }, () => {
  let otlp: OtlpReceiver;
  let up: EchoUpstream;
  let a: MeshletProcess;
  let b: MeshletProcess;
  let aPort = 0;
  let dir = '';
  let accessLog = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshlet-e2e-tracing-'));
    accessLog = join(dir, 'a-access.log');
    otlp = new OtlpReceiver();
    const collectorPort = await otlp.start();
    up = await EchoUpstream.start({ name: 'backend' });
    const bPort = await freePort();
    aPort = await freePort();
    b = await MeshletProcess.start({ bootstrap: bootstrap({ direction: 'INBOUND', port: bPort, nextPort: up.port, collectorPort, service: 'server-side' }) });
    a = await MeshletProcess.start({ bootstrap: bootstrap({ direction: 'OUTBOUND', port: aPort, nextPort: bPort, collectorPort, service: 'client-side', accessLog }) });
    await a.waitState('LIVE');
    await b.waitState('LIVE');
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await up?.close();
    await otlp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The spans of one trace, once A's CLIENT and B's SERVER span both arrived. */
  const traceSpans = async (traceId: string): Promise<{ client: ReceivedSpan; server: ReceivedSpan; all: ReceivedSpan[] }> => {
    const all = await pollUntil(`CLIENT and SERVER spans of trace ${traceId}`, async () => {
      const mine = otlp.spans.filter((s) => s.traceId === traceId);
      return mine.some((s) => s.kind === 'CLIENT') && mine.some((s) => s.kind === 'SERVER') ? mine : undefined;
    }, 20_000, 50);
    return { client: all.find((s) => s.kind === 'CLIENT')!, server: all.find((s) => s.kind === 'SERVER')!, all };
  };

  const logLine = async (path: string): Promise<string> => pollUntil(`access log line for ${path}`, async () => {
    if (!existsSync(accessLog)) return undefined;
    return readFileSync(accessLog, 'utf8').split('\n').find((l) => l.endsWith(`path=${path}`));
  }, 10_000, 50);

  it('the client traceparent sets the trace id; B\'s SERVER span is the child of A\'s CLIENT span; A\'s access log has the trace id', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await httpRequest(`http://127.0.0.1:${aPort}/with-parent`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    assert.equal(r.status, 200, r.body);
    const { client, server, all } = await traceSpans(traceId);
    assert.equal(all.length, 2, `one span per hop: ${JSON.stringify(all.map((s) => `${s.kind} ${s.serviceName}`))}`);
    assert.equal(client.serviceName, 'client-side');
    assert.equal(server.serviceName, 'server-side');
    assert.equal(client.parentSpanId, '00f067aa0ba902b7', 'A\'s span continues the client\'s');
    assert.equal(server.parentSpanId, client.spanId, 'B\'s SERVER span is the child of A\'s CLIENT span');
    assert.equal(client.attributes.upstream_cluster, 'outbound|8080||backend');
    assert.equal(server.attributes.upstream_cluster, 'inbound|8080||');
    const seen = up.requests.at(-1)!;
    assert.equal(seen.headers.traceparent, `00-${traceId}-${server.spanId}-01`, 'the upstream sees B\'s span as its parent');
    assert.equal(await logLine('/with-parent'), `trace=${traceId} code=200 path=/with-parent`);
  });

  it('without a traceparent A starts the trace: one trace id across both spans, the upstream and A\'s access log', async () => {
    const r = await httpRequest(`http://127.0.0.1:${aPort}/fresh`);
    assert.equal(r.status, 200, r.body);
    const seen = up.requests.at(-1)!;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(seen.headers.traceparent));
    assert.ok(m, `upstream traceparent ${String(seen.headers.traceparent)}`);
    const traceId = m[1];
    const { client, server } = await traceSpans(traceId);
    assert.equal(client.parentSpanId, '', 'A\'s CLIENT span is the root');
    assert.equal(server.parentSpanId, client.spanId);
    assert.equal(m[2], server.spanId);
    assert.equal(await logLine('/fresh'), `trace=${traceId} code=200 path=/fresh`);
  });
});
