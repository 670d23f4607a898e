// Access log translation and rendering: Envoy's default line, custom text / JSON / typed JSON formats, every filter
// kind, rejection of unknown loggers/filters/operators by name, and the shared asynchronous file writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Issues } from '../../../src/common/validation.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { compileAccessLogs, validateAccessLogs, type AccessLogSinkSource } from '../../../src/observability/access-log/access-logger.js';
import { AccessLogWriters } from '../../../src/observability/access-log/access-log-writers.js';
import { recordFromStream, recordFromTcpSession, type AccessLogRecord, type StreamInfoLike } from '../../../src/observability/access-log/access-log-record.js';

const FILE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

function canonicalAccessLog(yaml: Record<string, unknown>): Record<string, unknown> {
  return jsonToCanonical('envoy.config.accesslog.v3.AccessLog', yaml) as Record<string, unknown>;
}

class MemorySinks implements AccessLogSinkSource {
  readonly lines = new Map<string, string[]>();
  get(path: string): { write(line: string): void } {
    const arr = this.lines.get(path) ?? [];
    this.lines.set(path, arr);
    return { write: (l) => arr.push(l) };
  }
}

function stream(over: Partial<StreamInfoLike> = {}): StreamInfoLike {
  return {
    startTimeMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    durationMs: 12,
    head: {
      method: 'GET', scheme: 'http', authority: 'example.com', path: '/hello?x=1',
      headers: { 'user-agent': 'curl/8.0', 'x-request-id': 'rid-1', 'x-forwarded-for': '10.0.0.1' },
    },
    protocol: 'HTTP/1.1',
    responseCode: 200,
    responseFlags: [],
    responseCodeDetails: 'via_upstream',
    upstreamHost: '127.0.0.1:9000',
    upstreamCluster: 'backend',
    routeName: 'r1',
    statPrefix: 'ingress',
    connection: { remoteAddress: '127.0.0.1', remotePort: 5555, localAddress: '127.0.0.1', localPort: 8080, sni: '' },
    bytesReceived: 3,
    bytesSent: 42,
    responseHeaders: { 'x-envoy-upstream-service-time': '7' },
    requestId: 'rid-1',
    traceId: '',
    upstreamServiceTimeMs: 7,
    upstreamLocalAddress: '127.0.0.1:40000',
    attemptCount: 1,
    downstreamLocalAddress: '127.0.0.1:8080',
    requestedServerName: '',
    ...over,
  };
}

function compile(entries: Record<string, unknown>[], sinks = new MemorySinks()): { log: (r: AccessLogRecord) => void; sinks: MemorySinks; issues: Issues } {
  const issues = new Issues('access_log');
  const set = compileAccessLogs(entries.map(canonicalAccessLog), issues, sinks);
  return { log: (r) => set.log(r), sinks, issues };
}

const fileLog = (typed: Record<string, unknown> = {}, filter?: Record<string, unknown>): Record<string, unknown> => ({
  name: 'envoy.access_loggers.file',
  typed_config: { '@type': FILE, path: '/tmp/x.log', ...typed },
  ...(filter ? { filter } : {}),
});

test('no format: Envoy default line, field by field', () => {
  const { log, sinks, issues } = compile([fileLog()]);
  assert.deepEqual(issues.allErrors(), []);
  log(recordFromStream(stream()));
  log(recordFromStream(stream({
    responseCode: 404, responseFlags: ['NR'], responseCodeDetails: 'route_not_found', upstreamHost: '', upstreamCluster: '',
    bytesSent: 0, responseHeaders: {}, upstreamServiceTimeMs: -1, attemptCount: 0,
    head: { method: 'POST', scheme: 'http', authority: 'a', path: '/new', headers: { 'x-envoy-original-path': '/orig' } },
  })));
  assert.deepEqual(sinks.lines.get('/tmp/x.log'), [
    '[2024-01-02T03:04:05.678Z] "GET /hello?x=1 HTTP/1.1" 200 - 3 42 12 7 "10.0.0.1" "curl/8.0" "rid-1" "example.com" "127.0.0.1:9000"\n',
    '[2024-01-02T03:04:05.678Z] "POST /orig HTTP/1.1" 404 NR 3 0 12 - "-" "-" "-" "a" "-"\n',
  ]);
});

test('custom text format with the access-log operators; unset values print "-", omit_empty_values prints ""', () => {
  const fmt = '%START_TIME(%Y/%m/%d %H:%M:%S.%3f)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ' +
    '%UPSTREAM_CLUSTER% %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_TRANSPORT_FAILURE_REASON% %DOWNSTREAM_LOCAL_ADDRESS% ' +
    '%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %TRACE_ID% %REQ(USER-AGENT):4% %RESP(X-NONE)% %HOSTNAME%\n';
  const { log, sinks, issues } = compile([
    fileLog({ log_format: { text_format_source: { inline_string: fmt } } }),
    { name: 'out', typed_config: { '@type': STDOUT, log_format: { text_format_source: { inline_string: '[%RESP(X-NONE)%][%ROUTE_NAME%]' }, omit_empty_values: true } } },
  ]);
  assert.deepEqual(issues.allErrors(), []);
  log(recordFromStream(stream({ attemptCount: 3, traceId: 'abcdef0123456789abcdef0123456789', responseFlags: ['UF', 'URX'], requestedServerName: 'sni.example' })));
  const [line] = sinks.lines.get('/tmp/x.log')!;
  const f = line.trimEnd().split(' ');
  assert.equal(f[0], '2024/01/02');
  assert.match(f[1], /^03:04:05\./);
  assert.deepEqual(f.slice(2, 17), [
    '200', 'UF,URX', 'via_upstream', '-', 'backend', 'backend', '127.0.0.1:40000', '-', '127.0.0.1:8080', '127.0.0.1:5555',
    'sni.example', 'r1', '3', 'abcdef0123456789abcdef0123456789', 'curl',
  ]);
  assert.equal(f[17], '-');
  assert.ok(f[18].length > 0);
  assert.deepEqual(sinks.lines.get('stdout'), ['[][r1]']);
});

test('json_format renders strings ("-" when unset), typed_json_format keeps numbers and null, nested objects', () => {
  const { log, sinks, issues } = compile([
    fileLog({ log_format: { json_format: { code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', nested: { path: '%REQ(:PATH)%', lit: 'x-%PROTOCOL%' } } } }),
    { name: 'typed', typed_config: { '@type': FILE, path: '/tmp/t.log', typed_json_format: { code: '%RESPONSE_CODE%', dur: '%DURATION%', flags: '%RESPONSE_FLAGS%', k: 5 } } },
    { name: 'omit', typed_config: { '@type': FILE, path: '/tmp/o.log', log_format: { json_format: { flags: '%RESPONSE_FLAGS%', code: '%RESPONSE_CODE%' }, omit_empty_values: true } } },
  ]);
  assert.deepEqual(issues.allErrors(), []);
  log(recordFromStream(stream()));
  assert.deepEqual(JSON.parse(sinks.lines.get('/tmp/x.log')![0]), { code: '200', flags: '-', nested: { path: '/hello?x=1', lit: 'x-HTTP/1.1' } });
  assert.ok(sinks.lines.get('/tmp/x.log')![0].endsWith('}\n'));
  assert.deepEqual(JSON.parse(sinks.lines.get('/tmp/t.log')![0]), { code: 200, dur: 12, flags: null, k: 5 });
  assert.deepEqual(JSON.parse(sinks.lines.get('/tmp/o.log')![0]), { code: '200' });
});

test('legacy format / json_format fields and tcp sessions (HTTP fields "-", code 0)', () => {
  const { log, sinks } = compile([fileLog({ format: '%PROTOCOL% %REQ(:METHOD)% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_HOST% %CONNECTION_TERMINATION_DETAILS%\n' })]);
  log(recordFromTcpSession({
    startTimeMs: 0, durationMs: 5, statPrefix: 'tcp', cluster: 'db', upstreamHost: null, responseFlags: ['UF'], connectAttempts: 1,
    bytesReceived: 0, bytesSent: 0, reason: 'upstream_connect_failure', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2,
  }));
  assert.deepEqual(sinks.lines.get('/tmp/x.log'), ['- - 0 UF 0 0 - upstream_connect_failure\n']);
});

test('filters: status code, duration, response flag, header, and/or, runtime fraction, traceable, not health check', () => {
  const cases: [Record<string, unknown>, Partial<StreamInfoLike>, boolean][] = [
    [{ status_code_filter: { comparison: { op: 'GE', value: { default_value: 400, runtime_key: '' } } } }, { responseCode: 503 }, true],
    [{ status_code_filter: { comparison: { op: 'GE', value: { default_value: 400, runtime_key: '' } } } }, { responseCode: 200 }, false],
    [{ status_code_filter: { comparison: { op: 'EQ', value: { default_value: 0, runtime_key: '' } } } }, { responseCode: 0 }, true],
    [{ duration_filter: { comparison: { op: 'LE', value: { default_value: 10, runtime_key: '' } } } }, { durationMs: 12 }, false],
    [{ response_flag_filter: {} }, { responseFlags: ['UH'] }, true],
    [{ response_flag_filter: {} }, {}, false],
    [{ response_flag_filter: { flags: ['UO', 'NR'] } }, { responseFlags: ['UH'] }, false],
    [{ response_flag_filter: { flags: ['UO', 'NR'] } }, { responseFlags: ['NR'] }, true],
    [{ header_filter: { header: { name: 'user-agent', string_match: { prefix: 'curl' } } } }, {}, true],
    [{ header_filter: { header: { name: ':method', string_match: { exact: 'POST' } } } }, {}, false],
    [{ and_filter: { filters: [{ response_flag_filter: {} }, { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 503, runtime_key: '' } } } }] } }, { responseCode: 503, responseFlags: ['UH'] }, true],
    [{ and_filter: { filters: [{ response_flag_filter: {} }, { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 503, runtime_key: '' } } } }] } }, { responseCode: 503 }, false],
    [{ or_filter: { filters: [{ response_flag_filter: {} }, { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 503, runtime_key: '' } } } }] } }, { responseCode: 503 }, true],
    [{ runtime_filter: { runtime_key: 'k', percent_sampled: { numerator: 100, denominator: 'HUNDRED' } } }, {}, true],
    [{ runtime_filter: { runtime_key: 'k', percent_sampled: { numerator: 0, denominator: 'HUNDRED' } } }, {}, false],
    [{ traceable_filter: {} }, {}, false],
    [{ traceable_filter: {} }, { traceId: '0123' }, true],
    [{ not_health_check_filter: {} }, {}, true],
  ];
  for (const [filter, over, logged] of cases) {
    const { log, sinks, issues } = compile([fileLog({ format: 'x\n' }, filter)]);
    assert.deepEqual(issues.allErrors(), [], JSON.stringify(filter));
    log(recordFromStream(stream(over)));
    assert.equal((sinks.lines.get('/tmp/x.log') ?? []).length, logged ? 1 : 0, `${JSON.stringify(filter)} ${JSON.stringify(over)}`);
  }
});

test('runtime_filter with a request id is stable per id and close to the fraction', () => {
  const { log, sinks } = compile([fileLog({ format: '%REQ(X-REQUEST-ID)%\n' }, { runtime_filter: { runtime_key: 'k', percent_sampled: { numerator: 30, denominator: 'HUNDRED' } } })]);
  for (let i = 0; i < 2000; i++) {
    const id = `id-${i}`;
    log(recordFromStream(stream({ head: { method: 'GET', scheme: 'http', authority: 'a', path: '/', headers: { 'x-request-id': id } } })));
    log(recordFromStream(stream({ head: { method: 'GET', scheme: 'http', authority: 'a', path: '/', headers: { 'x-request-id': id } } })));
  }
  const lines = sinks.lines.get('/tmp/x.log')!;
  assert.equal(lines.length % 2, 0);
  for (let i = 0; i < lines.length; i += 2) assert.equal(lines[i], lines[i + 1]);
  const frac = lines.length / 2 / 2000;
  assert.ok(frac > 0.25 && frac < 0.35, String(frac));
});

test('invalid configs are rejected with field paths, naming what is unsupported', () => {
  const issues = new Issues('access_log');
  validateAccessLogs([
    // Already canonical (the proto tables here do not carry this type): the translator sees only '@type'.
    { name: 'grpc', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig', common_config: { log_name: 'x' } } },
    canonicalAccessLog(fileLog({ format: '%NOT_AN_OPERATOR%' })),
    canonicalAccessLog(fileLog({}, { grpc_status_filter: { statuses: ['OK'] } })),
    canonicalAccessLog(fileLog({}, { response_flag_filter: { flags: ['XX'] } })),
    canonicalAccessLog(fileLog({ path: '' })),
  ], issues);
  const errs = issues.allErrors().map((e) => `${e.path}: ${e.message}`);
  assert.equal(errs.length, 5, errs.join('\n'));
  assert.match(errs[0], /access_log\[0\]\.typed_config: .*HttpGrpcAccessLogConfig.*not supported/);
  assert.match(errs[1], /access_log\[1\]\.typed_config\.format: .*unknown command %NOT_AN_OPERATOR%/);
  assert.match(errs[2], /access_log\[2\]\.filter\.grpc_status_filter: .*not supported/);
  assert.match(errs[3], /access_log\[3\]\.filter\.response_flag_filter\.flags\[0\]: unknown response flag "XX"/);
  assert.match(errs[4], /access_log\[4\]\.typed_config\.path: path is required/);
});

test('file writer: one destination per path shared by loggers, lines reach the file on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-al-'));
  const path = join(dir, 'sub', 'access.log');
  const writers = new AccessLogWriters({ flushIntervalMs: 50 });
  try {
    const issues = new Issues();
    const a = compileAccessLogs([canonicalAccessLog(fileLog({ path, format: 'A %RESPONSE_CODE%\n' }))], issues, writers);
    const b = compileAccessLogs([canonicalAccessLog(fileLog({ path, format: 'B %RESPONSE_CODE%\n' }))], issues, writers);
    assert.deepEqual(issues.allErrors(), []);
    assert.equal(writers.get(path), writers.get(path));
    for (let i = 0; i < 100; i++) {
      a.log(recordFromStream(stream({ responseCode: 200 })));
      b.log(recordFromStream(stream({ responseCode: 201 })));
    }
  } finally {
    await writers.close();
  }
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  rmSync(dir, { recursive: true, force: true });
  assert.equal(lines.length, 200);
  assert.equal(lines.filter((l) => l === 'A 200').length, 100);
  assert.equal(lines.filter((l) => l === 'B 201').length, 100);
});

test('file writer batches: lines cross batch boundaries, multi-byte and over-long lines arrive whole and in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-al-'));
  const path = join(dir, 'batch.log');
  // A 64-byte batch: most lines hand the batch over, some lines are longer than a batch on their own.
  const writers = new AccessLogWriters({ flushIntervalMs: 60_000, minLength: 64 });
  const expected: string[] = [];
  try {
    const sink = writers.get(path);
    for (let i = 0; i < 500; i++) {
      const line = i % 7 === 0 ? `${i} ${'é€'.repeat(i % 40)}` : i % 11 === 0 ? `${i} ${'x'.repeat(200)}` : `line ${i}`;
      expected.push(line);
      sink.write(`${line}\n`);
    }
  } finally {
    await writers.close();
  }
  const got = readFileSync(path, 'utf8').split('\n');
  rmSync(dir, { recursive: true, force: true });
  assert.equal(got.pop(), '');
  assert.deepEqual(got, expected);
});

test('file writer: lines below the batch size reach the file on the flush interval, before close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-al-'));
  const path = join(dir, 'flush.log');
  const writers = new AccessLogWriters({ flushIntervalMs: 30 });
  try {
    writers.get(path).write('one line\n');
    let text = '';
    for (let i = 0; i < 200 && text === ''; i++) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        text = readFileSync(path, 'utf8');
      } catch { /* not created yet */ }
    }
    assert.equal(text, 'one line\n');
  } finally {
    await writers.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
