// http/filters/rbac: translates envoy.extensions.filters.http.rbac.v3.RBAC / RBACPerRoute once into compiled
// policy engines (permission and principal trees as predicates, CIDRs precompiled, policies in name order).
import type { Issues } from '../../../common/validation.js';
import type { FilterRequest } from '../filter-api.js';
import {
  asObj, cidrContains, compileCidr, compileHeaderMatcher, compilePathMatcher, compileStringMatcher, rejectUnknown,
} from '../common/matchers.js';

export const RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const RBAC_PER_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';

type Pred = (r: FilterRequest) => boolean;
const NEVER: Pred = () => false;

export interface RbacPolicy {
  readonly name: string;
  readonly matches: Pred;
}

export interface RbacEngine {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  /** Sorted by name, as Envoy's std::map. */
  readonly policies: readonly RbacPolicy[];
}

export interface RbacConfig {
  /** null: no rules, every request is allowed. */
  readonly engine: RbacEngine | null;
  readonly shadow: RbacEngine | null;
  readonly shadowStatPrefix: string;
}

function set(raw: unknown, key: 'rules' | 'ids', each: (r: unknown, i: Issues) => Pred, issues: Issues): Pred[] {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, [key], issues);
  const l = Array.isArray(o[key]) ? (o[key] as unknown[]) : [];
  if (l.length === 0) issues.error(`${key} must not be empty`, key);
  return l.map((r, i) => each(r, issues.at(key).at(i)));
}

function portRange(raw: unknown, issues: Issues): Pred {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['start', 'end'], issues);
  const s = Number(o.start ?? 0);
  const e = Number(o.end ?? 0);
  if (e < s) issues.error('end must not be less than start');
  return (r) => r.localPort >= s && r.localPort < e;
}

function cidrPred(raw: unknown, issues: Issues, addr: (r: FilterRequest) => string): Pred {
  const c = compileCidr(raw, issues);
  return c ? (r) => cidrContains(c, addr(r)) : NEVER;
}

export function compilePermission(raw: unknown, issues: Issues): Pred {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['and_rules', 'or_rules', 'any', 'header', 'url_path', 'destination_ip', 'destination_port',
    'destination_port_range', 'not_rule', 'requested_server_name'], issues);
  if (o.and_rules !== undefined) {
    const l = set(o.and_rules, 'rules', compilePermission, issues.at('and_rules'));
    return (r) => l.every((p) => p(r));
  }
  if (o.or_rules !== undefined) {
    const l = set(o.or_rules, 'rules', compilePermission, issues.at('or_rules'));
    return (r) => l.some((p) => p(r));
  }
  if (o.any !== undefined) return o.any === true ? () => true : NEVER;
  if (o.header !== undefined) {
    const m = compileHeaderMatcher(o.header, issues.at('header'));
    return (r) => m(r.head.headers, r.head);
  }
  if (o.url_path !== undefined) {
    const m = compilePathMatcher(o.url_path, issues.at('url_path'));
    return (r) => m(r.head.path);
  }
  if (o.destination_ip !== undefined) return cidrPred(o.destination_ip, issues.at('destination_ip'), (r) => r.localAddress);
  if (o.destination_port !== undefined) {
    const port = Number(o.destination_port);
    return (r) => r.localPort === port;
  }
  if (o.destination_port_range !== undefined) return portRange(o.destination_port_range, issues.at('destination_port_range'));
  if (o.not_rule !== undefined) {
    const p = compilePermission(o.not_rule, issues.at('not_rule'));
    return (r) => !p(r);
  }
  if (o.requested_server_name !== undefined) {
    const m = compileStringMatcher(o.requested_server_name, issues.at('requested_server_name'));
    return (r) => m(r.sni);
  }
  if (Object.keys(o).length === 0) issues.error('a permission rule is required');
  return NEVER;
}

export function compilePrincipal(raw: unknown, issues: Issues): Pred {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['and_ids', 'or_ids', 'any', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip', 'header',
    'url_path', 'not_id'], issues);
  if (o.and_ids !== undefined) {
    const l = set(o.and_ids, 'ids', compilePrincipal, issues.at('and_ids'));
    return (r) => l.every((p) => p(r));
  }
  if (o.or_ids !== undefined) {
    const l = set(o.or_ids, 'ids', compilePrincipal, issues.at('or_ids'));
    return (r) => l.some((p) => p(r));
  }
  if (o.any !== undefined) return o.any === true ? () => true : NEVER;
  if (o.authenticated !== undefined) {
    const a = asObj(o.authenticated) ?? {};
    rejectUnknown(a, ['principal_name'], issues.at('authenticated'));
    if (a.principal_name === undefined) return (r) => r.peer !== null;
    const m = compileStringMatcher(a.principal_name, issues.at('authenticated').at('principal_name'));
    return (r) => {
      const p = r.peer;
      if (!p) return false;
      if (p.uriSans.length === 0 && p.dnsSans.length === 0) return m(p.subject);
      return p.uriSans.some(m) || p.dnsSans.some(m);
    };
  }
  // source_ip (deprecated) is the connection's peer, like direct_remote_ip.
  if (o.source_ip !== undefined) return cidrPred(o.source_ip, issues.at('source_ip'), (r) => r.directRemoteAddress);
  if (o.direct_remote_ip !== undefined) return cidrPred(o.direct_remote_ip, issues.at('direct_remote_ip'), (r) => r.directRemoteAddress);
  if (o.remote_ip !== undefined) return cidrPred(o.remote_ip, issues.at('remote_ip'), (r) => r.remoteAddress);
  if (o.header !== undefined) {
    const m = compileHeaderMatcher(o.header, issues.at('header'));
    return (r) => m(r.head.headers, r.head);
  }
  if (o.url_path !== undefined) {
    const m = compilePathMatcher(o.url_path, issues.at('url_path'));
    return (r) => m(r.head.path);
  }
  if (o.not_id !== undefined) {
    const p = compilePrincipal(o.not_id, issues.at('not_id'));
    return (r) => !p(r);
  }
  if (Object.keys(o).length === 0) issues.error('a principal identifier is required');
  return NEVER;
}

export function compileRbacEngine(raw: unknown, issues: Issues): RbacEngine | null {
  const o = asObj(raw);
  if (!o) return null;
  rejectUnknown(o, ['action', 'policies'], issues);
  const action = (o.action ?? 'ALLOW') as string;
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') issues.error(`unknown action ${action}`, 'action');
  const pol = asObj(o.policies) ?? {};
  const names = Object.keys(pol).sort();
  const policies = names.map((name): RbacPolicy => {
    const pi = issues.at('policies').at(name);
    const p = asObj(pol[name]) ?? {};
    rejectUnknown(p, ['permissions', 'principals'], pi);
    const perms = (Array.isArray(p.permissions) ? p.permissions : []).map((x, i) => compilePermission(x, pi.at('permissions').at(i)));
    const princ = (Array.isArray(p.principals) ? p.principals : []).map((x, i) => compilePrincipal(x, pi.at('principals').at(i)));
    if (perms.length === 0) pi.error('at least one permission is required', 'permissions');
    if (princ.length === 0) pi.error('at least one principal is required', 'principals');
    return { name, matches: (r) => perms.some((f) => f(r)) && princ.some((f) => f(r)) };
  });
  return Object.freeze({ action: action as RbacEngine['action'], policies });
}

export function translateRbac(raw: Readonly<Record<string, unknown>>, issues: Issues): RbacConfig {
  rejectUnknown(raw, ['rules', 'rules_stat_prefix', 'shadow_rules', 'shadow_rules_stat_prefix', 'track_per_rule_stats'], issues);
  return Object.freeze({
    engine: compileRbacEngine(raw.rules, issues.at('rules')),
    shadow: compileRbacEngine(raw.shadow_rules, issues.at('shadow_rules')),
    shadowStatPrefix: typeof raw.shadow_rules_stat_prefix === 'string' ? raw.shadow_rules_stat_prefix : '',
  });
}

/** RBACPerRoute: `rbac` replaces the filter config; absent `rbac` disables RBAC for the route (Envoy). */
export function translateRbacPerRoute(raw: Readonly<Record<string, unknown>>, url: string, issues: Issues): RbacConfig {
  if (url === RBAC_TYPE_URL) return translateRbac(raw, issues);
  rejectUnknown(raw, ['rbac'], issues);
  const r = asObj(raw.rbac);
  if (!r) return Object.freeze({ engine: null, shadow: null, shadowStatPrefix: '' });
  return translateRbac(r, issues.at('rbac'));
}
