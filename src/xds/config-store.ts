// xds/: the config store between every xDS source (ADS SotW/Delta, filesystem, bootstrap static resources) and
// the data path. Decodes and translates each update via its ResourceType (atomically: one bad resource rejects
// the whole update), tracks LDS→RDS and CDS→EDS dependencies, warms new or changed listeners/clusters until their
// route configs / endpoints arrive, and publishes frozen ConfigSnapshots swapped by reference, only on real change.
import type { FieldError } from '../common/validation.js';
import { formatErrors } from '../common/validation.js';
import type { ConfigSnapshot, ResourceEntry } from '../config/snapshot.js';
import { EMPTY_SNAPSHOT } from '../config/snapshot.js';
import { decodeAny, ProtoConversionError, type Canonical } from './proto-json.js';
import { ShortName, TypeUrl, type Dependencies, type ResourceType, type TranslateContext, type XdsTypeUrl } from './resource-type.js';
import { XdsHistory, type HistoryHandle, type HistorySource } from './xds-history.js';

/** Minimal structured logger (pino's Logger fits). */
export interface XdsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: XdsLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A resource as a source hands it over: canonical with '@type', or a wire Any (decoded here). */
export type IncomingResource = Canonical | { readonly type_url: string; readonly value: Uint8Array };

export interface DeltaResource {
  readonly name: string;
  readonly version: string;
  /** Absent for a heartbeat / name-only entry (ignored). */
  readonly resource?: IncomingResource;
}

export interface UpdateMeta {
  readonly source: HistorySource;
  /** SotW version_info / Delta system_version_info / 'static'. */
  readonly version: string;
  readonly nonce?: string;
  /** Epoch ms the update was received (default: now). */
  readonly receivedAt?: number;
}

export type ApplyResult =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly errors: readonly FieldError[]; readonly message: string };

/** The last rejected update of a type, for config_dump's error_state and NACK messages. */
export interface RejectedUpdate {
  readonly version: string;
  readonly nonce: string;
  readonly time: number;
  readonly errors: readonly FieldError[];
  readonly message: string;
  /** Resources of the rejected update that failed, with their raw canonical form when it could be decoded. */
  readonly failed: readonly { readonly name: string; readonly raw?: Readonly<Record<string, unknown>> }[];
}

export interface SubscriptionStats {
  update_attempt: number;
  update_success: number;
  update_rejected: number;
  update_failure: number;
  init_fetch_timeout: number;
  /** Epoch ms of the last accepted update. */
  update_time: number;
  version_text: string;
}

export interface ReadinessFacts {
  /** A CDS / LDS update from a dynamic source (ADS or filesystem) has been accepted. */
  readonly cdsApplied: boolean;
  readonly ldsApplied: boolean;
  /** The initial fetch of CDS / LDS gave up waiting (Envoy moves on). */
  readonly cdsInitTimedOut: boolean;
  readonly ldsInitTimedOut: boolean;
  readonly warmingListeners: readonly string[];
  readonly warmingClusters: readonly string[];
}

export interface ConfigStoreOptions {
  readonly registry: ReadonlyMap<XdsTypeUrl, ResourceType<any>>;
  readonly ctx: TranslateContext;
  /** How long a new/changed listener or cluster may wait for its RDS/EDS before it is published anyway
   *  (initial_fetch_timeout; default 15 000; 0 = wait forever). */
  readonly warmingTimeoutMs?: number;
  readonly history?: XdsHistory;
  readonly logger?: XdsLogger;
  readonly now?: () => number;
}

interface Stored {
  readonly entry: ResourceEntry<any>;
  readonly deps: Dependencies;
  readonly hash: string;
  /** Set when warming gave up waiting (published without its dependencies). */
  warmTimedOut: boolean;
  warmTimer: NodeJS.Timeout | null;
  pendingEffects: HistoryHandle[];
}

const ALL_TYPES: readonly XdsTypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const PARENT_TYPES = new Set<string>([TypeUrl.Listener, TypeUrl.Cluster]);

function emptyStats(): SubscriptionStats {
  return { update_attempt: 0, update_success: 0, update_rejected: 0, update_failure: 0, init_fetch_timeout: 0, update_time: 0, version_text: '' };
}

/** Deterministic JSON for content comparison (sorted keys, Buffers as base64). */
export function stableHash(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Buffer.isBuffer(v)) return `b64:${v.toString('base64')}`;
  if (v instanceof Uint8Array) return `b64:${Buffer.from(v).toString('base64')}`;
  if (Array.isArray(v)) return `[${v.map(stableHash).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableHash((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !Buffer.isBuffer(o) && !(o instanceof Map)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** Holds accepted xDS resources per type and publishes warmed, immutable snapshots. */
export class ConfigStore {
  private readonly registry: ReadonlyMap<XdsTypeUrl, ResourceType<any>>;
  private readonly ctx: TranslateContext;
  private readonly warmingTimeoutMs: number;
  readonly history: XdsHistory;
  private readonly log: XdsLogger;
  private readonly now: () => number;

  /** Latest accepted resources per type (listeners/clusters may still be warming). */
  private readonly accepted = new Map<XdsTypeUrl, Map<string, Stored>>();
  /** Listeners/clusters currently published. */
  private readonly active = new Map<XdsTypeUrl, Map<string, Stored>>();
  /** RDS/EDS names the control plane told us (or the does-not-exist timer decided) do not exist. */
  private readonly missing = new Map<XdsTypeUrl, Set<string>>();
  private readonly versionInfo = new Map<XdsTypeUrl, string>();
  private readonly statsByType = new Map<XdsTypeUrl, SubscriptionStats>();
  private readonly rejectedByType = new Map<XdsTypeUrl, RejectedUpdate>();
  private readonly dynamicApplied = new Set<XdsTypeUrl>();
  private readonly initTimedOut = new Set<XdsTypeUrl>();
  private wanted = new Map<XdsTypeUrl, ReadonlySet<string>>();

  private snapshot: ConfigSnapshot = EMPTY_SNAPSHOT;
  private readonly snapshotListeners = new Set<(s: ConfigSnapshot) => void>();
  private readonly wantedListeners = new Set<(typeUrl: XdsTypeUrl, names: ReadonlySet<string>) => void>();
  private closed = false;

  constructor(opts: ConfigStoreOptions) {
    this.registry = opts.registry;
    this.ctx = opts.ctx;
    this.warmingTimeoutMs = opts.warmingTimeoutMs ?? 15_000;
    this.history = opts.history ?? new XdsHistory();
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    for (const t of ALL_TYPES) {
      this.accepted.set(t, new Map());
      this.active.set(t, new Map());
      this.missing.set(t, new Set());
      this.statsByType.set(t, emptyStats());
      this.wanted.set(t, new Set());
    }
  }

  // ------------------------------------------------------------------------------------------------ reading

  current(): ConfigSnapshot {
    return this.snapshot;
  }

  /** Called with every newly published snapshot; returns an unsubscribe function. */
  subscribe(fn: (s: ConfigSnapshot) => void): () => void {
    this.snapshotListeners.add(fn);
    return () => this.snapshotListeners.delete(fn);
  }

  /** RDS / EDS names the accepted listeners / clusters reference (what the ADS client must subscribe to). */
  wantedNames(typeUrl: XdsTypeUrl): ReadonlySet<string> {
    return this.wanted.get(typeUrl) ?? new Set();
  }

  /** Called when the set of wanted RDS or EDS names changes. */
  onWantedNamesChange(fn: (typeUrl: XdsTypeUrl, names: ReadonlySet<string>) => void): () => void {
    this.wantedListeners.add(fn);
    return () => this.wantedListeners.delete(fn);
  }

  /** The last accepted version_info of a type ('' before any). */
  version(typeUrl: XdsTypeUrl): string {
    return this.versionInfo.get(typeUrl) ?? '';
  }

  /** Accepted resource versions by name (Delta initial_resource_versions). */
  resourceVersions(typeUrl: XdsTypeUrl): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, s] of this.accepted.get(typeUrl) ?? []) if (!s.entry.isStatic) out[name] = s.entry.version;
    return out;
  }

  /** Whether a named resource is currently accepted (present) for a type. */
  has(typeUrl: XdsTypeUrl, name: string): boolean {
    return this.accepted.get(typeUrl)?.has(name) ?? false;
  }

  stats(typeUrl: XdsTypeUrl): Readonly<SubscriptionStats> {
    return { ...(this.statsByType.get(typeUrl) ?? emptyStats()) };
  }

  rejected(typeUrl: XdsTypeUrl): RejectedUpdate | undefined {
    return this.rejectedByType.get(typeUrl);
  }

  /** Listeners/clusters accepted but not yet published (config_dump's warming_state). */
  warmingResources(typeUrl: XdsTypeUrl): { name: string; version: string; raw: Readonly<Record<string, unknown>>; lastUpdated: number }[] {
    const out: { name: string; version: string; raw: Readonly<Record<string, unknown>>; lastUpdated: number }[] = [];
    const act = this.active.get(typeUrl);
    for (const [name, s] of this.accepted.get(typeUrl) ?? []) {
      if (act && act.get(name) !== s) out.push({ name, version: s.entry.version, raw: s.entry.raw, lastUpdated: s.entry.lastUpdated });
    }
    return out;
  }

  /** Resources of the last rejected update of a type, one per failed resource (config_dump's error_state). */
  rejectedResources(typeUrl: XdsTypeUrl): { name: string; raw: Readonly<Record<string, unknown>>; lastUpdateAttempt: number; details: string; version: string }[] {
    const r = this.rejectedByType.get(typeUrl);
    if (!r) return [];
    return r.failed.map((f) => ({ name: f.name, raw: f.raw ?? {}, lastUpdateAttempt: r.time, details: r.message, version: r.version }));
  }

  readiness(): ReadinessFacts {
    const warming = (t: XdsTypeUrl): string[] => {
      const out: string[] = [];
      const act = this.active.get(t)!;
      for (const [name, s] of this.accepted.get(t)!) if (act.get(name) !== s) out.push(name);
      return out;
    };
    return {
      cdsApplied: this.dynamicApplied.has(TypeUrl.Cluster),
      ldsApplied: this.dynamicApplied.has(TypeUrl.Listener),
      cdsInitTimedOut: this.initTimedOut.has(TypeUrl.Cluster),
      ldsInitTimedOut: this.initTimedOut.has(TypeUrl.Listener),
      warmingListeners: warming(TypeUrl.Listener),
      warmingClusters: warming(TypeUrl.Cluster),
    };
  }

  // ------------------------------------------------------------------------------------------------ events from sources

  /** A stream failure while subscribed (counts update_failure). */
  recordUpdateFailure(typeUrl: XdsTypeUrl): void {
    this.statsByType.get(typeUrl)!.update_failure++;
  }

  /** The first response of a subscription did not arrive within initial_fetch_timeout. */
  recordInitFetchTimeout(typeUrl: XdsTypeUrl): void {
    this.statsByType.get(typeUrl)!.init_fetch_timeout++;
    this.initTimedOut.add(typeUrl);
  }

  /** A named RDS/EDS resource does not exist (Delta removal or the SotW does-not-exist timer): stop waiting for it. */
  markDoesNotExist(typeUrl: XdsTypeUrl, name: string): void {
    const m = this.missing.get(typeUrl);
    if (!m || m.has(name)) return;
    m.add(name);
    this.recompute(null);
  }

  // ------------------------------------------------------------------------------------------------ updates

  /** Bootstrap static_resources: translated like xDS resources, never removed by dynamic updates. */
  addStatic(typeUrl: XdsTypeUrl, resources: readonly IncomingResource[]): ApplyResult {
    return this.apply(typeUrl, resources.map((r) => ({ resource: r })), [], { source: 'static', version: 'static' }, 'merge', true);
  }

  /** A State-of-the-World update: the full set for LDS/CDS (absence = deletion); named resources for RDS/EDS. */
  applySotw(typeUrl: XdsTypeUrl, resources: readonly IncomingResource[], meta: UpdateMeta): ApplyResult {
    const mode = PARENT_TYPES.has(typeUrl) ? 'replace' : 'merge';
    return this.apply(typeUrl, resources.map((r) => ({ resource: r })), [], meta, mode, false);
  }

  /** A Delta update: changed resources (each with its own version) and removed names. */
  applyDelta(typeUrl: XdsTypeUrl, resources: readonly DeltaResource[], removed: readonly string[], meta: UpdateMeta): ApplyResult {
    const items = resources.filter((r) => r.resource !== undefined).map((r) => ({ resource: r.resource!, name: r.name, version: r.version }));
    return this.apply(typeUrl, items, removed, meta, 'merge', false);
  }

  /** An update that could not even be parsed (e.g. a bad subscription file): counted and recorded like a NACK. */
  rejectUpdate(typeUrl: XdsTypeUrl, meta: UpdateMeta, errors: readonly FieldError[]): ApplyResult {
    const stats = this.statsByType.get(typeUrl);
    if (stats) stats.update_attempt++;
    return this.reject(typeUrl, meta, meta.receivedAt ?? this.now(), 0, [...errors], []);
  }

  /** Stops warming timers. */
  close(): void {
    this.closed = true;
    for (const m of this.accepted.values()) for (const s of m.values()) this.clearWarm(s);
  }

  private apply(
    typeUrl: XdsTypeUrl,
    items: readonly { resource: IncomingResource; name?: string; version?: string }[],
    removed: readonly string[],
    meta: UpdateMeta,
    mode: 'replace' | 'merge',
    isStatic: boolean,
  ): ApplyResult {
    const receivedAt = meta.receivedAt ?? this.now();
    const t0 = performance.now();
    const stats = this.statsByType.get(typeUrl);
    const rt = this.registry.get(typeUrl);
    const short = ShortName[typeUrl] ?? typeUrl;
    if (!stats) return this.reject(typeUrl, meta, receivedAt, 0, [{ path: 'type_url', message: `unsupported resource type ${typeUrl}` }], []);
    stats.update_attempt++;
    if (!rt) return this.reject(typeUrl, meta, receivedAt, 0, [{ path: 'type_url', message: `no translator registered for ${typeUrl}` }], []);

    const errors: FieldError[] = [];
    const failed: { name: string; raw?: Readonly<Record<string, unknown>> }[] = [];
    const translated: { name: string; value: unknown; raw: Canonical; deps: Dependencies; hash: string; version: string }[] = [];
    const seen = new Map<string, number>();
    const prev = this.accepted.get(typeUrl)!;
    for (let i = 0; i < items.length; i++) {
      const p = `resources[${i}]`;
      let canonical: Canonical;
      try {
        canonical = toCanonical(items[i].resource, p);
      } catch (e) {
        const err = e instanceof ProtoConversionError ? { path: e.path || p, message: e.detail } : { path: p, message: String((e as Error).message ?? e) };
        errors.push(err);
        failed.push({ name: items[i].name ?? `${p}` });
        continue;
      }
      const { '@type': at, ...raw } = canonical;
      if (at !== typeUrl) {
        errors.push({ path: `${p}.@type`, message: `expected ${typeUrl}, got ${String(at)}` });
        failed.push({ name: items[i].name ?? p, raw });
        continue;
      }
      const name = rt.name(raw);
      if (!name) {
        errors.push({ path: p, message: `${short} resource has no name` });
        failed.push({ name: p, raw });
        continue;
      }
      if (items[i].name !== undefined && items[i].name !== name) {
        errors.push({ path: p, message: `Delta resource name "${items[i].name}" does not match the resource's name "${name}"` });
      }
      const dup = seen.get(name);
      if (dup !== undefined) {
        errors.push({ path: p, message: `duplicate resource name "${name}" (also resources[${dup}])` });
        failed.push({ name, raw });
        continue;
      }
      seen.set(name, i);
      const existing = prev.get(name);
      if (!isStatic && existing?.entry.isStatic) {
        errors.push({ path: p, message: `"${name}" is a static resource from the bootstrap and cannot be changed by xDS` });
        failed.push({ name, raw });
        continue;
      }
      const hash = stableHash(raw);
      const version = isStatic ? 'static' : (items[i].version ?? meta.version);
      if (existing && existing.hash === hash) {
        translated.push({ name, value: existing.entry.value, raw: existing.entry.raw as Canonical, deps: existing.deps, hash, version: existing.entry.version });
        continue;
      }
      let res;
      try {
        res = rt.translate(raw, this.ctx);
      } catch (e) {
        res = { ok: false as const, errors: [{ path: '', message: `translator failed: ${(e as Error).message}` }] };
      }
      if (!res.ok) {
        for (const fe of res.errors) errors.push({ path: fe.path ? `${p}.${fe.path}` : p, message: `${fe.message} (${short} "${name}")` });
        failed.push({ name, raw });
        continue;
      }
      let deps: Dependencies = {};
      try {
        deps = rt.dependencies(res.value);
      } catch (e) {
        errors.push({ path: p, message: `dependencies failed: ${(e as Error).message}` });
      }
      translated.push({ name, value: res.value, raw, deps, hash, version });
    }
    for (const name of removed) {
      if (prev.get(name)?.entry.isStatic) errors.push({ path: 'removed_resources', message: `"${name}" is a static resource from the bootstrap and cannot be removed by xDS` });
    }
    const validateMs = performance.now() - t0;
    if (errors.length > 0) return this.reject(typeUrl, meta, receivedAt, validateMs, errors, failed);

    // ---- accepted: build the new accepted map for this type
    const t1 = performance.now();
    const next = new Map<string, Stored>();
    const added: string[] = [];
    const changed: string[] = [];
    const gone: string[] = [];
    if (mode === 'merge') for (const [n, s] of prev) next.set(n, s);
    else for (const [n, s] of prev) if (s.entry.isStatic) next.set(n, s);
    const missing = this.missing.get(typeUrl)!;
    const nowMs = this.now();
    for (const tr of translated) {
      missing.delete(tr.name);
      const old = prev.get(tr.name);
      if (old && old.hash === tr.hash) {
        next.set(tr.name, old);
        continue;
      }
      // The raw canonical form is plain data and frozen deeply; the translated value belongs to its translator
      // (readonly by contract; it may hold compiled objects such as RE2 instances, so it is not frozen here).
      const entry: ResourceEntry<any> = Object.freeze({ name: tr.name, version: tr.version, value: tr.value, raw: deepFreeze(tr.raw), lastUpdated: nowMs, isStatic });
      next.set(tr.name, { entry, deps: tr.deps, hash: tr.hash, warmTimedOut: false, warmTimer: null, pendingEffects: [] });
      (old ? changed : added).push(tr.name);
    }
    for (const name of removed) {
      if (next.delete(name)) gone.push(name);
      if (!PARENT_TYPES.has(typeUrl)) missing.add(name);
    }
    if (mode === 'replace') for (const n of prev.keys()) if (!next.has(n)) gone.push(n);
    for (const [n, s] of prev) if (next.get(n) !== s) this.clearWarm(s);
    this.accepted.set(typeUrl, next);

    if (!isStatic) {
      this.versionInfo.set(typeUrl, meta.version);
      this.dynamicApplied.add(typeUrl);
      stats.update_time = nowMs;
      stats.version_text = meta.version;
    }
    stats.update_success++;
    this.rejectedByType.delete(typeUrl);

    const handle = this.history.record({
      time: receivedAt, typeUrl, source: meta.source, version: meta.version, nonce: meta.nonce ?? '',
      added, changed, removed: gone, accepted: true, errors: [], validateMs, applyMs: 0, pushToEffectMs: null, warming: false,
    });
    const touched = added.length + changed.length + gone.length > 0;
    const published = this.recompute(null);
    const applyMs = performance.now() - t1;
    if (touched) {
      const stillWarming = PARENT_TYPES.has(typeUrl) ? [...added, ...changed].map((n) => next.get(n)!).filter((s) => this.active.get(typeUrl)!.get(s.entry.name) !== s) : [];
      if (stillWarming.length > 0) {
        for (const s of stillWarming) s.pendingEffects.push(handle);
        handle.update({ warming: true });
      } else if (published) handle.effect(this.now());
    }
    handle.update({ applyMs });
    this.log.debug({ type: short, version: meta.version, added: added.length, changed: changed.length, removed: gone.length }, 'xds update accepted');
    return { accepted: true };
  }

  private reject(typeUrl: XdsTypeUrl, meta: UpdateMeta, receivedAt: number, validateMs: number, errors: FieldError[], failed: RejectedUpdate['failed']): ApplyResult {
    const stats = this.statsByType.get(typeUrl);
    if (stats) stats.update_rejected++;
    const short = ShortName[typeUrl] ?? typeUrl;
    const message = `${short} update (version ${JSON.stringify(meta.version)}) rejected: ${formatErrors(errors)}`;
    if (stats) this.rejectedByType.set(typeUrl, { version: meta.version, nonce: meta.nonce ?? '', time: receivedAt, errors, message, failed });
    this.history.record({
      time: receivedAt, typeUrl, source: meta.source, version: meta.version, nonce: meta.nonce ?? '',
      added: [], changed: [], removed: [], accepted: false, errors, validateMs, applyMs: 0, pushToEffectMs: null, warming: false,
    });
    this.log.warn({ type: short, version: meta.version, errors }, message);
    return { accepted: false, errors, message };
  }

  private clearWarm(s: Stored): void {
    if (s.warmTimer) {
      clearTimeout(s.warmTimer);
      s.warmTimer = null;
    }
  }

  private depsReady(s: Stored): boolean {
    const routes = this.accepted.get(TypeUrl.RouteConfiguration)!;
    const eps = this.accepted.get(TypeUrl.ClusterLoadAssignment)!;
    const missR = this.missing.get(TypeUrl.RouteConfiguration)!;
    const missE = this.missing.get(TypeUrl.ClusterLoadAssignment)!;
    for (const r of s.deps.routeConfigs ?? []) if (!routes.has(r) && !missR.has(r)) return false;
    for (const e of s.deps.endpoints ?? []) if (!eps.has(e) && !missE.has(e)) return false;
    return true;
  }

  /** Moves warmed resources to active, garbage-collects unreferenced RDS/EDS, publishes on change. */
  private recompute(_reason: null): boolean {
    let activeChanged = false;
    const effects: HistoryHandle[] = [];
    // Clusters first, then listeners (the order the data path wants them added in).
    for (const t of [TypeUrl.Cluster, TypeUrl.Listener] as const) {
      const acc = this.accepted.get(t)!;
      const act = this.active.get(t)!;
      for (const name of [...act.keys()]) {
        if (!acc.has(name)) {
          act.delete(name);
          activeChanged = true;
        }
      }
      for (const [name, s] of acc) {
        if (act.get(name) === s) continue;
        if (s.warmTimedOut || this.depsReady(s)) {
          this.clearWarm(s);
          act.set(name, s);
          activeChanged = true;
          effects.push(...s.pendingEffects);
          s.pendingEffects = [];
        } else if (!s.warmTimer && this.warmingTimeoutMs > 0 && !this.closed) {
          s.warmTimer = setTimeout(() => {
            s.warmTimer = null;
            s.warmTimedOut = true;
            this.log.warn({ type: ShortName[t], name }, 'warming timed out; publishing without its dependencies');
            this.recompute(null);
          }, this.warmingTimeoutMs);
          s.warmTimer.unref?.();
        }
      }
    }
    // Wanted names come from every accepted parent (active or warming).
    const wantR = new Set<string>();
    const wantE = new Set<string>();
    for (const t of [TypeUrl.Listener, TypeUrl.Cluster] as const) {
      for (const m of [this.accepted.get(t)!, this.active.get(t)!]) {
        for (const s of m.values()) {
          for (const r of s.deps.routeConfigs ?? []) wantR.add(r);
          for (const e of s.deps.endpoints ?? []) wantE.add(e);
        }
      }
    }
    // Unreferenced RDS/EDS are dropped (Envoy deletes them implicitly), static ones kept.
    for (const [t, want] of [[TypeUrl.RouteConfiguration, wantR], [TypeUrl.ClusterLoadAssignment, wantE]] as const) {
      const acc = this.accepted.get(t)!;
      for (const [n, s] of [...acc]) if (!want.has(n) && !s.entry.isStatic) acc.delete(n);
      const miss = this.missing.get(t)!;
      for (const n of [...miss]) if (!want.has(n)) miss.delete(n);
      const prevWant = this.wanted.get(t)!;
      if (!sameSet(prevWant, want)) {
        this.wanted.set(t, want);
        for (const fn of this.wantedListeners) {
          try {
            fn(t, want);
          } catch (e) {
            this.log.error({ err: e }, 'wanted-names listener failed');
          }
        }
      }
    }
    const published = this.publish();
    if (published) {
      const at = this.now();
      for (const h of effects) h.effect(at);
    }
    return published || activeChanged;
  }

  private publish(): boolean {
    const cur = this.snapshot;
    const listeners = entriesOf(this.active.get(TypeUrl.Listener)!);
    const clusters = entriesOf(this.active.get(TypeUrl.Cluster)!);
    const routes = entriesOf(this.accepted.get(TypeUrl.RouteConfiguration)!);
    const endpoints = entriesOf(this.accepted.get(TypeUrl.ClusterLoadAssignment)!);
    if (sameEntries(cur.listeners, listeners) && sameEntries(cur.clusters, clusters) && sameEntries(cur.routes, routes) && sameEntries(cur.endpoints, endpoints)) {
      return false;
    }
    const versions: Record<string, string> = {};
    for (const [t, v] of this.versionInfo) versions[t] = v;
    const snap: ConfigSnapshot = Object.freeze({
      generation: cur.generation + 1,
      listeners,
      routes,
      clusters,
      endpoints,
      versions: Object.freeze(versions),
    });
    this.snapshot = snap;
    for (const fn of this.snapshotListeners) {
      try {
        fn(snap);
      } catch (e) {
        this.log.error({ err: e }, 'snapshot subscriber failed');
      }
    }
    return true;
  }
}

function toCanonical(r: IncomingResource, path: string): Canonical {
  if ('@type' in r) return r as Canonical;
  const any = r as { type_url: string; value: Uint8Array };
  if (typeof any.type_url === 'string' && any.value instanceof Uint8Array) {
    const c = decodeAny(any.type_url, any.value, path);
    // SotW responses may wrap resources in envoy.service.discovery.v3.Resource.
    if (c['@type'] === 'type.googleapis.com/envoy.service.discovery.v3.Resource' && c.resource && typeof c.resource === 'object') {
      return c.resource as Canonical;
    }
    return c;
  }
  throw new ProtoConversionError(path, 'resource is neither canonical (with @type) nor an Any');
}

function entriesOf(m: Map<string, Stored>): ReadonlyMap<string, ResourceEntry<any>> {
  const out = new Map<string, ResourceEntry<any>>();
  for (const [n, s] of m) out.set(n, s.entry);
  return out;
}

function sameEntries(a: ReadonlyMap<string, ResourceEntry<any>>, b: ReadonlyMap<string, ResourceEntry<any>>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
