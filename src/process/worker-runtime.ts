// process/: a worker's side of `--concurrency N`. The worker owns a data plane (clusters, pools, route tables,
// listeners) but no xDS stream and no admin: it rebuilds each snapshot the primary sends, applies whole
// generations one at a time (never half of one), reports what it applied, and answers the primary's questions.
// SIGTERM/SIGINT are the primary's to handle; a worker whose primary is gone exits.
import type { ConfigSnapshot } from '../config/snapshot.js';
import { SnapshotDecoder, type Retranslate, type WireSnapshot } from './snapshot-wire.js';
import type { WireHealthUpdate } from './shared-health-wire.js';
import { isToWorker, type FromWorker, type ToWorker, type WorkerListenerStatus, type WorkerQuery, type WorkerStatus } from './worker-messages.js';

/** What a worker (and the single-process proxy) runs traffic with; built by proxy.ts. */
export interface DataPlane {
  /** Applies one whole snapshot (clusters, then routes, then listeners). */
  apply(snap: ConfigSnapshot): Promise<void>;
  listeners(): readonly WorkerListenerStatus[];
  activeConnections(): number;
  /** Connections accepted so far by the active listener versions. */
  acceptedConnections(): number;
  /** Drains listeners: all of them, or only those whose traffic_direction is INBOUND (shutdown, ?inboundonly). */
  drain(which: 'all' | 'inbound', timeoutMs: number, strategy?: 'immediate' | 'flag'): Promise<void>;
  close(): Promise<void>;
  metricsJson(): Promise<unknown>;
  clustersText(): string;
  clustersJson(): unknown;
  explain(query: URLSearchParams): unknown;
}

export interface WorkerChannel {
  send(m: FromWorker): void;
  on(event: 'message', fn: (m: unknown) => void): void;
  on(event: 'disconnect', fn: () => void): void;
}

export interface WorkerRuntimeOptions {
  readonly dataPlane: DataPlane;
  readonly translate: Retranslate;
  readonly channel: WorkerChannel;
  readonly logger: { error(o: object, msg: string): void; info(o: object, msg: string): void };
  /** Shared health: a host state broadcast from the primary (applied at once, between snapshots too). */
  readonly onHealth?: (u: WireHealthUpdate) => void;
  /** Called once the data plane is closed after a shutdown request or a lost primary. */
  readonly exit: (code: number) => void;
}

export class WorkerRuntime {
  private readonly decoder: SnapshotDecoder;
  private generation = 0;
  /** Latest snapshot received but not yet applied (older ones are skipped: only whole generations are applied). */
  private queued: WireSnapshot | null = null;
  private applying = false;
  private stopping = false;

  constructor(private readonly o: WorkerRuntimeOptions) {
    this.decoder = new SnapshotDecoder(o.translate);
  }

  start(): void {
    this.o.channel.on('message', (m) => {
      if (isToWorker(m)) this.onMessage(m);
    });
    this.o.channel.on('disconnect', () => void this.stop(0, 'primary gone'));
    this.o.channel.send({ t: 'started' });
  }

  private onMessage(m: ToWorker): void {
    switch (m.t) {
      case 'snapshot':
        this.queued = m.snap;
        void this.pump();
        return;
      case 'health':
        this.o.onHealth?.(m.u);
        return;
      case 'ask':
        void this.answer(m.id, m.query);
        return;
      case 'shutdown':
        void this.stop(m.timeoutMs, 'shutdown');
    }
  }

  private async pump(): Promise<void> {
    if (this.applying) return;
    this.applying = true;
    try {
      while (this.queued && !this.stopping) {
        const w = this.queued;
        this.queued = null;
        if (w.generation <= this.generation) continue;
        const r = this.decoder.decode(w);
        if (r.snapshot) {
          await this.o.dataPlane.apply(r.snapshot);
          this.generation = w.generation;
        }
        this.o.channel.send({ t: 'applied', generation: this.generation, errors: r.errors });
      }
    } catch (e) {
      this.o.logger.error({ err: e }, 'worker could not apply a snapshot');
    } finally {
      this.applying = false;
    }
  }

  private async answer(id: number, q: WorkerQuery): Promise<void> {
    try {
      const value = await this.query(q);
      this.o.channel.send({ t: 'answer', id, ok: true, value });
    } catch (e) {
      this.o.channel.send({ t: 'answer', id, ok: false, error: (e as Error).message });
    }
  }

  private async query(q: WorkerQuery): Promise<unknown> {
    const dp = this.o.dataPlane;
    switch (q.q) {
      case 'status':
        return { generation: this.generation, connections: dp.activeConnections(), accepted: dp.acceptedConnections(), listeners: dp.listeners() } satisfies WorkerStatus;
      case 'metrics':
        return dp.metricsJson();
      case 'clusters':
        return q.format === 'json' ? dp.clustersJson() : dp.clustersText();
      case 'explain':
        return dp.explain(new URLSearchParams(q.query));
      case 'drain':
        await dp.drain(q.inboundOnly ? 'inbound' : 'all', q.timeoutMs, q.strategy ?? 'immediate');
        return true;
    }
  }

  private async stop(timeoutMs: number, reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.o.logger.info({ reason }, 'worker stopping');
    await this.o.dataPlane.drain('all', timeoutMs).catch(() => undefined);
    await this.o.dataPlane.close().catch(() => undefined);
    this.o.exit(0);
  }
}
