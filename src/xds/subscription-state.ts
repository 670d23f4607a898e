// xds/: per-type-URL subscription state of the ADS client (one independent sub-stream per type): the last
// accepted version (kept across reconnects), the stream's last nonce, the names subscribed, each named
// resource's lifecycle (requested → acked | nacked | does-not-exist) and the initial-fetch / does-not-exist timers.
import type { XdsTypeUrl } from './resource-type.js';

/** Lifecycle of one named resource on the stream (design §9: explicit state machines). */
export type ResourceState = 'requested' | 'acked' | 'nacked' | 'does-not-exist';

const TRANSITIONS: Record<ResourceState, readonly ResourceState[]> = {
  requested: ['acked', 'nacked', 'does-not-exist'],
  acked: ['acked', 'nacked', 'does-not-exist', 'requested'],
  nacked: ['acked', 'nacked', 'does-not-exist', 'requested'],
  'does-not-exist': ['acked', 'nacked', 'requested', 'does-not-exist'],
};

/** Initial fetch of the whole subscription: waiting → received | timed-out. */
export type InitialFetchState = 'waiting' | 'received' | 'timed-out';

export class SubscriptionState {
  /** Last version_info accepted (SotW); survives reconnects. */
  acceptedVersion = '';
  /** Nonce of the last response received on the current stream ('' after a reconnect). */
  nonce = '';
  /** Names sent to the server (named types); empty for wildcard types. */
  subscribed: ReadonlySet<string> = new Set();
  /** True once a request for this type was sent on the current stream. */
  requestedOnStream = false;
  initialFetch: InitialFetchState = 'waiting';
  initialFetchTimer: NodeJS.Timeout | null = null;
  /** Content key of the last rejected response and the NACK detail sent for it (no re-validation loop). */
  lastRejected: { key: string; message: string } | null = null;
  private readonly states = new Map<string, ResourceState>();
  private readonly dneTimers = new Map<string, NodeJS.Timeout>();

  constructor(readonly typeUrl: XdsTypeUrl, readonly wildcard: boolean) {}

  resourceState(name: string): ResourceState | undefined {
    return this.states.get(name);
  }

  /** All named resources with their state (for admin/debug views). */
  resourceStates(): Record<string, ResourceState> {
    return Object.fromEntries(this.states);
  }

  transition(name: string, to: ResourceState): void {
    const from = this.states.get(name);
    if (from !== undefined && !TRANSITIONS[from].includes(to)) return;
    this.states.set(name, to);
    if (to !== 'requested') this.clearDoesNotExist(name);
  }

  forget(name: string): void {
    this.states.delete(name);
    this.clearDoesNotExist(name);
  }

  /** Starts the SotW does-not-exist timer for a named resource (no-op if running or already resolved). */
  armDoesNotExist(name: string, ms: number, onExpire: (name: string) => void): void {
    if (ms <= 0 || this.dneTimers.has(name)) return;
    const st = this.states.get(name);
    if (st !== undefined && st !== 'requested') return;
    const t = setTimeout(() => {
      this.dneTimers.delete(name);
      if (this.states.get(name) === 'requested' || this.states.get(name) === undefined) {
        this.states.set(name, 'does-not-exist');
        onExpire(name);
      }
    }, ms);
    t.unref?.();
    this.dneTimers.set(name, t);
  }

  clearDoesNotExist(name: string): void {
    const t = this.dneTimers.get(name);
    if (t) {
      clearTimeout(t);
      this.dneTimers.delete(name);
    }
  }

  /** New stream: nonces are per stream; pending timers belong to the old one. */
  resetForStream(): void {
    this.nonce = '';
    this.requestedOnStream = false;
    for (const t of this.dneTimers.values()) clearTimeout(t);
    this.dneTimers.clear();
  }

  dispose(): void {
    this.resetForStream();
    if (this.initialFetchTimer) clearTimeout(this.initialFetchTimer);
    this.initialFetchTimer = null;
  }
}
