// http/filters: the registry keyed by type URL that joins an http_filters entry (or a typed_per_filter_config
// entry) to the filter type that translates it (Envoy's NamedHttpFilterConfigFactory registry).
import type { HttpFilterType } from './filter-api.js';
import { faultFilterType } from './fault/fault-filter.js';
import { corsFilterType } from './cors/cors-filter.js';
import { localRateLimitFilterType } from './local-ratelimit/local-ratelimit-filter.js';
import { rbacFilterType } from './rbac/rbac-filter.js';
import { basicAuthFilterType } from './basic-auth/basic-auth-filter.js';
import { extAuthzFilterType } from './ext-authz/ext-authz-filter.js';
import { compressorFilterType } from './compressor/compressor-filter.js';
import { decompressorFilterType } from './compressor/decompressor-filter.js';
import { headerMutationFilterType } from './header-mutation/header-mutation-filter.js';

export type AnyFilterType = HttpFilterType<any, any>;

export class FilterRegistry {
  private readonly byUrl = new Map<string, AnyFilterType>();
  private readonly byPerRouteUrl = new Map<string, AnyFilterType[]>();

  register(type: AnyFilterType): this {
    this.byUrl.set(type.typeUrl, type);
    for (const u of type.perRouteTypeUrls) {
      const l = this.byPerRouteUrl.get(u) ?? [];
      l.push(type);
      this.byPerRouteUrl.set(u, l);
    }
    return this;
  }

  /** The filter type for an http_filters[].typed_config '@type', or undefined. */
  get(typeUrl: string): AnyFilterType | undefined {
    return this.byUrl.get(typeUrl);
  }

  /** Filter types accepting this per-route config type URL (for validating typed_per_filter_config in RDS). */
  forPerRouteType(typeUrl: string): readonly AnyFilterType[] {
    return this.byPerRouteUrl.get(typeUrl) ?? [];
  }

  get typeUrls(): readonly string[] {
    return [...this.byUrl.keys()];
  }
}

/** A registry holding every HTTP filter meshlet implements. Built on demand (no import-time side effects). */
export function builtinFilterRegistry(): FilterRegistry {
  return new FilterRegistry()
    .register(faultFilterType)
    .register(corsFilterType)
    .register(localRateLimitFilterType)
    .register(rbacFilterType)
    .register(basicAuthFilterType)
    .register(extAuthzFilterType)
    .register(compressorFilterType)
    .register(decompressorFilterType)
    .register(headerMutationFilterType);
}
