// observability/tracing: Envoy's tracing decision for a request (HCM `tracing` client/random/overall sampling),
// and the x-request-id nibble that carries it to the next proxy (conventions.md §7.1–7.2).
import type { HeaderMap } from '../../common/headers.js';
import { firstHeader } from '../../common/headers.js';

export interface SamplingConfig {
  /** Percent (0–100) of requests with x-client-trace-id that are force-traced. Envoy default 100. */
  readonly clientSampling: number;
  /** Percent (0–100), 0.01 % granularity. Envoy default 100. */
  readonly randomSampling: number;
  /** Percent (0–100) cap applied last. Envoy default 100. */
  readonly overallSampling: number;
}

export type TraceReason = 'client_forced' | 'service_forced' | 'sampling' | 'parent' | 'not_traceable' | 'health_check';

export interface TraceDecision {
  readonly traced: boolean;
  readonly reason: TraceReason;
}

/** The 14th hex digit of a UUIDv4 x-request-id (index 14 of the string) — Envoy's trace-status nibble. */
const NIBBLE = 14;
export const RequestIdTraceStatus = { sampled: '9', forced: 'a', client: 'b', none: '4' } as const;

/** Stable integer from the first 8 hex digits of the request id, as Envoy's UUID extension computes it. */
export function requestIdInteger(requestId: string): number {
  const n = parseInt(requestId.slice(0, 8), 16);
  return Number.isNaN(n) ? 0 : n;
}

function percentHit(percent: number, value: number): boolean {
  // Envoy converts the Percent to a FractionalPercent over TEN_THOUSAND: value % 10000 < percent * 100.
  return value % 10000 < Math.round(percent * 100);
}

/**
 * Decides whether a request is traced. Order (Envoy): x-client-trace-id → client_sampling; x-envoy-force-trace
 * (internal requests) → traced; incoming trace context with a decision → that decision (OpenTelemetry tracer
 * honours the parent); else random_sampling on a stable hash of the request id; overall_sampling caps all.
 */
export function decideTrace(cfg: SamplingConfig, requestId: string, headers: HeaderMap, internal: boolean, parentSampled: boolean | undefined): TraceDecision {
  const value = requestIdInteger(requestId);
  let decision: TraceDecision;
  if (firstHeader(headers, 'x-client-trace-id') !== undefined && percentHit(cfg.clientSampling, value)) {
    decision = { traced: true, reason: 'client_forced' };
  } else if (internal && firstHeader(headers, 'x-envoy-force-trace') !== undefined) {
    decision = { traced: true, reason: 'service_forced' };
  } else if (parentSampled !== undefined) {
    decision = { traced: parentSampled, reason: 'parent' };
  } else if (requestId.length > NIBBLE && requestId[NIBBLE] === RequestIdTraceStatus.sampled) {
    // An upstream proxy already decided to sample (request-id carries the decision).
    decision = { traced: true, reason: 'sampling' };
  } else {
    decision = percentHit(cfg.randomSampling, value) ? { traced: true, reason: 'sampling' } : { traced: false, reason: 'not_traceable' };
  }
  if (decision.traced && decision.reason !== 'parent' && !percentHit(cfg.overallSampling, value)) {
    return { traced: false, reason: 'not_traceable' };
  }
  return decision;
}

/** Returns the request id with its trace-status nibble set (UUIDv4 ids only; others are returned unchanged). */
export function markRequestId(requestId: string, decision: TraceDecision): string {
  if (requestId.length !== 36 || requestId[8] !== '-' || requestId[13] !== '-') return requestId;
  let c: string = RequestIdTraceStatus.none;
  if (decision.traced) c = decision.reason === 'client_forced' ? RequestIdTraceStatus.client : decision.reason === 'service_forced' ? RequestIdTraceStatus.forced : RequestIdTraceStatus.sampled;
  if (requestId[NIBBLE] === c) return requestId;
  return requestId.slice(0, NIBBLE) + c + requestId.slice(NIBBLE + 1);
}
