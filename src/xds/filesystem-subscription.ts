// xds/: Envoy's filesystem subscription (ConfigSource.path_config_source): a file holding a DiscoveryResponse in
// YAML or JSON is read, converted to canonical form and handed to the ConfigStore as a SotW update; re-read when
// it changes (stat polling plus directory watch, so atomic rename/symlink swaps are seen). A bad file is rejected
// like a NACK: logged, recorded, the last good config keeps serving.
import { readFileSync, statSync, watch, watchFile, unwatchFile, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { jsonToCanonical, ProtoConversionError, type Canonical } from './proto-json.js';
import type { XdsTypeUrl } from './resource-type.js';
import { silentLogger, type ApplyResult, type ConfigStore, type XdsLogger } from './config-store.js';

export interface FilesystemSubscriptionOptions {
  readonly path: string;
  readonly typeUrl: XdsTypeUrl;
  /** Stat polling interval, ms (default 500, at most 1000). */
  readonly pollIntervalMs?: number;
  /** Also watch the directory (catches rename-into-place quickly); default true. */
  readonly watchDirectory?: boolean;
  readonly logger?: XdsLogger;
}

export type FilesystemSubscriptionState = 'idle' | 'watching' | 'closed';

/** Reads `path` now and on every change; each distinct content is one SotW update of `typeUrl`. */
export class FilesystemSubscription {
  private readonly opts: FilesystemSubscriptionOptions;
  private readonly store: ConfigStore;
  private readonly log: XdsLogger;
  private state: FilesystemSubscriptionState = 'idle';
  private lastContentHash = '';
  private dirWatcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private readonly onStat = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) this.scheduleReload();
  };

  constructor(opts: FilesystemSubscriptionOptions, deps: { store: ConfigStore }) {
    this.opts = opts;
    this.store = deps.store;
    this.log = opts.logger ?? silentLogger;
  }

  /** Reads the file once (result returned) and starts watching it. */
  start(): ApplyResult {
    if (this.state !== 'idle') return { accepted: true };
    this.state = 'watching';
    const result = this.reload();
    const interval = Math.min(1000, Math.max(50, this.opts.pollIntervalMs ?? 500));
    watchFile(this.opts.path, { interval, persistent: false }, this.onStat);
    if (this.opts.watchDirectory !== false) {
      try {
        const file = basename(this.opts.path);
        this.dirWatcher = watch(dirname(this.opts.path), { persistent: false }, (_ev, name) => {
          if (!name || name.toString() === file) this.scheduleReload();
        });
        this.dirWatcher.on('error', () => {
          this.dirWatcher?.close();
          this.dirWatcher = null;
        });
      } catch {
        this.dirWatcher = null; // polling still covers changes
      }
    }
    return result;
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    unwatchFile(this.opts.path, this.onStat);
    this.dirWatcher?.close();
    this.dirWatcher = null;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
  }

  private scheduleReload(): void {
    if (this.state !== 'watching' || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      if (this.state === 'watching') this.reload();
    }, 20);
    this.debounce.unref?.();
  }

  /** Reads and applies the file if its content changed since the last read. */
  reload(): ApplyResult {
    const receivedAt = Date.now();
    let text: string;
    try {
      statSync(this.opts.path);
      text = readFileSync(this.opts.path, 'utf8');
    } catch (e) {
      // A missing file mid-rename is normal; only report it when nothing has been read yet.
      if (this.lastContentHash) return { accepted: true };
      const message = `cannot read ${this.opts.path}: ${(e as Error).message}`;
      this.lastContentHash = 'unreadable';
      return this.store.rejectUpdate(this.opts.typeUrl, { source: 'filesystem', version: '', receivedAt }, [{ path: this.opts.path, message }]);
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === this.lastContentHash) return { accepted: true };
    this.lastContentHash = hash;
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (e) {
      return this.store.rejectUpdate(this.opts.typeUrl, { source: 'filesystem', version: '', receivedAt }, [{ path: this.opts.path, message: `cannot parse: ${(e as Error).message}` }]);
    }
    let response: Canonical;
    try {
      response = jsonToCanonical('envoy.service.discovery.v3.DiscoveryResponse', parsed ?? {});
    } catch (e) {
      const err = e instanceof ProtoConversionError ? { path: e.path, message: e.detail } : { path: '', message: (e as Error).message };
      return this.store.rejectUpdate(this.opts.typeUrl, { source: 'filesystem', version: '', receivedAt }, [err]);
    }
    const version = typeof response.version_info === 'string' && response.version_info ? response.version_info : hash.slice(0, 12);
    const resources = (Array.isArray(response.resources) ? response.resources : []) as Canonical[];
    const result = this.store.applySotw(this.opts.typeUrl, resources, { source: 'filesystem', version, receivedAt });
    if (result.accepted) this.log.info({ path: this.opts.path, version }, 'filesystem xds update applied');
    else this.log.warn({ path: this.opts.path, version, errors: result.errors }, 'filesystem xds update rejected; keeping the last good config');
    return result;
  }
}
