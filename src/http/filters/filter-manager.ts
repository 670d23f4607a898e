// http/filters: the filter manager. Built once per HCM config from http_filters (each entry resolved in the
// registry by type URL and translated once); per stream it runs decoder hooks in order and encoder hooks in
// reverse, pauses on 'stop', short-circuits on sendLocalReply and resolves typed_per_filter_config per route
// (Envoy's FilterManager + ActiveStreamFilter). A throwing filter ends only its own stream, with a local 500.
import type { Transform } from 'node:stream';
import type { HeaderMap } from '../../common/headers.js';
import type { ResponseFlagCode } from '../../common/errors.js';
import { Issues } from '../../common/validation.js';
import type { HttpFilterConfig, RouterFilterOptions } from '../../config/http-connection-manager.js';
import type {
  FilterCallbacks, FilterDeps, FilterRequest, HttpFilter, HttpFilterFactory, LocalReplyRequest,
} from './filter-api.js';
import type { AnyFilterType, FilterRegistry } from './filter-registry.js';
import { asObj } from './common/matchers.js';

export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const FILTER_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

type Obj = Readonly<Record<string, unknown>>;

/** typed_per_filter_config lookup the HCM gives per stream: most specific first (weighted cluster → route → vhost → route config). */
export type PerFilterConfigLookup = (filterName: string) => Obj | undefined;

/** Result of resolving one per-route entry: the translated override, a disable, or nothing. */
type PerRouteResolution =
  | { readonly kind: 'none' }
  | { readonly kind: 'disabled' }
  | { readonly kind: 'config'; readonly value: unknown }
  | { readonly kind: 'invalid'; readonly message: string };

const NONE: PerRouteResolution = Object.freeze({ kind: 'none' });
const DISABLED: PerRouteResolution = Object.freeze({ kind: 'disabled' });
/** Per-route FilterConfig with disabled=false and no config: enables a default-disabled filter, no override. */
const ENABLED: PerRouteResolution = Object.freeze({ kind: 'config', value: undefined });

interface FilterEntry {
  readonly name: string;
  readonly type: AnyFilterType;
  readonly factory: HttpFilterFactory;
  /** http_filters[].disabled: off unless a route's typed_per_filter_config enables it. */
  readonly disabledByDefault: boolean;
  /** Per-route configs translated once, cached by the canonical object's identity. */
  readonly perRouteCache: WeakMap<object, PerRouteResolution>;
}

/** Validates and translates one typed_per_filter_config value for a known filter type (also usable by RDS). */
export function resolvePerRouteConfig(type: AnyFilterType, raw: Obj, issues: Issues): PerRouteResolution {
  let cfg: Obj | undefined = raw;
  let optional = false;
  if (raw['@type'] === FILTER_CONFIG_TYPE_URL) {
    for (const k of Object.keys(raw)) if (k !== '@type' && k !== 'config' && k !== 'is_optional' && k !== 'disabled') issues.unsupported(k);
    if (raw.disabled === true) return DISABLED;
    optional = raw.is_optional === true;
    cfg = asObj(raw.config);
    if (!cfg) return ENABLED;
    issues = issues.at('config');
  }
  const url = typeof cfg['@type'] === 'string' ? cfg['@type'] : '';
  if (!type.perRouteTypeUrls.includes(url) || !type.translatePerRoute) {
    if (optional) return NONE;
    issues.error(`filter type ${type.typeUrl} does not accept per-route config of type ${url || '(none)'}`);
    return { kind: 'invalid', message: `unsupported per-route config ${url}` };
  }
  const rest: Record<string, unknown> = { ...cfg };
  delete rest['@type'];
  const before = issues.allErrors().length;
  const value: unknown = type.translatePerRoute(rest, url, issues);
  if (issues.allErrors().length > before) return { kind: 'invalid', message: issues.allErrors()[before].message };
  return { kind: 'config', value };
}

/**
 * Validates a route/vhost typed_per_filter_config entry by its type URL alone (RDS does not know the listener's
 * filter list). Unknown types are errors unless wrapped in a FilterConfig with is_optional.
 */
export function validatePerFilterConfig(registry: FilterRegistry, raw: Obj, issues: Issues): void {
  let inner: Obj | undefined = raw;
  let at = issues;
  let optional = false;
  if (raw['@type'] === FILTER_CONFIG_TYPE_URL) {
    optional = raw.is_optional === true;
    inner = asObj(raw.config);
    if (!inner) return;
    at = issues.at('config');
  }
  const url = typeof inner['@type'] === 'string' ? inner['@type'] : '';
  const types = registry.forPerRouteType(url);
  if (types.length === 0) {
    if (!optional) at.error(`unknown per-route filter config type ${url || '(none)'}`);
    return;
  }
  resolvePerRouteConfig(types[0], raw, issues);
}

export interface FilterManagerOptions {
  readonly registry: FilterRegistry;
  readonly deps: FilterDeps;
}

/**
 * The filter chain of one HCM config. `build` reads the canonical http_filters list (errors at
 * `[i].typed_config`; pass `issues.at('http_filters')`); `fromHcmConfig` takes the HCM translator's output.
 */
export class FilterManager {
  /** Options of the terminal router filter (envoy.filters.http.router). */
  readonly router: RouterFilterOptions;
  /** True when there is nothing to run: the HCM may skip the manager entirely. */
  readonly isEmpty: boolean;
  /** Largest request-body prefix any filter wants buffered before decodeHeaders (0 = none). */
  readonly bufferRequestBodyBytes: number;

  private constructor(readonly entries: readonly FilterEntry[], router: RouterFilterOptions, bufferBytes: number) {
    this.router = router;
    this.isEmpty = entries.length === 0;
    this.bufferRequestBodyBytes = bufferBytes;
  }

  static build(httpFilters: readonly unknown[], opts: FilterManagerOptions, issues: Issues): FilterManager {
    const entries: FilterEntry[] = [];
    let router: RouterFilterOptions = { suppressEnvoyHeaders: false, startChildSpan: false };
    httpFilters.forEach((raw, i) => {
      const at = issues.at(i);
      const o = asObj(raw) ?? {};
      for (const k of Object.keys(o)) if (!['name', 'typed_config', 'is_optional', 'disabled'].includes(k)) at.unsupported(k);
      const name = typeof o.name === 'string' ? o.name : '';
      const tc = asObj(o.typed_config);
      const url = tc && typeof tc['@type'] === 'string' ? tc['@type'] : '';
      if (url === ROUTER_TYPE_URL || (!url && name === 'envoy.filters.http.router')) {
        if (i !== httpFilters.length - 1) at.error('envoy.filters.http.router must be the last HTTP filter');
        router = { suppressEnvoyHeaders: tc?.suppress_envoy_headers === true, startChildSpan: tc?.start_child_span === true };
        return;
      }
      const entry = FilterManager.makeEntry(name, url, tc ?? null, o.is_optional === true, o.disabled === true, opts, at);
      if (entry) entries.push(entry);
    });
    return FilterManager.finish(entries, router);
  }

  /** From the HCM translator's `httpFilters` (router already removed) and `router` options. */
  static fromHcmConfig(filters: readonly HttpFilterConfig[], router: RouterFilterOptions, opts: FilterManagerOptions, issues: Issues): FilterManager {
    const entries: FilterEntry[] = [];
    filters.forEach((f, i) => {
      const entry = FilterManager.makeEntry(f.name, f.typeUrl, f.config, f.isOptional, f.disabled, opts, issues.at(i));
      if (entry) entries.push(entry);
    });
    return FilterManager.finish(entries, router);
  }

  private static makeEntry(name: string, url: string, tc: Obj | null, optional: boolean, disabled: boolean, opts: FilterManagerOptions, at: Issues): FilterEntry | null {
    if (!name) at.error('name is required', 'name');
    const type = url ? opts.registry.get(url) : undefined;
    if (!type) {
      if (!optional) at.error(url ? `unknown HTTP filter type ${url} (filter ${name})` : `HTTP filter ${name} has no typed_config`, 'typed_config');
      return null;
    }
    const rest: Record<string, unknown> = { ...tc };
    delete rest['@type'];
    const before = at.allErrors().length;
    const config: unknown = type.translate(rest, at.at('typed_config'));
    if (at.allErrors().length > before) return null;
    const factory = type.createFactory(name, config, opts.deps);
    return { name, type, factory, disabledByDefault: disabled, perRouteCache: new WeakMap() };
  }

  private static finish(entries: FilterEntry[], router: RouterFilterOptions): FilterManager {
    let bytes = 0;
    for (const e of entries) bytes = Math.max(bytes, e.factory.bufferRequestBodyBytes ?? 0);
    return new FilterManager(Object.freeze(entries), Object.freeze(router), bytes);
  }

  /** Releases factory resources (gRPC channels); call when this config is replaced and its streams are done. */
  close(): void {
    for (const e of this.entries) e.factory.dispose?.();
  }

  /** One stream's filter chain. `perFilterConfig` is the route's lookup (null when no route / no overrides). */
  createStream(req: FilterRequest, perFilterConfig: PerFilterConfigLookup | null): FilterStream {
    return new FilterStream(this, req, perFilterConfig);
  }

  /** @internal */
  resolvePerRoute(entry: FilterEntry, raw: Obj): PerRouteResolution {
    let r = entry.perRouteCache.get(raw);
    if (r === undefined) {
      r = resolvePerRouteConfig(entry.type, raw, new Issues(`typed_per_filter_config.${entry.name}`));
      entry.perRouteCache.set(raw, r);
    }
    return r;
  }
}

type StreamState = 'idle' | 'decoding' | 'paused' | 'decoded' | 'replied' | 'destroyed';

/** The callbacks one filter instance gets (identity = the filter's slot in the chain). */
class FilterSlot implements FilterCallbacks {
  constructor(private readonly stream: FilterStream, readonly index: number, readonly filter: HttpFilter, readonly perRoute: unknown) {}
  sendLocalReply(reply: LocalReplyRequest): void { this.stream.onLocalReply(this.index, reply); }
  continueDecoding(): void { this.stream.onContinue(this.index); }
  perRouteConfig<T>(): T | undefined { return this.perRoute as T | undefined; }
  addResponseHeader(name: string, value: string): void { this.stream.responseHeadersToAdd.push([name.toLowerCase(), value]); }
  setResponseFlag(flag: ResponseFlagCode): void { if (!this.stream.responseFlags.includes(flag)) this.stream.responseFlags.push(flag); }
  setDynamicMetadata(namespace: string, key: string, value: unknown): void {
    const md = this.stream.dynamicMetadata;
    (md[namespace] ??= {})[key] = value;
  }
  get bufferedRequestBody(): Buffer | null { return this.stream.requestBody; }
  get requestBodyTruncated(): boolean { return this.stream.requestBodyTruncated; }
}

export type DecodeDone = (reply: LocalReplyRequest | null) => void;

/**
 * One stream through the filter chain. Use: `decodeHeaders(endStream, body, done)` (done(null) = forward upstream,
 * done(reply) = send that local reply, then call encodeHeaders for it too); `encodeHeaders(status, headers)` on the
 * response (upstream or local); pipe bodies through `requestBodyTransforms()` / `responseBodyTransforms()`;
 * always `destroy()` when the stream ends.
 */
export class FilterStream {
  readonly responseHeadersToAdd: [string, string][] = [];
  /** Flags set by filters that did not answer locally (e.g. DI); a local reply carries its own `flag`. */
  readonly responseFlags: ResponseFlagCode[] = [];
  readonly dynamicMetadata: Record<string, Record<string, unknown>> = {};
  requestBody: Buffer | null = null;
  requestBodyTruncated = false;
  /** The local reply a filter sent (also passed to `done`), or null. */
  localReply: LocalReplyRequest | null = null;
  private state: StreamState = 'idle';
  private readonly slots: FilterSlot[] = [];
  /** Index of the next entry to run. */
  private next = 0;
  /** Encoders run on slots before this index (a local reply from slot i skips i and later ones, as Envoy). */
  private encodeLimit = Number.MAX_SAFE_INTEGER;
  private inHook = -1;
  private continuedInHook = false;
  private endStream = true;
  private done: DecodeDone | null = null;

  constructor(private readonly manager: FilterManager, readonly req: FilterRequest, private readonly lookup: PerFilterConfigLookup | null) {}

  /** Runs the decoder chain; `done` is called exactly once (synchronously when no filter paused). */
  decodeHeaders(endStream: boolean, body: Buffer | null, done: DecodeDone, bodyTruncated = false): void {
    if (this.state !== 'idle') throw new Error('decodeHeaders called twice');
    this.endStream = endStream;
    this.requestBody = body;
    this.requestBodyTruncated = bodyTruncated;
    this.done = done;
    this.state = 'decoding';
    this.run();
  }

  /** Promise form of decodeHeaders. */
  decode(endStream = true, body: Buffer | null = null, bodyTruncated = false): Promise<LocalReplyRequest | null> {
    return new Promise((resolve) => this.decodeHeaders(endStream, body, resolve, bodyTruncated));
  }

  private run(): void {
    const entries = this.manager.entries;
    while (this.next < entries.length && this.state === 'decoding') {
      const i = this.next++;
      const entry = entries[i];
      let perRoute: unknown;
      const raw = this.lookup?.(entry.name);
      if (raw !== undefined) {
        const r = this.manager.resolvePerRoute(entry, raw);
        if (r.kind === 'disabled') continue;
        if (r.kind === 'invalid') {
          this.finishWithReply(i, { status: 500, details: 'filter_config_invalid', body: '' });
          return;
        }
        if (r.kind === 'config') perRoute = r.value;
      } else if (entry.disabledByDefault) continue;
      let filter: HttpFilter | null;
      try {
        filter = entry.factory.create();
      } catch {
        this.finishWithReply(i, { status: 500, details: 'filter_threw', body: '' });
        return;
      }
      if (!filter) continue;
      const slot = new FilterSlot(this, i, filter, perRoute);
      this.slots.push(slot);
      if (!filter.decodeHeaders) continue;
      this.inHook = i;
      this.continuedInHook = false;
      let status;
      try {
        status = filter.decodeHeaders(this.req, this.endStream, slot);
      } catch {
        this.inHook = -1;
        if (this.state === 'decoding') this.finishWithReply(i, { status: 500, details: 'filter_threw', body: '' });
        return;
      }
      this.inHook = -1;
      if (this.state !== 'decoding') return; // a local reply was sent from inside the hook
      if (status === 'stop' && !this.continuedInHook) {
        this.state = 'paused';
        return;
      }
    }
    if (this.state === 'decoding') {
      this.state = 'decoded';
      const d = this.done;
      this.done = null;
      d?.(null);
    }
  }

  /** @internal */
  onContinue(index: number): void {
    if (this.inHook === index) {
      this.continuedInHook = true;
      return;
    }
    if (this.state !== 'paused' || this.next !== index + 1) return;
    this.state = 'decoding';
    this.run();
  }

  /** @internal */
  onLocalReply(index: number, reply: LocalReplyRequest): void {
    if (this.state !== 'decoding' && this.state !== 'paused') return;
    this.finishWithReply(index, reply);
  }

  private finishWithReply(index: number, reply: LocalReplyRequest): void {
    this.state = 'replied';
    this.localReply = reply;
    this.encodeLimit = index;
    const d = this.done;
    this.done = null;
    d?.(reply);
  }

  /**
   * Runs encoder hooks in reverse on the response headers (upstream or local reply), then adds the headers filters
   * asked for. Returns a local reply when an encoder threw (the HCM sends it if headers are not yet out).
   */
  encodeHeaders(status: number, headers: HeaderMap): LocalReplyRequest | null {
    for (let k = this.slots.length - 1; k >= 0; k--) {
      const s = this.slots[k];
      if (s.index >= this.encodeLimit || !s.filter.encodeHeaders) continue;
      try {
        s.filter.encodeHeaders(status, headers, this.req, s);
      } catch {
        return { status: 500, details: 'filter_threw', body: '' };
      }
    }
    for (const [n, v] of this.responseHeadersToAdd) {
      const cur = headers[n];
      if (cur === undefined) headers[n] = v;
      else if (typeof cur === 'string') headers[n] = [cur, v];
      else cur.push(v);
    }
    return null;
  }

  /** Request-body transforms (decompressor), in filter order. */
  requestBodyTransforms(): Transform[] {
    const out: Transform[] = [];
    for (const s of this.slots) {
      if (s.index >= this.encodeLimit) continue;
      const t = s.filter.wrapRequestBody?.(this.req);
      if (t) out.push(t);
    }
    return out;
  }

  /** Response-body transforms (compressor, fault throttling), in encoder (reverse) order; call after encodeHeaders. */
  responseBodyTransforms(status: number, headers: HeaderMap): Transform[] {
    const out: Transform[] = [];
    for (let k = this.slots.length - 1; k >= 0; k--) {
      const s = this.slots[k];
      if (s.index >= this.encodeLimit) continue;
      const t = s.filter.wrapResponseBody?.(status, headers, this.req);
      if (t) out.push(t);
    }
    return out;
  }

  /** The stream ended (completed, reset or aborted): release every instance's resources. Idempotent. */
  destroy(): void {
    if (this.state === 'destroyed') return;
    this.state = 'destroyed';
    this.done = null;
    for (const s of this.slots) {
      try { s.filter.onDestroy?.(); } catch { /* a failing cleanup must not affect other filters */ }
    }
  }
}
