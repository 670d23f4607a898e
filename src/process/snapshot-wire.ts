// process/: carries a published ConfigSnapshot from the primary (which owns the xDS stream) to the workers. The
// primary sends each resource's raw canonical form (JSON text, Buffers tagged), the workers translate it again with
// the same resource types (deterministic) and rebuild a ConfigSnapshot of the same generation. Unchanged resources
// keep their translated object (same name, version and text), so listeners and clusters are not rebuilt.
import type { ConfigSnapshot, ResourceEntry } from '../config/snapshot.js';

/** The resource kinds a snapshot holds, in the order workers must apply them (clusters before listeners). */
export const SNAPSHOT_KINDS = ['clusters', 'endpoints', 'routes', 'listeners'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** One resource on the wire: name, version, raw canonical JSON (Buffers as {"$buffer": base64}), lastUpdated, isStatic. */
export type WireEntry = readonly [name: string, version: string, rawJson: string, lastUpdated: number, isStatic: boolean];

export interface WireSnapshot {
  readonly generation: number;
  readonly versions: Readonly<Record<string, string>>;
  readonly resources: Readonly<Record<SnapshotKind, readonly WireEntry[]>>;
}

/** Translates one raw resource (the ResourceType of its kind); an error string when it no longer validates. */
export type Retranslate = (kind: SnapshotKind, raw: Record<string, unknown>) => { ok: true; value: unknown } | { ok: false; error: string };

function replacer(this: unknown, key: string, value: unknown): unknown {
  const orig = (this as Record<string, unknown>)[key];
  if (Buffer.isBuffer(orig) || orig instanceof Uint8Array) return { $buffer: Buffer.from(orig).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.$buffer === 'string' && Object.keys(o).length === 1) return Buffer.from(o.$buffer, 'base64');
  }
  return value;
}

/** JSON text of a canonical object; Buffers survive the round trip (structured clone would turn them into Uint8Array). */
export function canonicalToJson(raw: unknown): string {
  return JSON.stringify(raw, replacer);
}

export function canonicalFromJson(text: string): Record<string, unknown> {
  return JSON.parse(text, reviver) as Record<string, unknown>;
}

/** Primary side: snapshot → wire form. Entries are frozen, so their JSON text is cached per entry object. */
export class SnapshotEncoder {
  private cache = new WeakMap<object, WireEntry>();

  encode(snap: ConfigSnapshot): WireSnapshot {
    const resources = {} as Record<SnapshotKind, WireEntry[]>;
    for (const kind of SNAPSHOT_KINDS) {
      const list: WireEntry[] = [];
      for (const e of (snap[kind] as ReadonlyMap<string, ResourceEntry<unknown>>).values()) {
        let w = this.cache.get(e);
        if (!w) {
          w = [e.name, e.version, canonicalToJson(e.raw), e.lastUpdated, e.isStatic];
          this.cache.set(e, w);
        }
        list.push(w);
      }
      resources[kind] = list;
    }
    return { generation: snap.generation, versions: snap.versions, resources };
  }
}

export interface DecodeResult {
  readonly snapshot: ConfigSnapshot | null;
  /** Resources that failed to translate in the worker (`kind/name: error`); the snapshot is then not applied. */
  readonly errors: readonly string[];
}

/** Worker side: wire form → ConfigSnapshot; a resource whose (version, text) did not change keeps its entry object. */
export class SnapshotDecoder {
  private prev = new Map<string, { text: string; entry: ResourceEntry<unknown> }>();

  constructor(private readonly translate: Retranslate) {}

  decode(w: WireSnapshot): DecodeResult {
    const next = new Map<string, { text: string; entry: ResourceEntry<unknown> }>();
    const maps = {} as Record<SnapshotKind, Map<string, ResourceEntry<unknown>>>;
    const errors: string[] = [];
    for (const kind of SNAPSHOT_KINDS) {
      const m = new Map<string, ResourceEntry<unknown>>();
      for (const [name, version, text, lastUpdated, isStatic] of w.resources[kind] ?? []) {
        const key = `${kind}/${name}`;
        const old = this.prev.get(key);
        if (old && old.text === text && old.entry.version === version) {
          m.set(name, old.entry);
          next.set(key, old);
          continue;
        }
        const raw = deepFreeze(canonicalFromJson(text));
        const r = this.translate(kind, raw);
        if (!r.ok) {
          errors.push(`${key}: ${r.error}`);
          continue;
        }
        const entry: ResourceEntry<unknown> = Object.freeze({ name, version, value: r.value, raw, lastUpdated, isStatic });
        m.set(name, entry);
        next.set(key, { text, entry });
      }
      maps[kind] = m;
    }
    if (errors.length > 0) return { snapshot: null, errors };
    this.prev = next;
    const snapshot = Object.freeze({
      generation: w.generation,
      listeners: maps.listeners,
      routes: maps.routes,
      clusters: maps.clusters,
      endpoints: maps.endpoints,
      versions: Object.freeze({ ...w.versions }),
    }) as ConfigSnapshot;
    return { snapshot, errors };
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !Buffer.isBuffer(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
