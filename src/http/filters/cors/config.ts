// http/filters/cors: translates envoy.extensions.filters.http.cors.v3.Cors (listener, no fields) and the
// route/vhost CorsPolicy (typed_per_filter_config) once into a readonly CorsPolicyConfig.
import type { Issues } from '../../../common/validation.js';
import { compileRuntimeFraction, compileStringMatcher, rejectUnknown } from '../common/matchers.js';
import type { StringPredicate } from '../common/matchers.js';

export const CORS_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

export interface CorsPolicyConfig {
  readonly allowOrigin: readonly StringPredicate[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  readonly allowPrivateNetworkAccess: boolean;
  readonly filterEnabled: number;
  readonly shadowEnabled: number;
  readonly forwardNotMatchingPreflights: boolean;
}

export function translateCors(raw: Readonly<Record<string, unknown>>, issues: Issues): Record<string, never> {
  rejectUnknown(raw, [], issues);
  return {};
}

export function translateCorsPolicy(raw: Readonly<Record<string, unknown>>, issues: Issues): CorsPolicyConfig {
  rejectUnknown(raw, ['allow_origin_string_match', 'allow_methods', 'allow_headers', 'expose_headers', 'max_age',
    'allow_credentials', 'filter_enabled', 'shadow_enabled', 'allow_private_network_access', 'forward_not_matching_preflights'], issues);
  const origins = Array.isArray(raw.allow_origin_string_match) ? raw.allow_origin_string_match : [];
  const str = (k: string): string => (typeof raw[k] === 'string' ? (raw[k] as string) : '');
  const maxAge = str('max_age');
  if (maxAge && !/^\d+$/.test(maxAge)) issues.error('max_age must be a number of seconds', 'max_age');
  return Object.freeze({
    allowOrigin: origins.map((m, i) => compileStringMatcher(m, issues.at('allow_origin_string_match').at(i))),
    allowMethods: str('allow_methods'),
    allowHeaders: str('allow_headers'),
    exposeHeaders: str('expose_headers'),
    maxAge,
    allowCredentials: raw.allow_credentials === true,
    allowPrivateNetworkAccess: raw.allow_private_network_access === true,
    filterEnabled: compileRuntimeFraction(raw.filter_enabled, issues.at('filter_enabled'), 1),
    shadowEnabled: compileRuntimeFraction(raw.shadow_enabled, issues.at('shadow_enabled'), 0),
    forwardNotMatchingPreflights: raw.forward_not_matching_preflights !== false,
  });
}
