// http/filters/local-ratelimit: envoy.filters.http.local_ratelimit runtime. One token bucket per filter config and
// one per per-route config (kept by the config object's identity); 429 (configurable) with flag RL and details
// local_rate_limited; x-ratelimit-* headers (DRAFT_VERSION_03) on every enforced response when enabled.
import { ResponseFlag } from '../../../common/errors.js';
import type { HeaderMap } from '../../../common/headers.js';
import type {
  FilterCallbacks, FilterDeps, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { applyHeaderToAdd } from '../common/matchers.js';
import { LOCAL_RATELIMIT_TYPE_URL, translateLocalRateLimit } from './config.js';
import type { LocalRateLimitConfig } from './config.js';
import { TokenBucket } from './token-bucket.js';

class Buckets {
  private readonly byConfig = new WeakMap<LocalRateLimitConfig, TokenBucket | null>();
  constructor(private readonly now: () => number) {}
  get(cfg: LocalRateLimitConfig): TokenBucket | null {
    let b = this.byConfig.get(cfg);
    if (b === undefined) {
      b = cfg.tokenBucket ? new TokenBucket(cfg.tokenBucket, this.now) : null;
      this.byConfig.set(cfg, b);
    }
    return b;
  }
}

class LocalRateLimitFilter implements HttpFilter {
  private xHeaders: TokenBucket | null = null;
  constructor(private readonly base: LocalRateLimitConfig, private readonly buckets: Buckets, private readonly random: () => number) {}

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const cfg = cb.perRouteConfig<LocalRateLimitConfig>() ?? this.base;
    if (!(cfg.filterEnabled >= 1 || this.random() < cfg.filterEnabled)) return 'continue';
    const bucket = this.buckets.get(cfg);
    if (!bucket) return 'continue';
    const allowed = bucket.consume();
    const enforced = cfg.filterEnforced >= 1 || this.random() < cfg.filterEnforced;
    if (cfg.xRateLimitHeaders && enforced) this.xHeaders = bucket;
    if (allowed) return 'continue';
    if (!enforced) {
      for (const h of cfg.requestHeadersToAddWhenNotEnforced) applyHeaderToAdd(req.head.headers, h);
      return 'continue';
    }
    const headers: HeaderMap = {};
    for (const h of cfg.responseHeadersToAdd) applyHeaderToAdd(headers, h);
    if (this.xHeaders) this.addX(headers, bucket);
    this.xHeaders = null; // already on the local reply
    cb.sendLocalReply({
      status: cfg.status,
      body: 'local_rate_limited',
      headers,
      grpcStatus: cfg.grpcStatus,
      flag: ResponseFlag.RateLimited,
      details: 'local_rate_limited',
    });
    return 'stop';
  }

  private addX(headers: HeaderMap, b: TokenBucket): void {
    headers['x-ratelimit-limit'] = String(b.maxTokens);
    headers['x-ratelimit-remaining'] = String(b.remaining);
    headers['x-ratelimit-reset'] = String(b.resetSeconds);
  }

  encodeHeaders(_status: number, headers: HeaderMap): FilterStatus {
    if (this.xHeaders) this.addX(headers, this.xHeaders);
    return 'continue';
  }
}

export const localRateLimitFilterType: HttpFilterType<LocalRateLimitConfig, LocalRateLimitConfig> = {
  typeUrl: LOCAL_RATELIMIT_TYPE_URL,
  perRouteTypeUrls: [LOCAL_RATELIMIT_TYPE_URL],
  translate: (c, issues) => translateLocalRateLimit(c, issues),
  translatePerRoute: (c, _u, issues) => translateLocalRateLimit(c, issues),
  createFactory(name: string, config: LocalRateLimitConfig, deps: FilterDeps): HttpFilterFactory {
    const buckets = new Buckets(deps.now);
    const random = deps.random ?? Math.random;
    return { name, create: () => new LocalRateLimitFilter(config, buckets, random) };
  },
};
