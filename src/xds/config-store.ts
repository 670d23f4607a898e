// xds/: the config store between every xDS source (ADS SotW/Delta, filesystem, bootstrap static resources) and
// the data path. Decodes and translates each update via its ResourceType (atomically: one bad resource rejects
// the whole update), tracks LDS→RDS and CDS→EDS dependencies, warms new or changed listeners/clusters until their
// route configs / endpoints arrive, and publishes frozen ConfigSnapshots swapped by reference, only on real change.
import { createHash } from 'node:crypto';
import type { FieldError, ValidationResult } from '../common/validation.js';
import { formatErrors } from '../common/validation.js';
import { preloadRegexEngine, regexEngineLoaded } from '../common/regex.js';
import type { ConfigSnapshot, ResourceEntry } from '../config/snapshot.js';
import { EMPTY_SNAPSHOT } from '../config/snapshot.js';
import { decodeAny, ProtoConversionError, type Canonical } from './proto-json.js';
import { ShortName, TypeUrl, type Dependencies, type ResourceType, type TranslateContext, type XdsTypeUrl } from './resource-type.js';
import { XdsHistory, type HistoryHandle, type HistorySource } from './xds-history.js';
import { unknownClusterErrors } from './resource-types/route-configuration.js';
import { contentHash, contentHashInSlices, decodeAnyInSlices, deepFreeze, freezeInSlices, runSlices, type Slices } from './resource-slices.js';
import { isSlicedResourceType } from './sliced-resource-type.js';
import { nextSlice } from '../common/next-slice.js';

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
  /** performance.now() ms when warming gives up; 0 = not waiting. One store timer serves every deadline. */
  warmDeadline: number;
  /** History entries waiting for this warming resource to become active (null: none, the common case). */
  pendingEffects: HistoryHandle[] | null;
  /** Digest of the wire bytes it was decoded from (large resources only): the same bytes again skip decoding. */
  wireKey: string | null;
}

/** Longest a chunk of decode + validate + translate may hold the event loop (ms) in the chunked (ADS) path. */
const CHUNK_MS = 8;

/** Resources at least this large (wire bytes) are remembered by a digest of their bytes (SotW resends them). */
const WIRE_REUSE_BYTES = 16 * 1024;


/** The commit of a big update yields every this many resources (a power of two): ≈ 1 ms of map work each. */
const COMMIT_SLICE = 512;

/** One update being decoded/validated/translated, possibly over several event-loop turns. */
interface UpdateJob {
  readonly typeUrl: XdsTypeUrl;
  readonly items: readonly { resource: IncomingResource; name?: string; version?: string }[];
  readonly removed: readonly string[];
  readonly meta: UpdateMeta;
  readonly mode: 'replace' | 'merge';
  readonly isStatic: boolean;
  readonly receivedAt: number;
  readonly rt: ResourceType<any>;
  readonly stats: SubscriptionStats;
  readonly short: string;
  /** Next item to process. */
  i: number;
  readonly errors: FieldError[];
  readonly failed: { name: string; raw?: Readonly<Record<string, unknown>> }[];
  readonly translated: { name: string; value: unknown; raw: Canonical | LazyRaw; deps: Dependencies; hash: string; version: string; wireKey: string | null }[];
  readonly seen: Map<string, number>;
  /** The item in progress when a chunk ended inside it (a sliced resource), resumed by the next chunk. */
  current: Slices<void> | null;
  validateMs: number;
}

const ALL_TYPES: readonly XdsTypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const PARENT_TYPES = new Set<string>([TypeUrl.Listener, TypeUrl.Cluster]);
/** Types whose translation may compile RE2 regexes (route matchers, header/string matchers, rewrites). */
const REGEX_TYPES = new Set<string>([TypeUrl.Listener, TypeUrl.RouteConfiguration]);

function emptyStats(): SubscriptionStats {
  return { update_attempt: 0, update_success: 0, update_rejected: 0, update_failure: 0, init_fetch_timeout: 0, update_time: 0, version_text: '' };
}

// Content digests live with the sliced hashing that must give the same digest (resource-slices.ts).
export { stableHash, contentHash } from './resource-slices.js';

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
  /** Listeners/clusters waiting for their RDS/EDS with a deadline, the one timer for the earliest, and names for logs. */
  private readonly warmingSet = new Set<Stored>();
  private readonly warmNames = new WeakMap<Stored, [XdsTypeUrl, string]>();
  private warmTimer: NodeJS.Timeout | null = null;
  /** Per type: wire-bytes digest → the accepted resource decoded from those bytes (large resources only). */
  private readonly byWire = new Map<XdsTypeUrl, Map<string, Stored>>();
  private warmTimerAt = 0;
  /** Per type: a counter bumped whenever its accepted or active set changes, and where each derived view was built. */
  private readonly mutations = new Map<XdsTypeUrl, number>();
  private readonly activeCheckedAt = new Map<XdsTypeUrl, number>();
  private readonly gcCheckedAt = new Map<XdsTypeUrl, number>();
  private readonly publishedAt = new Map<XdsTypeUrl, number>();
  private wantedComputedFor = '';
  private readonly pendingWantedNotify = new Set<XdsTypeUrl>();
  /** readiness()'s warming lists and the listener/cluster mutation counters they were computed at. */
  private warmingKey = '';
  private warmingCache: { readonly listeners: readonly string[]; readonly clusters: readonly string[] } | null = null;
  /** Per type: the tail of the chunked updates in progress (keeps one type's responses in arrival order). */
  private readonly queues = new Map<XdsTypeUrl, Promise<void>>();

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
    // Polled every 250 ms and after every apply: the warming lists (a pass over every accepted listener and cluster)
    // are recomputed only when one of those sets changed.
    const key = `${this.mut(TypeUrl.Listener)}/${this.mut(TypeUrl.Cluster)}`;
    if (this.warmingKey !== key) {
      this.warmingKey = key;
      this.warmingCache = null;
    }
    const warming = (t: XdsTypeUrl): string[] => {
      const out: string[] = [];
      const act = this.active.get(t)!;
      for (const [name, s] of this.accepted.get(t)!) if (act.get(name) !== s) out.push(name);
      return out;
    };
    const w = (this.warmingCache ??= { listeners: Object.freeze(warming(TypeUrl.Listener)), clusters: Object.freeze(warming(TypeUrl.Cluster)) });
    return {
      cdsApplied: this.dynamicApplied.has(TypeUrl.Cluster),
      ldsApplied: this.dynamicApplied.has(TypeUrl.Listener),
      cdsInitTimedOut: this.initTimedOut.has(TypeUrl.Cluster),
      ldsInitTimedOut: this.initTimedOut.has(TypeUrl.Listener),
      warmingListeners: w.listeners,
      warmingClusters: w.clusters,
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
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = null;
  }

  /**
   * Like applySotw, but decodes and translates in time-bounded chunks (setImmediate between them) so a mesh-sized
   * response never blocks the data path; updates of one type are applied in arrival order (a newer response waits for
   * the older one), other types are not held up. The update is still all-or-nothing: nothing changes until every
   * resource is validated, then the new accepted set is swapped in at once. Resolves with the ACK/NACK outcome.
   */
  applySotwAsync(typeUrl: XdsTypeUrl, resources: readonly IncomingResource[], meta: UpdateMeta): Promise<ApplyResult> {
    const mode = PARENT_TYPES.has(typeUrl) ? 'replace' : 'merge';
    return this.enqueue(typeUrl, () => this.applyChunked(typeUrl, resources.map((r) => ({ resource: r })), [], meta, mode));
  }

  /** Like applyDelta, chunked and ordered per type as applySotwAsync. */
  applyDeltaAsync(typeUrl: XdsTypeUrl, resources: readonly DeltaResource[], removed: readonly string[], meta: UpdateMeta): Promise<ApplyResult> {
    const items = resources.filter((r) => r.resource !== undefined).map((r) => ({ resource: r.resource!, name: r.name, version: r.version }));
    return this.enqueue(typeUrl, () => this.applyChunked(typeUrl, items, removed, meta, 'merge'));
  }

  private enqueue(typeUrl: XdsTypeUrl, run: () => Promise<ApplyResult>): Promise<ApplyResult> {
    const prev = this.queues.get(typeUrl) ?? Promise.resolve();
    const next = prev.then(run, run);
    const tail = next.then(() => undefined, () => undefined);
    this.queues.set(typeUrl, tail);
    void tail.then(() => {
      if (this.queues.get(typeUrl) === tail) this.queues.delete(typeUrl);
    });
    return next;
  }

  private async applyChunked(
    typeUrl: XdsTypeUrl,
    items: readonly { resource: IncomingResource; name?: string; version?: string }[],
    removed: readonly string[],
    meta: UpdateMeta,
    mode: 'replace' | 'merge',
  ): Promise<ApplyResult> {
    // The first LDS/RDS response loads the RE2 engine in short turns before its translation slices: loaded by the
    // first regex route inside a slice it was one 30–55 ms block. Configs that never carry LDS/RDS never load it.
    if (REGEX_TYPES.has(typeUrl) && items.length > 0 && !regexEngineLoaded()) await preloadRegexEngine();
    const job = this.startJob(typeUrl, items, removed, meta, mode, false);
    if (!('items' in job)) return job;
    while (!this.step(job, performance.now() + CHUNK_MS)) await nextSlice();
    const commit = this.finishSteps(job);
    for (;;) {
      const deadline = performance.now() + CHUNK_MS;
      let r = commit.next();
      while (!r.done && performance.now() <= deadline) r = commit.next();
      if (r.done) return r.value;
      await nextSlice();
    }
  }

  private apply(
    typeUrl: XdsTypeUrl,
    items: readonly { resource: IncomingResource; name?: string; version?: string }[],
    removed: readonly string[],
    meta: UpdateMeta,
    mode: 'replace' | 'merge',
    isStatic: boolean,
  ): ApplyResult {
    const job = this.startJob(typeUrl, items, removed, meta, mode, isStatic);
    if (!('items' in job)) return job;
    this.step(job, Infinity);
    return this.finish(job);
  }

  private startJob(
    typeUrl: XdsTypeUrl,
    items: readonly { resource: IncomingResource; name?: string; version?: string }[],
    removed: readonly string[],
    meta: UpdateMeta,
    mode: 'replace' | 'merge',
    isStatic: boolean,
  ): UpdateJob | ApplyResult {
    const receivedAt = meta.receivedAt ?? this.now();
    const stats = this.statsByType.get(typeUrl);
    const rt = this.registry.get(typeUrl);
    if (!stats) return this.reject(typeUrl, meta, receivedAt, 0, [{ path: 'type_url', message: `unsupported resource type ${typeUrl}` }], []);
    stats.update_attempt++;
    if (!rt) return this.reject(typeUrl, meta, receivedAt, 0, [{ path: 'type_url', message: `no translator registered for ${typeUrl}` }], []);
    return {
      typeUrl, items, removed, meta, mode, isStatic, receivedAt, rt, stats, short: ShortName[typeUrl] ?? typeUrl,
      i: 0, errors: [], failed: [], translated: [], seen: new Map(), current: null, validateMs: 0,
    };
  }

  /**
   * Decodes, validates and translates items until done (true) or past the deadline (false). Changes no state. Each
   * item is worked by itemSteps; an item of a sliced type (RDS) yields between its virtual hosts and routes, so one
   * mesh-sized RouteConfiguration is spread over many chunks too (its partial work stays inside the job).
   */
  private step(job: UpdateJob, deadline: number): boolean {
    const t0 = performance.now();
    const n = job.items.length;
    let i = job.i;
    while (i < n) {
      let cur = job.current;
      if (cur === null) {
        if (i > job.i && (i & 15) === 0 && performance.now() > deadline) break;
        cur = job.current = this.itemSteps(job, i);
      }
      let r = cur.next();
      while (!r.done && performance.now() <= deadline) r = cur.next();
      if (!r.done) break;
      job.current = null;
      i++;
    }
    job.i = i;
    job.validateMs += performance.now() - t0;
    return i >= n;
  }

  /** One item: decode → name checks → content hash (unchanged: reuse) → translate → cross checks → freeze. */
  private *itemSteps(job: UpdateJob, i: number): Slices<void> {
    const { typeUrl, items, meta, isStatic, rt, short, errors, failed, translated, seen } = job;
    const sliced = isSlicedResourceType(rt) ? rt.slicePath : null;
    const prev = this.accepted.get(typeUrl)!;
    const p = `resources[${i}]`;
    let canonical: Canonical;
    let wireKey: string | null = null;
    let wireBytes: Uint8Array | null = null;
    let wireIsType = false;
    try {
      const res = items[i].resource;
      const wire = '@type' in res ? null : (res as { readonly type_url: string; readonly value: Uint8Array });
      if (wire && wire.value instanceof Uint8Array) {
        wireBytes = wire.value;
        wireIsType = wire.type_url === typeUrl;
      }
      if (wire && wire.type_url === typeUrl && wire.value instanceof Uint8Array && wire.value.length >= WIRE_REUSE_BYTES) {
        // State of the World resends every named resource with each update: a big one whose bytes did not change
        // (the 10,000-route table next to the small one that did) is not decoded, hashed or translated again.
        wireKey = createHash('sha256').update(wire.value).digest('base64');
        const same = this.byWire.get(typeUrl)?.get(wireKey);
        const name = same?.entry.name;
        if (same && name !== undefined && this.accepted.get(typeUrl)!.get(name) === same && (items[i].name === undefined || items[i].name === name)) {
          const dup = seen.get(name);
          if (dup !== undefined) {
            errors.push({ path: p, message: `duplicate resource name "${name}" (also resources[${dup}])` });
            failed.push({ name, raw: same.entry.raw });
            return;
          }
          seen.set(name, i);
          translated.push({ name, value: same.entry.value, raw: rawRef(same.entry), deps: same.deps, hash: same.hash, version: same.entry.version, wireKey });
          return;
        }
      }
      canonical = sliced && wire && wire.type_url === typeUrl && wire.value instanceof Uint8Array
        ? yield* decodeAnyInSlices(wire.type_url, wire.value, p, sliced)
        : toCanonical(res, p);
    } catch (e) {
      const err = e instanceof ProtoConversionError ? { path: e.path || p, message: e.detail } : { path: p, message: String((e as Error).message ?? e) };
      errors.push(err);
      failed.push({ name: items[i].name ?? `${p}` });
      return;
    }
    const { '@type': at, ...raw } = canonical;
    if (at !== typeUrl) {
      errors.push({ path: `${p}.@type`, message: `expected ${typeUrl}, got ${String(at)}` });
      failed.push({ name: items[i].name ?? p, raw });
      return;
    }
    const name = rt.name(raw);
    if (!name) {
      errors.push({ path: p, message: `${short} resource has no name` });
      failed.push({ name: p, raw });
      return;
    }
    if (items[i].name !== undefined && items[i].name !== name) {
      errors.push({ path: p, message: `Delta resource name "${items[i].name}" does not match the resource's name "${name}"` });
    }
    const dup = seen.get(name);
    if (dup !== undefined) {
      errors.push({ path: p, message: `duplicate resource name "${name}" (also resources[${dup}])` });
      failed.push({ name, raw });
      return;
    }
    seen.set(name, i);
    const existing = prev.get(name);
    if (!isStatic && existing?.entry.isStatic) {
      errors.push({ path: p, message: `"${name}" is a static resource from the bootstrap and cannot be changed by xDS` });
      failed.push({ name, raw });
      return;
    }
    // A resource that came as wire bytes is identified by a digest of those bytes (native sha256 over ≈ 100 bytes per
    // endpoint) instead of a digest of its canonical JSON (stableHash walks and stringifies every field: ≈ 10 % of a
    // 100,000-endpoint EDS apply). Equal bytes decode to equal content; equal content sent as different bytes (another
    // encoder's field order) only costs a translation it could have skipped.
    const hash = wireBytes !== null
      ? wireKey ?? createHash('sha256').update(wireBytes).digest('base64')
      : sliced ? yield* contentHashInSlices(raw, sliced) : contentHash(raw);
    const version = isStatic ? 'static' : (items[i].version ?? meta.version);
    // The accepted map may have changed while this item was sliced (garbage collection): look again.
    const same = this.accepted.get(typeUrl)!.get(name);
    if (same && same.hash === hash) {
      translated.push({ name, value: same.entry.value, raw: rawRef(same.entry), deps: same.deps, hash, version: same.entry.version, wireKey });
      return;
    }
    let res: ValidationResult<unknown>;
    try {
      res = isSlicedResourceType(rt) ? yield* rt.translateSteps(raw, this.ctx) : rt.translate(raw, this.ctx);
    } catch (e) {
      res = { ok: false as const, errors: [{ path: '', message: `translator failed: ${(e as Error).message}` }] };
    }
    if (res.ok && typeUrl === TypeUrl.RouteConfiguration) {
      // validate_clusters: a cross-resource check against the clusters known now (accepted, warming included).
      const clusters = this.accepted.get(TypeUrl.Cluster)!;
      const unknown = unknownClusterErrors(raw, (c) => clusters.has(c));
      if (unknown.length > 0) res = { ok: false as const, errors: unknown };
    }
    if (!res.ok) {
      for (const fe of res.errors) errors.push({ path: fe.path ? `${p}.${fe.path}` : p, message: `${fe.message} (${short} "${name}")` });
      failed.push({ name, raw });
      return;
    }
    let deps: Dependencies = {};
    try {
      deps = rt.dependencies(res.value);
    } catch (e) {
      errors.push({ path: p, message: `dependencies failed: ${(e as Error).message}` });
    }
    // The raw canonical form is plain data and frozen deeply (here, while chunked, not in the commit); the
    // translated value belongs to its translator (readonly by contract; it may hold compiled objects such as RE2
    // instances, so it is not frozen here).
    // EDS from the wire keeps its bytes, not its canonical form (≈ 5 objects per endpoint: ≈ 30 MB for 100,000
    // endpoints); the canonical form is decoded again, once, when something reads entry.raw (config_dump, workers).
    const frozen = wireBytes !== null && wireIsType && !sliced && typeUrl === TypeUrl.ClusterLoadAssignment
      ? lazyRaw(typeUrl, wireBytes.slice(), p)
      : sliced ? yield* freezeInSlices(raw, sliced) : deepFreeze(raw);
    translated.push({ name, value: res.value, raw: frozen, deps, hash, version, wireKey });
  }

  /** After every item was stepped: NACK with every error, or swap in the new accepted set and publish. */
  private finish(job: UpdateJob): ApplyResult {
    return runSlices(this.finishSteps(job));
  }

  /**
   * The commit, as slices for the chunked path: the new accepted map is built aside (yielding every COMMIT_SLICE
   * resources; nothing shared is touched), swapped in at once, then recompute brings active sets, wanted names, the
   * RDS/EDS garbage collection and the published snapshot up to date, each part sliced and each reading the current
   * state (another type's commit may run between two slices; it leaves a consistent state that the next part reads).
   * The data path sees only snapshots, and a snapshot is built from whole swapped maps, so nothing half-applied is
   * ever visible. Run to the end in one go by the synchronous path.
   */
  private *finishSteps(job: UpdateJob): Slices<ApplyResult> {
    const { typeUrl, removed, meta, mode, isStatic, receivedAt, stats, short, errors, failed, translated, validateMs } = job;
    let prev = this.accepted.get(typeUrl)!;
    for (const name of removed) {
      if (prev.get(name)?.entry.isStatic) errors.push({ path: 'removed_resources', message: `"${name}" is a static resource from the bootstrap and cannot be removed by xDS` });
    }
    if (errors.length > 0) return this.reject(typeUrl, meta, receivedAt, validateMs, errors, failed);

    // ---- accepted: build the new accepted map for this type, aside
    const t1 = performance.now();
    let applyMs = 0;
    const nowMs = this.now();
    let built = yield* this.buildAccepted(typeUrl, prev, translated, removed, mode, isStatic, nowMs);
    if (this.accepted.get(typeUrl) !== prev || this.mut(typeUrl) !== built.mut) {
      // The accepted map changed while it was being built (RDS/EDS garbage collection): build it again, in one go.
      prev = this.accepted.get(typeUrl)!;
      built = runSlices(this.buildAccepted(typeUrl, prev, translated, removed, mode, isStatic, nowMs));
    }
    const { next, added, changed, gone, replaced } = built;
    // ---- the swap (one turn)
    const missing = this.missing.get(typeUrl)!;
    let missingChanged = false;
    if (missing.size > 0) for (const tr of translated) if (missing.delete(tr.name)) missingChanged = true;
    for (const tr of translated) {
      if (tr.wireKey === null) continue;
      const s = next.get(tr.name);
      if (s && s.wireKey !== tr.wireKey) this.indexWire(typeUrl, s, tr.wireKey);
    }
    for (const name of removed) if (!PARENT_TYPES.has(typeUrl)) missing.add(name);
    for (const s of replaced) {
      this.clearWarm(s);
      this.unindexWire(typeUrl, s);
    }
    const touched = added.length + changed.length + gone.length > 0;
    if (touched) {
      this.accepted.set(typeUrl, next);
      this.bump(typeUrl);
    }

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
    applyMs += performance.now() - t1;
    let published = false;
    if (touched || missingChanged || removed.length > 0) {
      const generation = this.snapshot.generation;
      const t2 = performance.now();
      yield;
      published = (yield* this.recomputeSteps()) || this.snapshot.generation !== generation;
      applyMs += performance.now() - t2;
    }
    if (touched) {
      const act = this.active.get(typeUrl)!;
      const acc = this.accepted.get(typeUrl)!;
      const stillWarming: Stored[] = [];
      if (PARENT_TYPES.has(typeUrl)) {
        for (const n of added) if (acc.get(n) === next.get(n) && act.get(n) !== next.get(n)) stillWarming.push(next.get(n)!);
        for (const n of changed) if (acc.get(n) === next.get(n) && act.get(n) !== next.get(n)) stillWarming.push(next.get(n)!);
      }
      if (stillWarming.length > 0) {
        for (const s of stillWarming) (s.pendingEffects ??= []).push(handle);
        handle.update({ warming: true });
      } else if (published) handle.effect(this.now());
    }
    handle.update({ applyMs });
    this.log.debug({ type: short, version: meta.version, added: added.length, changed: changed.length, removed: gone.length }, 'xds update accepted');
    return { accepted: true };
  }

  /** The next accepted map for a type (prev + translated − removed), with what changed; touches no shared state. */
  private *buildAccepted(
    typeUrl: XdsTypeUrl,
    prev: Map<string, Stored>,
    translated: UpdateJob['translated'],
    removed: readonly string[],
    mode: 'replace' | 'merge',
    isStatic: boolean,
    nowMs: number,
  ): Slices<{ next: Map<string, Stored>; added: string[]; changed: string[]; gone: string[]; replaced: Stored[]; mut: number }> {
    const mut = this.mut(typeUrl);
    let next: Map<string, Stored>;
    if (mode === 'merge') next = new Map(prev);
    else {
      next = new Map();
      for (const [n, s] of prev) if (s.entry.isStatic) next.set(n, s);
    }
    const added: string[] = [];
    const changed: string[] = [];
    const gone: string[] = [];
    for (let i = 0; i < translated.length; i++) {
      if ((i & (COMMIT_SLICE - 1)) === COMMIT_SLICE - 1) yield;
      const tr = translated[i];
      const old = prev.get(tr.name);
      if (old && old.hash === tr.hash) {
        next.set(tr.name, old);
        continue;
      }
      const entry: ResourceEntry<any> = typeof tr.raw === 'function'
        ? lazyRawEntry(tr.name, tr.version, tr.value, nowMs, isStatic, tr.raw)
        : Object.freeze({ name: tr.name, version: tr.version, value: tr.value, raw: tr.raw, lastUpdated: nowMs, isStatic });
      next.set(tr.name, { entry, deps: tr.deps, hash: tr.hash, warmTimedOut: false, warmDeadline: 0, pendingEffects: null, wireKey: null });
      (old ? changed : added).push(tr.name);
    }
    for (const name of removed) if (next.delete(name)) gone.push(name);
    if (mode === 'replace') for (const n of prev.keys()) if (!next.has(n)) gone.push(n);
    yield;
    const replaced: Stored[] = [];
    let k = 0;
    for (const [n, s] of prev) {
      if ((++k & (COMMIT_SLICE * 4 - 1)) === 0) yield;
      if (next.get(n) !== s) replaced.push(s);
    }
    return { next, added, changed, gone, replaced, mut };
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

  private indexWire(t: XdsTypeUrl, s: Stored, key: string): void {
    this.unindexWire(t, s);
    let m = this.byWire.get(t);
    if (!m) this.byWire.set(t, (m = new Map()));
    s.wireKey = key;
    m.set(key, s);
  }

  private unindexWire(t: XdsTypeUrl, s: Stored): void {
    if (s.wireKey === null) return;
    const m = this.byWire.get(t);
    if (m?.get(s.wireKey) === s) m.delete(s.wireKey);
    s.wireKey = null;
  }

  private clearWarm(s: Stored): void {
    if (s.warmDeadline !== 0) {
      s.warmDeadline = 0;
      this.warmingSet.delete(s);
      if (this.warmingSet.size === 0 && this.warmTimer) {
        clearTimeout(this.warmTimer);
        this.warmTimer = null;
        this.warmTimerAt = 0;
      }
    }
  }

  /** Starts s's warming deadline (initial_fetch_timeout). One timer for all of them: 10,000 clusters arriving before
   *  their EDS no longer arm (and then clear) 10,000 timers. */
  private armWarm(s: Stored, t: XdsTypeUrl, name: string, now = performance.now()): void {
    s.warmDeadline = now + this.warmingTimeoutMs;
    this.warmingSet.add(s);
    this.warmNames.set(s, [t, name]);
    this.scheduleWarmTimer(s.warmDeadline);
  }

  private scheduleWarmTimer(at: number): void {
    if (this.warmTimer && this.warmTimerAt <= at) return;
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimerAt = at;
    this.warmTimer = setTimeout(() => this.onWarmTimer(), Math.max(1, Math.ceil(at - performance.now())));
    this.warmTimer.unref?.();
  }

  private onWarmTimer(): void {
    this.warmTimer = null;
    this.warmTimerAt = 0;
    if (this.closed) return;
    const now = performance.now();
    let next = 0;
    let expired = false;
    for (const s of [...this.warmingSet]) {
      if (s.warmDeadline <= now) {
        const [t, name] = this.warmNames.get(s) ?? [TypeUrl.Listener, ''];
        this.warmingSet.delete(s);
        this.warmNames.delete(s);
        s.warmDeadline = 0;
        s.warmTimedOut = true;
        expired = true;
        this.log.warn({ type: ShortName[t], name }, 'warming timed out; publishing without its dependencies');
      } else if (next === 0 || s.warmDeadline < next) next = s.warmDeadline;
    }
    if (next !== 0) this.scheduleWarmTimer(next);
    if (expired) this.recompute(null);
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

  /** Marks a type's accepted or active set as changed (what recompute / publish use to skip unchanged work). */
  private bump(t: XdsTypeUrl): void {
    this.mutations.set(t, (this.mutations.get(t) ?? 0) + 1);
  }

  private mut(t: XdsTypeUrl): number {
    return this.mutations.get(t) ?? 0;
  }

  /** Moves warmed resources to active, garbage-collects unreferenced RDS/EDS, publishes on change. */
  private recompute(_reason: null): boolean {
    return runSlices(this.recomputeSteps());
  }

  /**
   * recompute as slices (yields every COMMIT_SLICE resources and between its parts). Every part brings one piece of
   * derived state up to date with the state it reads when it runs, so a commit of another type between two slices
   * (which runs its own recompute) leaves nothing for this one to undo; a parent type's accepted map that is swapped
   * while it is walked is walked again.
   */
  private *recomputeSteps(): Slices<boolean> {
    let activeChanged = false;
    const effects: HistoryHandle[] = [];
    // Clusters first, then listeners (the order the data path wants them added in).
    for (const t of [TypeUrl.Cluster, TypeUrl.Listener] as const) {
      let changedHere = false;
      walk: for (;;) {
        const acc = this.accepted.get(t)!;
        const act = this.active.get(t)!;
        const mut = this.mut(t);
        if (act.size > acc.size || mut !== this.activeCheckedAt.get(t)) {
          for (const name of [...act.keys()]) {
            if (!acc.has(name)) {
              act.delete(name);
              changedHere = true;
              this.bump(t);
            }
          }
        }
        let k = 0;
        let now = 0;
        for (const [name, s] of acc) {
          if ((++k & (COMMIT_SLICE - 1)) === 0) {
            yield;
            // Swapped by a commit of this type while walked: walk the new map (what was set stays valid: a
            // later recompute of that commit has run and the remaining walk sees its state).
            if (this.accepted.get(t) !== acc) continue walk;
          }
          if (act.get(name) === s) continue;
          if (s.warmTimedOut || this.depsReady(s)) {
            this.clearWarm(s);
            act.set(name, s);
            // Counted at once, not after the walk: a snapshot map built aside meanwhile must see it is stale.
            this.bump(t);
            changedHere = true;
            if (s.pendingEffects !== null) for (const h of s.pendingEffects) effects.push(h);
            s.pendingEffects = null;
          } else if (s.warmDeadline === 0 && this.warmingTimeoutMs > 0 && !this.closed) {
            if (now === 0) now = performance.now();
            this.armWarm(s, t, name, now);
          }
        }
        break;
      }
      if (changedHere) {
        this.bump(t);
        activeChanged = true;
      }
      this.activeCheckedAt.set(t, this.mut(t));
    }
    // Wanted names come from every accepted parent (active or warming); recomputed only when a parent set changed.
    const parentsKey = `${this.mut(TypeUrl.Listener)}/${this.mut(TypeUrl.Cluster)}`;
    let wantChanged = false;
    if (parentsKey !== this.wantedComputedFor) {
      yield;
      const wantR = new Set<string>();
      const wantE = new Set<string>();
      let k = 0;
      let stale = false;
      const key = (): string => `${this.mut(TypeUrl.Listener)}/${this.mut(TypeUrl.Cluster)}`;
      const at = key();
      for (const t of [TypeUrl.Listener, TypeUrl.Cluster] as const) {
        for (const m of [this.accepted.get(t)!, this.active.get(t)!]) {
          for (const s of m.values()) {
            if ((++k & (COMMIT_SLICE * 2 - 1)) === 0) {
              yield;
              if (key() !== at) stale = true;
            }
            const d = s.deps;
            if (d.routeConfigs) for (const r of d.routeConfigs) wantR.add(r);
            if (d.endpoints) for (const e of d.endpoints) wantE.add(e);
          }
        }
      }
      // A parent set changed while the names were gathered: the commit that changed it recomputed them already.
      if (!stale && key() === at && this.wantedComputedFor !== at) {
        this.wantedComputedFor = at;
        for (const [t, want] of [[TypeUrl.RouteConfiguration, wantR], [TypeUrl.ClusterLoadAssignment, wantE]] as const) {
          if (!sameSet(this.wanted.get(t)!, want)) {
            this.wanted.set(t, want);
            wantChanged = true;
            this.pendingWantedNotify.add(t);
          }
        }
      }
    }
    // Unreferenced RDS/EDS are dropped (Envoy deletes them implicitly), static ones kept.
    for (const t of [TypeUrl.RouteConfiguration, TypeUrl.ClusterLoadAssignment] as const) {
      if (!wantChanged && this.gcCheckedAt.get(t) === this.mut(t)) continue;
      yield;
      const want = this.wanted.get(t)!;
      const acc = this.accepted.get(t)!;
      let dropped = false;
      for (const [n, s] of acc) {
        if (!want.has(n) && !s.entry.isStatic) {
          acc.delete(n);
          this.unindexWire(t, s);
          dropped = true;
        }
      }
      if (dropped) this.bump(t);
      this.gcCheckedAt.set(t, this.mut(t));
      const miss = this.missing.get(t)!;
      for (const n of [...miss]) if (!want.has(n)) miss.delete(n);
    }
    for (const t of [...this.pendingWantedNotify]) {
      this.pendingWantedNotify.delete(t);
      const want = this.wanted.get(t)!;
      for (const fn of this.wantedListeners) {
        try {
          fn(t, want);
        } catch (e) {
          this.log.error({ err: e }, 'wanted-names listener failed');
        }
      }
    }
    const published = yield* this.publishSteps();
    if (published) {
      const at = this.now();
      for (const h of effects) h.effect(at);
    }
    return published || activeChanged;
  }

  /**
   * Publishes a snapshot if a published set changed. The maps of changed types are built aside in slices; the swap is
   * one step, and a type changed while its map was built is built again in that step.
   */
  private *publishSteps(): Slices<boolean> {
    const sources = (): [XdsTypeUrl, Map<string, Stored>][] => [
      [TypeUrl.Listener, this.active.get(TypeUrl.Listener)!],
      [TypeUrl.Cluster, this.active.get(TypeUrl.Cluster)!],
      [TypeUrl.RouteConfiguration, this.accepted.get(TypeUrl.RouteConfiguration)!],
      [TypeUrl.ClusterLoadAssignment, this.accepted.get(TypeUrl.ClusterLoadAssignment)!],
    ];
    // Built aside: per type, the entries map and the mutation count it was built at.
    const built = new Map<XdsTypeUrl, { map: ReadonlyMap<string, ResourceEntry<any>>; mut: number; src: Map<string, Stored> }>();
    for (const [t, m] of sources()) {
      if (this.publishedAt.get(t) === this.mut(t) || m.size < COMMIT_SLICE) continue;
      const mut = this.mut(t);
      const out = new Map<string, ResourceEntry<any>>();
      let k = 0;
      let stale = false;
      for (const [n, s] of m) {
        if ((++k & (COMMIT_SLICE * 2 - 1)) === 0) {
          yield;
          if (this.mut(t) !== mut) {
            stale = true;
            break;
          }
        }
        out.set(n, s.entry);
      }
      if (!stale) built.set(t, { map: out, mut, src: m });
    }
    yield;
    return this.publish(built);
  }

  private publish(built?: ReadonlyMap<XdsTypeUrl, { map: ReadonlyMap<string, ResourceEntry<any>>; mut: number; src: Map<string, Stored> }>): boolean {
    const cur = this.snapshot;
    // Only the maps of types whose published set changed are rebuilt; the others are shared with the last snapshot.
    const pick = (t: XdsTypeUrl, m: Map<string, Stored>, old: ReadonlyMap<string, ResourceEntry<any>>): ReadonlyMap<string, ResourceEntry<any>> => {
      if (this.publishedAt.get(t) === this.mut(t)) return old;
      this.publishedAt.set(t, this.mut(t));
      const b = built?.get(t);
      const fresh = b && b.mut === this.mut(t) && b.src === m ? b.map : entriesOf(m);
      return sameEntries(old, fresh) ? old : fresh;
    };
    const listeners = pick(TypeUrl.Listener, this.active.get(TypeUrl.Listener)!, cur.listeners);
    const clusters = pick(TypeUrl.Cluster, this.active.get(TypeUrl.Cluster)!, cur.clusters);
    const routes = pick(TypeUrl.RouteConfiguration, this.accepted.get(TypeUrl.RouteConfiguration)!, cur.routes);
    const endpoints = pick(TypeUrl.ClusterLoadAssignment, this.accepted.get(TypeUrl.ClusterLoadAssignment)!, cur.endpoints);
    if (cur.listeners === listeners && cur.clusters === clusters && cur.routes === routes && cur.endpoints === endpoints) return false;
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

/** An entry's raw canonical form decoded on first read (and kept) from the wire bytes it was accepted from. */
type LazyRaw = () => Canonical;

function lazyRaw(typeUrl: string, bytes: Uint8Array, path: string): LazyRaw {
  let raw: Canonical | null = null;
  return () => {
    if (raw === null) {
      const { '@type': _t, ...rest } = toCanonical({ type_url: typeUrl, value: bytes }, path);
      raw = deepFreeze(rest);
    }
    return raw;
  };
}

/** The decoder behind each lazily decoded entry's `raw`. */
const LAZY_RAW = new WeakMap<object, LazyRaw>();

/**
 * The one getter of every lazily decoded entry's `raw`: with a getter function per entry, each of 10,000 EDS entries
 * had a hidden class (map + descriptors, ≈ 2 MB) of its own; a shared getter lets them share one.
 */
function readLazyRaw(this: object): Canonical {
  return LAZY_RAW.get(this)!();
}

function lazyRawEntry(name: string, version: string, value: unknown, lastUpdated: number, isStatic: boolean, raw: LazyRaw): ResourceEntry<any> {
  const e = { name, version, value, lastUpdated, isStatic };
  Object.defineProperty(e, 'raw', { get: readLazyRaw, enumerable: true });
  LAZY_RAW.set(e, raw);
  return Object.freeze(e) as unknown as ResourceEntry<any>;
}

/** What to carry over from an unchanged entry: its lazy raw decoder if it has one (not decoding it), else its raw. */
function rawRef(e: ResourceEntry<any>): Canonical | LazyRaw {
  return LAZY_RAW.get(e) ?? (e.raw as Canonical);
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
