// common/: jittered exponential backoff for reconnect loops (xDS stream, health checks). Envoy's
// JitteredExponentialBackOffStrategy: base 500 ms doubling up to 30 s, "full jitter", reset after success.

export interface BackoffOptions {
  /** First delay ceiling in ms (default 500). */
  readonly baseMs?: number;
  /** Maximum delay in ms (default 30 000). */
  readonly maxMs?: number;
  /** Source of randomness in [0, 1) (tests pass a fixed one). */
  readonly random?: () => number;
}

/** Each `next()` returns a random delay in [ceiling/2, ceiling] where the ceiling doubles from base to max. */
export class ExponentialBackoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private ceilingMs: number;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = Math.max(1, opts.baseMs ?? 500);
    this.maxMs = Math.max(this.baseMs, opts.maxMs ?? 30_000);
    this.random = opts.random ?? Math.random;
    this.ceilingMs = this.baseMs;
  }

  /** The delay to wait before the next attempt; grows the ceiling for the one after. */
  next(): number {
    const ceiling = this.ceilingMs;
    this.ceilingMs = Math.min(this.maxMs, this.ceilingMs * 2);
    // Half fixed, half jitter: never 0 (no tight loop), never above the ceiling.
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  /** Back to the base delay (call once the peer proved healthy, e.g. a response arrived). */
  reset(): void {
    this.ceilingMs = this.baseMs;
  }

  get currentCeilingMs(): number {
    return this.ceilingMs;
  }
}
