// Compressor / decompressor: library config errors with paths, Accept-Encoding negotiation (q-values), skip rules
// (min length, content type, no-transform, HEAD, 204/304, already encoded), Vary, gzip and brotli round trips through
// the streaming Transform, per-route disable; decompressor both directions and its inflate-ratio guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import type { Transform } from 'node:stream';
import { acceptEncodingQ } from '../../../../src/http/filters/compressor/compressor-filter.js';
import type { HeaderMap } from '../../../../src/common/headers.js';
import { build, httpFilter, mustBuild, perRoute, req, ROUTER, lookupFrom, T } from './filter-kit.js';
import type { FilterManager, PerFilterConfigLookup } from '../../../../src/http/filters/filter-manager.js';

const NAME = 'envoy.filters.http.compressor';
const C = 'envoy.extensions.filters.http.compressor.v3.Compressor';
const gzipLib = { name: 'gzip', typed_config: { '@type': T('envoy.extensions.compression.gzip.compressor.v3.Gzip') } };
const brLib = { name: 'br', typed_config: { '@type': T('envoy.extensions.compression.brotli.compressor.v3.Brotli') } };
const body = Buffer.from('hello compressible world '.repeat(200));

async function collect(ts: Transform[], input: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), ...(ts as [Transform]), async function (src: AsyncIterable<Buffer>) { for await (const c of src) out.push(c); });
  return Buffer.concat(out);
}

async function respond(m: FilterManager, reqHeaders: HeaderMap, resHeaders: HeaderMap, opts: { method?: string; status?: number; lookup?: PerFilterConfigLookup } = {}): Promise<{ headers: HeaderMap; ts: Transform[] }> {
  const s = m.createStream(req({ method: opts.method, headers: reqHeaders }), opts.lookup ?? null);
  await s.decode();
  const headers = { ...resHeaders };
  s.encodeHeaders(opts.status ?? 200, headers);
  const ts = s.responseBodyTransforms(opts.status ?? 200, headers);
  s.destroy();
  return { headers, ts };
}

test('Accept-Encoding q-values', () => {
  assert.equal(acceptEncodingQ('gzip, br;q=0.5', 'br'), 0.5);
  assert.equal(acceptEncodingQ('gzip;q=0', 'gzip'), 0);
  assert.equal(acceptEncodingQ('*;q=0.2', 'gzip'), 0.2);
  assert.equal(acceptEncodingQ('identity', 'gzip'), 0);
  assert.equal(acceptEncodingQ(undefined, 'gzip'), 0);
});

test('config: unsupported library and request compression are errors with paths', () => {
  const { errors } = build([httpFilter(NAME, C, {
    compressor_library: { name: 'z', typed_config: { '@type': T('envoy.extensions.compression.gzip.decompressor.v3.Gzip') } },
    request_direction_config: {},
  }), ROUTER]);
  assert.deepEqual(errors.map((e) => e.path).sort(), ['http_filters[0].typed_config.compressor_library.typed_config', 'http_filters[0].typed_config.request_direction_config']);
});

test('gzip: compresses a JSON response as a stream, sets content-encoding, drops content-length, adds Vary', async () => {
  const m = mustBuild([httpFilter(NAME, C, { compressor_library: gzipLib }), ROUTER]);
  const { headers, ts } = await respond(m, { 'accept-encoding': 'gzip, deflate' }, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), etag: '"v1"' });
  assert.equal(headers['content-encoding'], 'gzip');
  assert.equal(headers['content-length'], undefined);
  assert.equal(headers.vary, 'Accept-Encoding');
  assert.equal(headers.etag, 'W/"v1"');
  assert.equal(ts.length, 1);
  // Several chunks in, flushed per chunk: output appears before the end (no whole-body buffering).
  const z = await collect(ts, [body.subarray(0, 1000), body.subarray(1000)]);
  assert.ok(z.length < body.length / 4);
  assert.deepEqual(gunzipSync(z), body);
});

test('brotli round trip', async () => {
  const m = mustBuild([httpFilter(NAME, C, { compressor_library: brLib }), ROUTER]);
  const { headers, ts } = await respond(m, { 'accept-encoding': 'br' }, { 'content-type': 'text/html' });
  assert.equal(headers['content-encoding'], 'br');
  assert.deepEqual(brotliDecompressSync(await collect(ts, [body])), body);
});

test('skip rules: not accepted, small, other type, no-transform, HEAD, 204/304, already encoded; Vary still added when compressible', async () => {
  const m = mustBuild([httpFilter(NAME, C, { compressor_library: gzipLib, response_direction_config: { common_config: { min_content_length: 100, content_type: ['text/plain'] } } }), ROUTER]);
  const ae = { 'accept-encoding': 'gzip' };
  const tp = { 'content-type': 'text/plain' };
  const none = async (rq: HeaderMap, rs: HeaderMap, o = {}): Promise<HeaderMap> => {
    const r = await respond(m, rq, rs, o);
    assert.equal(r.ts.length, 0);
    assert.equal(r.headers['content-encoding'], rs['content-encoding']);
    return r.headers;
  };
  assert.equal((await none({ 'accept-encoding': 'br' }, tp)).vary, 'Accept-Encoding');
  await none(ae, { ...tp, 'content-length': '99' });
  await none(ae, { 'content-type': 'image/png' });
  await none(ae, { ...tp, 'cache-control': 'public, no-transform' });
  await none(ae, tp, { method: 'HEAD' });
  await none(ae, tp, { status: 204 });
  await none(ae, tp, { status: 304 });
  await none(ae, { ...tp, 'content-encoding': 'br' });
  const off = lookupFrom({ [NAME]: perRoute('envoy.extensions.filters.http.compressor.v3.CompressorPerRoute', { disabled: true }) });
  await none(ae, tp, { lookup: off });
  assert.equal((await respond(m, ae, tp)).headers['content-encoding'], 'gzip');
});

const D = 'envoy.extensions.filters.http.decompressor.v3.Decompressor';
const gzipD = { name: 'gzip', typed_config: { '@type': T('envoy.extensions.compression.gzip.decompressor.v3.Gzip') } };

test('decompressor: request body inflated and header removed, accept-encoding advertised; response inflated', async () => {
  const m = mustBuild([httpFilter('envoy.filters.http.decompressor', D, { decompressor_library: gzipD }), ROUTER]);
  const r = req({ method: 'POST', headers: { 'content-encoding': 'gzip', 'content-length': '10', 'accept-encoding': 'br' } });
  const s = m.createStream(r, null);
  await s.decode(false);
  assert.equal(r.head.headers['content-encoding'], undefined);
  assert.equal(r.head.headers['content-length'], undefined);
  assert.equal(r.head.headers['accept-encoding'], 'br, gzip');
  assert.deepEqual(await collect(s.requestBodyTransforms(), [gzipSync(body)]), body);
  const rh: HeaderMap = { 'content-encoding': 'gzip' };
  s.encodeHeaders(200, rh);
  assert.equal(rh['content-encoding'], undefined);
  assert.deepEqual(await collect(s.responseBodyTransforms(200, rh), [gzipSync(body)]), body);
  s.destroy();
});

test('decompressor: a decompression bomb beyond max_inflate_ratio fails the stream', async () => {
  const m = mustBuild([httpFilter('envoy.filters.http.decompressor', D, {
    decompressor_library: { name: 'gzip', typed_config: { '@type': T('envoy.extensions.compression.gzip.decompressor.v3.Gzip'), max_inflate_ratio: 10 } },
  }), ROUTER]);
  const s = m.createStream(req(), null);
  await s.decode();
  const rh: HeaderMap = { 'content-encoding': 'gzip' };
  s.encodeHeaders(200, rh);
  const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
  await assert.rejects(collect(s.responseBodyTransforms(200, rh), [bomb]), /max_inflate_ratio/);
  s.destroy();
});
