// process/: hot restart as the composition root (src/proxy.ts) sees it. Opened once at startup, before any listener
// binds: with --restart-epoch E > 0 it takes epoch E-1's listen sockets (HotRestartChild) or fails with one line;
// then, in every epoch, it serves its own control socket for epoch E+1 (HotRestartParent). The child's inherited
// sockets go to the listener manager; the ones no listener took are closed after the first listener set is applied;
// when this process is LIVE the parent is told to drain. Hot restart needs the native addon and one process
// (--concurrency > 1 keeps the sockets in node:cluster's primary, so E > 0 with workers is refused).
import { HotRestartChild } from './hot-restart-child.js';
import { loadHotRestartAddon, type HotRestartAddonState } from './hot-restart-native.js';
import { HotRestartParent, type HotRestartLogger, type HotRestartParentDeps } from './hot-restart-parent.js';
import { HOT_RESTART_VERSION, HotRestartError, controlSocketName } from './hot-restart-wire.js';
import type { InheritedSockets } from '../listener/inherited-sockets.js';

export interface HotRestartSessionOptions {
  readonly restartEpoch: number;
  readonly baseId: number;
  readonly concurrency: number;
  readonly disableHotRestart: boolean;
  readonly parentShutdownTimeS: number;
  readonly logger: HotRestartLogger;
  /** Tests: the addon state instead of loading native/build/Release/hot_restart.node. */
  readonly addon?: HotRestartAddonState;
  /** Bound on the hand-over round trip (default 5 s). */
  readonly timeoutMs?: number;
}

export type ParentRoleDeps = Omit<HotRestartParentDeps, 'addon' | 'name' | 'epoch' | 'logger'>;

export class HotRestartSession {
  private parent: HotRestartParent | null = null;

  private constructor(
    private readonly o: HotRestartSessionOptions,
    private readonly addon: HotRestartAddonState,
    private readonly child: HotRestartChild | null,
  ) {}

  /** Throws HotRestartError (UNSUPPORTED, UNAVAILABLE, NO_PARENT, TIMEOUT, REFUSED, PARENT_GONE, PROTOCOL) for E > 0. */
  static open(o: HotRestartSessionOptions): HotRestartSession {
    const epoch = o.restartEpoch;
    const workers = o.concurrency > 1;
    if (epoch > 0 && workers) throw new HotRestartError('UNSUPPORTED', `--restart-epoch ${epoch} cannot be combined with --concurrency ${o.concurrency} (hot restart needs one process)`);
    if (epoch > 0 && o.disableHotRestart) throw new HotRestartError('UNSUPPORTED', `--restart-epoch ${epoch} cannot be combined with --disable-hot-restart`);
    // The addon is only loaded when hot restart can happen at all.
    const addon: HotRestartAddonState = workers || o.disableHotRestart
      ? { state: 'unavailable', reason: workers ? '--concurrency > 1' : '--disable-hot-restart' }
      : o.addon ?? loadHotRestartAddon();
    if (epoch > 0 && addon.state !== 'loaded') throw new HotRestartError('UNAVAILABLE', `--restart-epoch ${epoch} needs the hot-restart addon: ${addon.reason}`);
    const child = epoch > 0 && addon.state === 'loaded'
      ? HotRestartChild.connect({ addon: addon.addon, parentName: controlSocketName(o.baseId, epoch - 1), epoch, logger: o.logger, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) })
      : null;
    return new HotRestartSession(o, addon, child);
  }

  get epoch(): number {
    return this.o.restartEpoch;
  }

  /** Envoy's hot_restart_version (/hot_restart_version, /server_info): 'disabled' when this process cannot hot restart. */
  get version(): string {
    return this.addon.state === 'loaded' ? HOT_RESTART_VERSION : 'disabled';
  }

  /** The parent's listen sockets (epoch > 0), for the listener manager. */
  get inherited(): InheritedSockets | undefined {
    return this.child?.inherited;
  }

  /** Start of epoch 0's lineage as far as known (the parent's start for a child), for uptime_all_epochs. */
  firstStartTime(own: number): number {
    return this.child ? Math.min(own, this.child.parentStartTime) : own;
  }

  /** The first listener set is applied: inherited sockets no listener took are closed. */
  listenersApplied(): void {
    const inh = this.child?.inherited;
    if (!inh || inh.isClosed) return;
    const unused = inh.closeUnused();
    if (unused.length) this.o.logger.info({ sockets: unused }, 'hot restart: closed inherited sockets no listener uses');
  }

  /** This process is LIVE: the parent drains and exits (by --parent-shutdown-time-s at the latest). */
  live(): void {
    this.listenersApplied();
    this.child?.takeOver(this.o.parentShutdownTimeS);
  }

  /** Serves the control socket for epoch E+1 (no-op without the addon). */
  async serve(deps: ParentRoleDeps): Promise<void> {
    if (this.addon.state !== 'loaded' || this.parent) return;
    const p = new HotRestartParent({ ...deps, addon: this.addon.addon, name: controlSocketName(this.o.baseId, this.o.restartEpoch), epoch: this.o.restartEpoch, logger: this.o.logger });
    if (await p.listen()) this.parent = p;
  }

  /** This process is going away: stop serving the control socket and drop the parent connection. */
  close(): void {
    this.parent?.exited();
    this.child?.close();
  }
}
