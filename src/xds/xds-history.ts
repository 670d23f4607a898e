// xds/: the last N xDS updates per type (what the control plane sent and what meshlet did with it), served by
// the admin /debug/xds view. Written by the config store on every update; read-only for everyone else.
import type { FieldError } from '../common/validation.js';

export type HistorySource = 'ads-sotw' | 'ads-delta' | 'filesystem' | 'static';

export interface HistoryEntry {
  /** Epoch ms the update was received. */
  readonly time: number;
  readonly typeUrl: string;
  readonly source: HistorySource;
  readonly version: string;
  readonly nonce: string;
  /** Names of the resources added / changed / removed; only the first HISTORY_NAMES_LIMIT of each are kept (a
   *  mesh-sized update would otherwise keep 10,000s of names per entry): `counts` has the full numbers. */
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** Full counts of added / changed / removed (filled in by record()). */
  readonly counts?: { readonly added: number; readonly changed: number; readonly removed: number };
  readonly accepted: boolean;
  /** Field-path errors when rejected. */
  readonly errors: readonly FieldError[];
  /** Time spent decoding, validating and translating the update, ms. */
  readonly validateMs: number;
  /** Time spent building and publishing the snapshot (0 when nothing was published), ms. */
  readonly applyMs: number;
  /** Receive → snapshot published, ms; null while warming or when the update changed nothing visible. */
  readonly pushToEffectMs: number | null;
  /** True while some of the update's resources wait for their dependencies (RDS/EDS). */
  readonly warming: boolean;
}

/** Lets the recorder complete an entry after the fact (apply time, push-to-effect once warming ends). */
export interface HistoryHandle {
  effect(publishedAt: number): void;
  update(patch: { applyMs?: number; warming?: boolean }): void;
}

/** How many names per list an entry keeps. */
export const HISTORY_NAMES_LIMIT = 20;

const cap = (names: readonly string[]): readonly string[] => (names.length > HISTORY_NAMES_LIMIT ? names.slice(0, HISTORY_NAMES_LIMIT) : names);

type MutableEntry = { -readonly [K in keyof HistoryEntry]: HistoryEntry[K] };

/** Ring of the last `limit` entries per type URL. */
export class XdsHistory {
  private readonly perType = new Map<string, MutableEntry[]>();

  constructor(readonly limit = 100) {}

  /** Records an update; the returned handle lets the store fill in push-to-effect once warming finishes. */
  record(entry: HistoryEntry): HistoryHandle {
    const e: MutableEntry = {
      ...entry,
      added: cap(entry.added), changed: cap(entry.changed), removed: cap(entry.removed),
      counts: { added: entry.added.length, changed: entry.changed.length, removed: entry.removed.length },
    };
    let list = this.perType.get(entry.typeUrl);
    if (!list) {
      list = [];
      this.perType.set(entry.typeUrl, list);
    }
    list.push(e);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    return {
      effect(publishedAt: number): void {
        if (e.pushToEffectMs === null) e.pushToEffectMs = Math.max(0, publishedAt - e.time);
        e.warming = false;
      },
      update(patch: { applyMs?: number; warming?: boolean }): void {
        if (patch.applyMs !== undefined) e.applyMs = patch.applyMs;
        if (patch.warming !== undefined) e.warming = patch.warming;
      },
    };
  }

  entries(typeUrl: string): readonly HistoryEntry[] {
    return (this.perType.get(typeUrl) ?? []).map((e) => ({ ...e }));
  }

  /** `{ types: { [typeUrl]: HistoryEntry[] (oldest first) } }` for /debug/xds. */
  toJSON(): { types: Record<string, HistoryEntry[]> } {
    const types: Record<string, HistoryEntry[]> = {};
    for (const [t, list] of this.perType) types[t] = list.map((e) => ({ ...e }));
    return { types };
  }
}
