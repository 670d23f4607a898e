// http/filters/rbac: envoy.filters.http.rbac runtime. Evaluates the shadow engine (metadata only) and the enforced
// engine; a denied request gets 403 "RBAC: access denied" with details rbac_access_denied_matched_policy[<id>].
import type {
  FilterCallbacks, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { RBAC_PER_ROUTE_TYPE_URL, RBAC_TYPE_URL, translateRbac, translateRbacPerRoute } from './config.js';
import type { RbacConfig, RbacEngine } from './config.js';

export const RBAC_METADATA_NAMESPACE = 'envoy.filters.http.rbac';

/** Evaluates an engine: whether the request is allowed and the first matching policy name ('' when none). */
export function evaluateRbac(engine: RbacEngine, req: FilterRequest): { allowed: boolean; policy: string } {
  let policy = '';
  for (const p of engine.policies) {
    if (p.matches(req)) {
      policy = p.name;
      break;
    }
  }
  if (engine.action === 'ALLOW') return { allowed: policy !== '', policy };
  if (engine.action === 'DENY') return { allowed: policy === '', policy };
  return { allowed: true, policy }; // LOG
}

class RbacFilter implements HttpFilter {
  constructor(private readonly base: RbacConfig) {}

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const cfg = cb.perRouteConfig<RbacConfig>() ?? this.base;
    if (cfg.shadow) {
      const s = evaluateRbac(cfg.shadow, req);
      const prefix = cfg.shadowStatPrefix;
      if (s.policy) cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, `${prefix}shadow_effective_policy_id`, s.policy);
      cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, `${prefix}shadow_engine_result`, s.allowed ? 'allowed' : 'denied');
    }
    const e = cfg.engine;
    if (!e) return 'continue';
    const r = evaluateRbac(e, req);
    if (e.action === 'LOG') {
      cb.setDynamicMetadata(RBAC_METADATA_NAMESPACE, 'access_log_hint', r.policy !== '');
      return 'continue';
    }
    if (r.allowed) return 'continue';
    cb.sendLocalReply({
      status: 403,
      body: 'RBAC: access denied',
      details: `rbac_access_denied_matched_policy[${r.policy || 'none'}]`,
    });
    return 'stop';
  }
}

export const rbacFilterType: HttpFilterType<RbacConfig, RbacConfig> = {
  typeUrl: RBAC_TYPE_URL,
  perRouteTypeUrls: [RBAC_PER_ROUTE_TYPE_URL],
  translate: (c, issues) => translateRbac(c, issues),
  translatePerRoute: (c, url, issues) => translateRbacPerRoute(c, url, issues),
  createFactory(name: string, config: RbacConfig): HttpFilterFactory {
    const instance = new RbacFilter(config); // stateless: one instance serves every stream
    return { name, create: () => instance };
  },
};
