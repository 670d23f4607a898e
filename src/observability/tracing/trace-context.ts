// observability/tracing: trace-context propagation formats — W3C traceparent/tracestate (Envoy's OpenTelemetry
// tracer) and B3 single/multi (accepted on ingress, emitted when configured). Pure string work, no allocation
// beyond the result; invalid headers yield null (no span), never an exception.
import type { HeaderMap } from '../../common/headers.js';
import { firstHeader } from '../../common/headers.js';

export interface TraceContext {
  /** 32 lower-case hex chars. */
  readonly traceId: string;
  /** 16 lower-case hex chars: the parent span. */
  readonly spanId: string;
  /** undefined = no decision carried (B3 without sampled flag). */
  readonly sampled: boolean | undefined;
  readonly traceState?: string;
  readonly format: 'w3c' | 'b3' | 'b3-single';
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/** Parses `traceparent` as Envoy does: exactly 55 chars `VV-<32>-<16>-<2>`, lower-case hex, no all-zero ids. */
export function parseTraceparent(value: string | undefined, traceState?: string): TraceContext | null {
  if (value === undefined || value.length !== 55) return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  const version = value.slice(0, 2);
  if (!/^[0-9a-f]{2}$/.test(version) || version === 'ff') return null;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX32.test(traceId) || !HEX16.test(spanId) || !/^[0-9a-f]{2}$/.test(flags)) return null;
  if (traceId === ZERO32 || spanId === ZERO16) return null;
  const sampled = (parseInt(flags, 16) & 1) === 1;
  return traceState ? { traceId, spanId, sampled, traceState, format: 'w3c' } : { traceId, spanId, sampled, format: 'w3c' };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === '1' || v === 'd' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return undefined;
}

/** B3 multi-header form (x-b3-traceid 16 or 32 hex, x-b3-spanid, x-b3-sampled / x-b3-flags). */
export function parseB3Multi(headers: HeaderMap): TraceContext | null {
  let traceId = firstHeader(headers, 'x-b3-traceid');
  const spanId = firstHeader(headers, 'x-b3-spanid');
  if (traceId === undefined || spanId === undefined) return null;
  traceId = traceId.toLowerCase();
  if (traceId.length === 16) traceId = ZERO16 + traceId;
  const sid = spanId.toLowerCase();
  if (!HEX32.test(traceId) || !HEX16.test(sid) || traceId === ZERO32 || sid === ZERO16) return null;
  const flags = firstHeader(headers, 'x-b3-flags');
  const sampled = flags === '1' ? true : b3Sampled(firstHeader(headers, 'x-b3-sampled'));
  return { traceId, spanId: sid, sampled, format: 'b3' };
}

/** B3 single header `b3: {traceid}-{spanid}[-{sampled}[-{parent}]]` (or just `0`/`1`/`d`, which carries no ids). */
export function parseB3Single(value: string | undefined): TraceContext | null {
  if (value === undefined) return null;
  const parts = value.toLowerCase().split('-');
  if (parts.length < 2) return null;
  let traceId = parts[0];
  const spanId = parts[1];
  if (traceId.length === 16) traceId = ZERO16 + traceId;
  if (!HEX32.test(traceId) || !HEX16.test(spanId) || traceId === ZERO32 || spanId === ZERO16) return null;
  return { traceId, spanId, sampled: b3Sampled(parts[2]), format: 'b3-single' };
}

/** Extracts an incoming context: W3C first (Envoy's OpenTelemetry tracer), then B3 single, then B3 multi. */
export function extractTraceContext(headers: HeaderMap): TraceContext | null {
  const tp = firstHeader(headers, 'traceparent');
  if (tp !== undefined) {
    const ctx = parseTraceparent(tp, firstHeader(headers, 'tracestate'));
    if (ctx) return ctx;
  }
  const single = firstHeader(headers, 'b3');
  if (single !== undefined) {
    const ctx = parseB3Single(single);
    if (ctx) return ctx;
  }
  return parseB3Multi(headers);
}

/** Writes the outgoing context for the next hop (W3C always; B3 multi too when `emitB3`). */
export function injectTraceContext(headers: HeaderMap, traceId: string, spanId: string, sampled: boolean, traceState: string | undefined, emitB3: boolean): void {
  headers['traceparent'] = formatTraceparent(traceId, spanId, sampled);
  if (traceState) headers['tracestate'] = traceState;
  if (emitB3) {
    headers['x-b3-traceid'] = traceId;
    headers['x-b3-spanid'] = spanId;
    headers['x-b3-sampled'] = sampled ? '1' : '0';
    delete headers['b3'];
  }
}
