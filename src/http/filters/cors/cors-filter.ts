// http/filters/cors: envoy.filters.http.cors runtime. With a route/vhost CorsPolicy: a preflight (OPTIONS + Origin
// + Access-Control-Request-Method) from an allowed origin is answered locally with 200 and the allow-* headers;
// an actual request from an allowed origin gets Access-Control-Allow-Origin (+ credentials, expose) on its response.
import { firstHeader } from '../../../common/headers.js';
import type { HeaderMap } from '../../../common/headers.js';
import type {
  FilterCallbacks, FilterDeps, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { CORS_POLICY_TYPE_URL, CORS_TYPE_URL, translateCors, translateCorsPolicy } from './config.js';
import type { CorsPolicyConfig } from './config.js';

export function isOriginAllowed(policy: CorsPolicyConfig, origin: string): boolean {
  // Envoy also accepts a matcher that matches "*" (an exact "*" allows every origin).
  for (const m of policy.allowOrigin) if (m(origin) || m('*')) return true;
  return false;
}

class CorsFilter implements HttpFilter {
  private policy: CorsPolicyConfig | null = null;
  private origin = '';

  constructor(private readonly random: () => number) {}

  private enabled(f: number): boolean {
    return f >= 1 || (f > 0 && this.random() < f);
  }

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const policy = cb.perRouteConfig<CorsPolicyConfig>();
    if (!policy) return 'continue';
    const origin = firstHeader(req.head.headers, 'origin');
    if (!origin) return 'continue';
    if (!this.enabled(policy.filterEnabled)) return 'continue'; // shadow_enabled only feeds stats in Envoy
    const isPreflight = req.head.method === 'OPTIONS' && !!firstHeader(req.head.headers, 'access-control-request-method');
    const allowed = isOriginAllowed(policy, origin);
    if (!isPreflight) {
      if (allowed) {
        this.policy = policy;
        this.origin = origin;
      }
      return 'continue';
    }
    if (!allowed) {
      if (policy.forwardNotMatchingPreflights) return 'continue';
      cb.sendLocalReply({ status: 200, details: 'cors_origin_not_allowed' });
      return 'stop';
    }
    const headers: HeaderMap = { 'access-control-allow-origin': origin };
    if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    if (policy.allowMethods) headers['access-control-allow-methods'] = policy.allowMethods;
    if (policy.allowHeaders) headers['access-control-allow-headers'] = policy.allowHeaders;
    if (policy.maxAge) headers['access-control-max-age'] = policy.maxAge;
    if (policy.allowPrivateNetworkAccess && firstHeader(req.head.headers, 'access-control-request-private-network') === 'true') {
      headers['access-control-allow-private-network'] = 'true';
    }
    cb.sendLocalReply({ status: 200, headers, details: 'cors_preflight' });
    return 'stop';
  }

  encodeHeaders(_status: number, headers: HeaderMap): FilterStatus {
    const p = this.policy;
    if (!p) return 'continue';
    headers['access-control-allow-origin'] = this.origin;
    if (p.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    if (p.exposeHeaders) headers['access-control-expose-headers'] = p.exposeHeaders;
    return 'continue';
  }
}

export const corsFilterType: HttpFilterType<Record<string, never>, CorsPolicyConfig> = {
  typeUrl: CORS_TYPE_URL,
  perRouteTypeUrls: [CORS_POLICY_TYPE_URL],
  translate: (c, issues) => translateCors(c, issues),
  translatePerRoute: (c, _u, issues) => translateCorsPolicy(c, issues),
  createFactory(name: string, _config: Record<string, never>, deps: FilterDeps): HttpFilterFactory {
    const random = deps.random ?? Math.random;
    return { name, create: () => new CorsFilter(random) };
  },
};
