// process/: the messages between the primary (xDS, admin, lifecycle) and its workers (data path) over the
// node:cluster IPC channel. Plain JSON only: snapshots travel as WireSnapshot (see snapshot-wire.ts).
import type { WireSnapshot } from './snapshot-wire.js';
import type { WireHealthUpdate, WireOutcomeBatch } from './shared-health-wire.js';

export interface WorkerListenerStatus {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly state: 'active' | 'draining';
  readonly connections: number;
}

/** What the primary may ask a worker for; `id` pairs the answer with the question. */
export type WorkerQuery =
  | { readonly q: 'status' }
  | { readonly q: 'metrics' }
  | { readonly q: 'clusters'; readonly format: 'text' | 'json' }
  | { readonly q: 'explain'; readonly query: string }
  | { readonly q: 'drain'; readonly inboundOnly: boolean; readonly timeoutMs: number; readonly strategy?: 'immediate' | 'flag' };

export type ToWorker =
  | { readonly t: 'snapshot'; readonly snap: WireSnapshot }
  /** Host health / outlier states from the primary's health authority (a starting worker gets `full` first). */
  | { readonly t: 'health'; readonly u: WireHealthUpdate }
  | { readonly t: 'ask'; readonly id: number; readonly query: WorkerQuery }
  | { readonly t: 'shutdown'; readonly timeoutMs: number };

export interface WorkerStatus {
  readonly generation: number;
  readonly connections: number;
  /** Connections accepted so far by the active listeners (which workers take traffic). */
  readonly accepted: number;
  readonly listeners: readonly WorkerListenerStatus[];
}

export type FromWorker =
  | { readonly t: 'started' }
  | { readonly t: 'applied'; readonly generation: number; readonly errors: readonly string[] }
  /** Request outcomes of clusters with shared outlier detection, batched per window. */
  | { readonly t: 'outcomes'; readonly batch: WireOutcomeBatch }
  | { readonly t: 'answer'; readonly id: number; readonly ok: boolean; readonly value?: unknown; readonly error?: string };

export function isFromWorker(m: unknown): m is FromWorker {
  return !!m && typeof m === 'object' && typeof (m as { t?: unknown }).t === 'string';
}

export function isToWorker(m: unknown): m is ToWorker {
  return isFromWorker(m);
}
