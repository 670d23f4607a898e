// test/support: an open-loop, fixed-rate HTTP load generator for fault tests (undici for HTTP/1.1, node:http2 for
// HTTP/2). Requests are started on a schedule that never waits for earlier answers (no coordinated omission), bounded
// in count and time; every outcome is classified (ok, connect refused, reset, timeout, 5xx by response flag /
// x-envoy-overloaded, bad checksum, other) and kept with its start time so tests can ask "what failed after t".
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { Agent, request as undiciRequest } from 'undici';

export type Outcome = 'ok' | 'connect_refused' | 'reset' | 'timeout' | '5xx' | '4xx' | 'bad_checksum' | 'other';

export interface RequestRecord {
  readonly i: number;
  /** ms since the load started, when the request was scheduled. */
  readonly startMs: number;
  readonly latencyMs: number;
  readonly outcome: Outcome;
  readonly status: number;
  /** The 5xx class key: `503`, `503 UO` (x-envoy-overloaded), `504 UT` (from the flags header when configured). */
  readonly errorKey: string;
  readonly upstream: string;
  readonly detail: string;
  /** The response headers named in LoadOptions.captureHeaders (lower-case; absent when not sent). */
  readonly captured?: Readonly<Record<string, string>>;
}

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:1234 */
  readonly url: string;
  readonly protocol?: 'http1' | 'http2';
  readonly rps: number;
  readonly durationMs: number;
  /** Hard cap on requests (default rps × duration). */
  readonly maxRequests?: number;
  /** Per-request client timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** HTTP/1 connection count of the undici pool (default 64). */
  readonly connections?: number;
  readonly path?: (i: number) => string;
  readonly method?: (i: number) => string;
  readonly headers?: (i: number) => Record<string, string>;
  readonly body?: (i: number) => Buffer | string | undefined;
  /** A response header carrying Envoy response flags (e.g. added by the test backend or a route); used in errorKey. */
  readonly flagsHeader?: string;
  /** Response headers to keep on each record (lower-case names), e.g. ['connection']. */
  readonly captureHeaders?: readonly string[];
  /** Stop scheduling when this returns true (checked every tick). */
  readonly stop?: () => boolean;
}

export interface LoadResult {
  readonly records: readonly RequestRecord[];
  readonly sent: number;
  readonly elapsedMs: number;
  /** HTTP/2 GOAWAY frames received (ms since start, error code, last stream id). */
  readonly goaways: readonly { atMs: number; code: number; lastStreamId: number }[];
  count(o: Outcome): number;
  failures(fromMs?: number, toMs?: number): RequestRecord[];
  errorClasses(): Record<string, number>;
  percentile(p: number, filter?: (r: RequestRecord) => boolean): number;
  summary(): string;
}

function classifyError(e: unknown): { outcome: Outcome; detail: string } {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = String(err?.code ?? err?.cause?.code ?? '');
  const msg = `${code} ${String(err?.message ?? e)}`;
  if (code === 'ECONNREFUSED') return { outcome: 'connect_refused', detail: msg };
  if (/TIMEOUT|ETIMEDOUT|AbortError|ABORT_ERR/i.test(code + ' ' + String(err?.name))) return { outcome: 'timeout', detail: msg };
  if (/ECONNRESET|EPIPE|UND_ERR_SOCKET|ERR_HTTP2_STREAM_ERROR|ERR_HTTP2_SESSION_ERROR|ERR_HTTP2_GOAWAY|ERR_HTTP2_STREAM_CANCEL|UND_ERR_CLOSED|ERR_HTTP2_INVALID_SESSION|premature|other side closed/i.test(msg)) {
    return { outcome: 'reset', detail: msg };
  }
  return { outcome: 'other', detail: msg };
}

/** Classifies a complete response: status class, x-checksum (sha256 hex of the body) verification. */
function classifyResponse(status: number, headers: Record<string, string | string[] | undefined>, body: Buffer, flagsHeader?: string): { outcome: Outcome; errorKey: string; detail: string } {
  if (status >= 500) {
    const flags = flagsHeader ? String(headers[flagsHeader] ?? '') : '';
    const key = `${status}${headers['x-envoy-overloaded'] !== undefined ? ' UO' : ''}${flags ? ' ' + flags : ''}`;
    return { outcome: '5xx', errorKey: key, detail: body.toString('utf8').slice(0, 120) };
  }
  if (status >= 400) return { outcome: '4xx', errorKey: String(status), detail: body.toString('utf8').slice(0, 120) };
  const sum = headers['x-checksum'];
  if (typeof sum === 'string' && createHash('sha256').update(body).digest('hex') !== sum) {
    return { outcome: 'bad_checksum', errorKey: 'bad_checksum', detail: `body of ${body.length} bytes does not match x-checksum` };
  }
  return { outcome: 'ok', errorKey: '', detail: '' };
}

function capture(h: Record<string, string | string[] | undefined>, names?: readonly string[]): Record<string, string> | undefined {
  if (!names) return undefined;
  const out: Record<string, string> = {};
  for (const n of names) if (h[n] !== undefined) out[n] = String(h[n]);
  return out;
}

function makeResult(records: RequestRecord[], sent: number, elapsedMs: number, goaways: LoadResult['goaways']): LoadResult {
  return {
    records,
    goaways,
    sent,
    elapsedMs,
    count: (o) => records.filter((r) => r.outcome === o).length,
    failures: (from = 0, to = Infinity) => records.filter((r) => r.outcome !== 'ok' && r.startMs >= from && r.startMs < to),
    errorClasses: () => {
      const m: Record<string, number> = {};
      for (const r of records) if (r.outcome !== 'ok') {
        const k = r.outcome === '5xx' || r.outcome === '4xx' ? r.errorKey : r.outcome;
        m[k] = (m[k] ?? 0) + 1;
      }
      return m;
    },
    percentile: (p, filter) => {
      const l = (filter ? records.filter(filter) : records).map((r) => r.latencyMs).sort((a, b) => a - b);
      if (l.length === 0) return 0;
      return l[Math.min(l.length - 1, Math.ceil((p / 100) * l.length) - 1)] as number;
    },
    summary() {
      const ok = records.filter((r) => r.outcome === 'ok').length;
      return `sent ${sent} in ${elapsedMs} ms, ok ${ok}, errors ${JSON.stringify(this.errorClasses())}, p50 ${this.percentile(50).toFixed(1)} ms, p99 ${this.percentile(99).toFixed(1)} ms, max ${this.percentile(100).toFixed(1)} ms`;
    },
  };
}

/** Runs the load and resolves when every started request has finished (each bounded by timeoutMs). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const max = o.maxRequests ?? Math.ceil((o.rps * o.durationMs) / 1000);
  const timeoutMs = o.timeoutMs ?? 10_000;
  const records: RequestRecord[] = [];
  const goaways: { atMs: number; code: number; lastStreamId: number }[] = [];
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  const base = new URL(o.url);
  let agent: Agent | null = null;
  let session: http2.ClientHttp2Session | null = null;

  const getSession = (): http2.ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = http2.connect(base.origin);
    s.on('error', () => undefined);
    s.on('goaway', (code: number, lastStreamId: number) => {
      goaways.push({ atMs: performance.now() - t0, code, lastStreamId });
      if (session === s) session = null;
    });
    s.on('close', () => { if (session === s) session = null; });
    session = s;
    return s;
  };
  if ((o.protocol ?? 'http1') === 'http1') {
    agent = new Agent({ connections: o.connections ?? 64, pipelining: 1, keepAliveTimeout: 4000, connect: { timeout: timeoutMs } });
  }

  const one = async (i: number, startMs: number): Promise<void> => {
    const path = o.path?.(i) ?? `/load/${i}`;
    const method = o.method?.(i) ?? 'GET';
    const headers = { 'x-load-seq': String(i), ...o.headers?.(i) };
    const body = o.body?.(i);
    let rec: Omit<RequestRecord, 'latencyMs'>;
    try {
      if (agent) {
        const r = await undiciRequest(new URL(path, base), {
          method: method as 'GET', headers, body, dispatcher: agent, signal: AbortSignal.timeout(timeoutMs),
          headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
        });
        const buf = Buffer.from(await r.body.arrayBuffer());
        const h = r.headers as Record<string, string | string[] | undefined>;
        const c = classifyResponse(r.statusCode, h, buf, o.flagsHeader);
        rec = { i, startMs, status: r.statusCode, upstream: String(h['x-upstream'] ?? ''), captured: capture(h, o.captureHeaders), ...c };
      } else {
        const { status, h, buf } = await new Promise<{ status: number; h: http2.IncomingHttpHeaders; buf: Buffer }>((res, rej) => {
          const st = getSession().request({ ':method': method, ':path': path, ...headers }, { endStream: body === undefined });
          let timedOut = false;
          const timer = setTimeout(() => { timedOut = true; st.close(http2.constants.NGHTTP2_CANCEL); }, timeoutMs);
          let hdrs: http2.IncomingHttpHeaders = {};
          const chunks: Buffer[] = [];
          st.on('response', (x) => (hdrs = x));
          st.on('data', (c: Buffer) => chunks.push(c));
          let ended = false;
          st.on('end', () => (ended = true));
          // Judge on 'close', when the stream's fate is known: END_STREAM (rstCode NO_ERROR after 'end') is complete;
          // anything else (RST_STREAM from the peer, our timeout CANCEL, session gone) is not, even if 'end' fired.
          st.on('close', () => {
            clearTimeout(timer);
            if (timedOut) rej(Object.assign(new Error('timed out'), { code: 'TIMEOUT' }));
            else if (ended && st.rstCode === http2.constants.NGHTTP2_NO_ERROR) res({ status: Number(hdrs[':status'] ?? 0), h: hdrs, buf: Buffer.concat(chunks) });
            else rej(Object.assign(new Error(`stream closed (rst ${st.rstCode})`), { code: 'ERR_HTTP2_STREAM_ERROR' }));
          });
          st.on('error', (e) => { clearTimeout(timer); rej(e); });
          if (body !== undefined) st.end(body);
        });
        const c = classifyResponse(status, h as Record<string, string | string[] | undefined>, buf, o.flagsHeader);
        rec = { i, startMs, status, upstream: String(h['x-upstream'] ?? ''), captured: capture(h as Record<string, string | string[] | undefined>, o.captureHeaders), ...c };
      }
    } catch (e) {
      const c = classifyError(e);
      rec = { i, startMs, status: 0, errorKey: c.outcome, upstream: '', ...c };
    }
    records.push({ ...rec, latencyMs: performance.now() - t0 - startMs });
  };

  const interval = 1000 / o.rps;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now() - t0;
      if (now >= o.durationMs || sent >= max || o.stop?.()) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Start every request whose scheduled time has come (catches up after a late tick, never bursts beyond).
      while (sent < max && sent * interval <= now) {
        const i = sent++;
        const p = one(i, i * interval).finally(() => pending.delete(p));
        pending.add(p);
      }
    };
    const timer = setInterval(tick, Math.max(1, Math.min(10, interval / 2)));
  });
  await Promise.all([...pending]);
  const elapsedMs = performance.now() - t0;
  await agent?.close().catch(() => undefined);
  (session as http2.ClientHttp2Session | null)?.close();
  records.sort((a, b) => a.i - b.i);
  return makeResult(records, sent, Math.round(elapsedMs), goaways);
}
