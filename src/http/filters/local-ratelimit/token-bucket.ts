// http/filters/local-ratelimit: Envoy's local rate limiter bucket. Starts full; every fill_interval adds
// tokens_per_fill up to max_tokens. Refill is computed lazily from the injected clock (no timers).
import type { TokenBucketConfig } from './config.js';

export class TokenBucket {
  private tokens: number;
  private lastFill: number;

  constructor(private readonly cfg: TokenBucketConfig, private readonly now: () => number) {
    this.tokens = cfg.maxTokens;
    this.lastFill = now();
  }

  private refill(t: number): void {
    const n = Math.floor((t - this.lastFill) / this.cfg.fillIntervalMs);
    if (n > 0) {
      this.tokens = Math.min(this.cfg.maxTokens, this.tokens + n * this.cfg.tokensPerFill);
      this.lastFill += n * this.cfg.fillIntervalMs;
    }
  }

  /** Takes one token; false when the bucket is empty. */
  consume(): boolean {
    this.refill(this.now());
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  get remaining(): number {
    this.refill(this.now());
    return this.tokens;
  }

  get maxTokens(): number {
    return this.cfg.maxTokens;
  }

  /** Whole seconds until the next fill (x-ratelimit-reset). */
  get resetSeconds(): number {
    const t = this.now();
    this.refill(t);
    return Math.ceil((this.lastFill + this.cfg.fillIntervalMs - t) / 1000);
  }
}
