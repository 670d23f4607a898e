// http/: the overload manager (Envoy overload_manager, plus a Node event-loop-lag monitor): resource monitors
// sampled on a coarse unref'd timer → a stage the connection manager reads per request (one property load):
// stage 1 disables keep-alive, stage 2 answers new requests 503 with flag OM instead of letting the process crash.
// Also the downstream connection budget (per connection manager and global), checked on accept.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import { ResponseFlag } from '../common/errors.js';
import type { LocalReplySpec } from './local-reply.js';

/** 0 normal, 1 disable keep-alive, 2 stop accepting requests. */
export type OverloadStage = 0 | 1 | 2;

/** What the data path reads. */
export interface OverloadView {
  readonly stage: OverloadStage;
}

/** A resource monitor: pressure in [0, 1] (1 = saturated). */
export interface ResourceMonitor {
  readonly name: string;
  /** Called once per sampling tick. */
  sample(): number;
  close?(): void;
}

export interface OverloadThresholds {
  /** Pressure at or above which keep-alive is disabled. */
  readonly disableKeepAlive: number;
  /** Pressure at or above which new requests get 503 OM. */
  readonly stopAcceptingRequests: number;
}

/** Envoy's edge recommendation for the fixed-heap monitor: act at 95 % and 98 % of the maximum heap. */
export const DEFAULT_THRESHOLDS: OverloadThresholds = { disableKeepAlive: 0.95, stopAcceptingRequests: 0.98 };

/** Heap used / V8's heap size limit. */
export function heapMonitor(): ResourceMonitor {
  const limit = v8.getHeapStatistics().heap_size_limit;
  return { name: 'heap', sample: () => process.memoryUsage().heapUsed / limit };
}

/**
 * Event-loop lag: mean delay over the last tick divided by `saturatedMs` (pressure 1 = a mean lag of saturatedMs).
 * With the default 2 000 ms, stage 1 starts at a sustained 1.9 s lag and stage 2 at 1.96 s.
 */
export function eventLoopLagMonitor(saturatedMs = 2000): ResourceMonitor {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  h.enable();
  return {
    name: 'event_loop_lag',
    sample: () => {
      const meanMs = h.count > 0 ? h.mean / 1e6 : 0;
      h.reset();
      return Math.min(1, meanMs / saturatedMs);
    },
    close: () => h.disable(),
  };
}

/** The local reply for stage 2 (Envoy: 503, flag OM, body "envoy overloaded"). */
export const OVERLOAD_REPLY: LocalReplySpec = { status: 503, flag: ResponseFlag.OverloadManager, details: 'overload', body: 'envoy overloaded' };

export interface OverloadManagerOptions {
  readonly monitors?: readonly ResourceMonitor[];
  readonly thresholds?: OverloadThresholds;
  /** Sampling period; default 250 ms. */
  readonly intervalMs?: number;
  readonly onStageChange?: (stage: OverloadStage, pressure: Readonly<Record<string, number>>) => void;
}

export class OverloadManager implements OverloadView {
  stage: OverloadStage = 0;
  /** Last sampled pressure by monitor name. */
  readonly pressure: Record<string, number> = {};
  private timer: NodeJS.Timeout | null = null;
  private readonly monitors: readonly ResourceMonitor[];
  private readonly thresholds: OverloadThresholds;

  constructor(private readonly opts: OverloadManagerOptions = {}) {
    this.monitors = opts.monitors ?? [heapMonitor(), eventLoopLagMonitor()];
    this.thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  }

  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 250);
    this.timer.unref();
    return this;
  }

  /** Samples every monitor once and recomputes the stage (the timer calls this; tests may too). */
  tick(): OverloadStage {
    let max = 0;
    for (const m of this.monitors) {
      let p = 0;
      try {
        p = m.sample();
      } catch { /* a broken monitor reports no pressure */ }
      if (!(p >= 0)) p = 0;
      this.pressure[m.name] = p;
      if (p > max) max = p;
    }
    const t = this.thresholds;
    const next: OverloadStage = max >= t.stopAcceptingRequests ? 2 : max >= t.disableKeepAlive ? 1 : 0;
    if (next !== this.stage) {
      this.stage = next;
      this.opts.onStageChange?.(next, this.pressure);
    }
    return next;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const m of this.monitors) m.close?.();
  }
}

let shared: OverloadManager | null = null;

/** The process-wide overload manager (heap + event-loop lag), started on first use; its timer never holds the process. */
export function sharedOverloadManager(): OverloadManager {
  if (!shared) shared = new OverloadManager().start();
  return shared;
}

/** Downstream connection caps: Envoy's edge example (10 000 per listener, 50 000 global). */
export const DEFAULT_MAX_CONNECTIONS_PER_LISTENER = 10_000;
export const DEFAULT_MAX_GLOBAL_CONNECTIONS = 50_000;

/** A counter with a cap; `tryAcquire` on accept, `release` on close. */
export class ConnectionBudget {
  active = 0;
  /** Connections refused because the cap was reached (downstream_cx_overflow). */
  overflow = 0;
  constructor(public max: number) {}
  tryAcquire(): boolean {
    if (this.active >= this.max) {
      this.overflow++;
      return false;
    }
    this.active++;
    return true;
  }
  release(): void {
    if (this.active > 0) this.active--;
  }
}

/** global_downstream_max_connections across every listener of this process. */
export const globalConnectionBudget = new ConnectionBudget(DEFAULT_MAX_GLOBAL_CONNECTIONS);
