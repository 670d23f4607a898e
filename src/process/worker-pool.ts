// process/: the primary's side of `--concurrency N`. Forks N node:cluster workers that share the listening sockets
// (the primary serves no traffic), hands every published snapshot to each of them, tracks the generation each has
// applied, answers admin questions by asking them, and restarts a worker that dies (with backoff; the replacement
// gets the current snapshot before it binds, so it accepts nothing before it has config). Shared health: the primary's
// host states go to every worker (a starting one gets the full state before its snapshot) and workers' batched
// request outcomes come back (shared-health-*.ts).
//
// Per worker slot:  starting ─started─▶ running ─exit─▶ backoff ─timer─▶ starting …   any ─close()─▶ stopping ─▶ stopped
import cluster, { type Worker } from 'node:cluster';
import type { WireSnapshot } from './snapshot-wire.js';
import type { WireHealthUpdate, WireOutcomeBatch } from './shared-health-wire.js';
import { isFromWorker, type FromWorker, type ToWorker, type WorkerQuery, type WorkerStatus } from './worker-messages.js';

export type SlotState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export interface WorkerPoolLogger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface WorkerPoolOptions {
  readonly count: number;
  /** Script each worker runs and its argv (the same command line as the primary's). */
  readonly exec: string;
  readonly args: readonly string[];
  readonly execArgv?: readonly string[];
  /** Extra environment for the workers (each also gets MESHLET_WORKER_INDEX). */
  readonly env?: Readonly<Record<string, string>>;
  /** 'none' (default): workers accept on the shared socket themselves; 'rr': the primary accepts and hands out. */
  readonly scheduling?: 'none' | 'rr';
  readonly logger: WorkerPoolLogger;
  /** First restart delay, doubled per consecutive crash up to maxBackoffMs (reset after 10 s of uptime). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Called when a worker applied a generation, started or died (readiness is recomputed). */
  readonly onChange?: () => void;
  /** Shared health: the current host states, sent to a starting worker before its snapshot (so it accepts nothing
   *  before it knows which hosts are unhealthy or ejected). */
  readonly healthState?: () => WireHealthUpdate | null;
  /** Shared health: a worker's batched request outcomes. */
  readonly onOutcomes?: (batch: WireOutcomeBatch, worker: number) => void;
}

export interface WorkerInfo {
  readonly index: number;
  readonly pid: number;
  readonly state: SlotState;
  readonly generation: number;
  readonly restarts: number;
  readonly lastErrors: readonly string[];
}

interface Slot {
  readonly index: number;
  state: SlotState;
  worker: Worker | null;
  generation: number;
  restarts: number;
  crashes: number;
  startedAt: number;
  timer: NodeJS.Timeout | null;
  lastErrors: readonly string[];
}

interface Pending {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

let schedulingSet = false;

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private latest: WireSnapshot | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;

  constructor(private readonly o: WorkerPoolOptions) {
    for (let i = 0; i < o.count; i++) {
      this.slots.push({ index: i, state: 'stopped', worker: null, generation: 0, restarts: 0, crashes: 0, startedAt: 0, timer: null, lastErrors: [] });
    }
  }

  start(): void {
    if (!schedulingSet) {
      // Must be chosen before the first fork. SCHED_NONE: every worker accepts on the shared socket itself, so the
      // primary (xDS, admin) never sits on the connection path.
      cluster.schedulingPolicy = this.o.scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
      schedulingSet = true;
    }
    cluster.setupPrimary({ exec: this.o.exec, args: [...this.o.args], execArgv: [...(this.o.execArgv ?? workerExecArgv(process.execArgv))], silent: false });
    for (const s of this.slots) this.fork(s);
  }

  /** The latest snapshot: sent now to running workers, and to every worker started later before it binds. */
  publish(snap: WireSnapshot): void {
    this.latest = snap;
    for (const s of this.slots) if (s.state === 'running') this.send(s, { t: 'snapshot', snap });
  }

  /** Host state changes from the health authority, to every running worker (starting ones get the full state). */
  publishHealth(u: WireHealthUpdate): void {
    for (const s of this.slots) if (s.state === 'running') this.send(s, { t: 'health', u });
  }

  /** True when every worker slot runs and has applied at least generation `g`. */
  allApplied(g: number): boolean {
    return this.slots.every((s) => s.state === 'running' && s.generation >= g);
  }

  info(): WorkerInfo[] {
    return this.slots.map((s) => ({ index: s.index, pid: s.worker?.process.pid ?? 0, state: s.state, generation: s.generation, restarts: s.restarts, lastErrors: s.lastErrors }));
  }

  /** Asks every running worker; answers in slot order (failed or timed-out workers are left out). */
  async askAll(query: WorkerQuery, timeoutMs = 5000): Promise<unknown[]> {
    const running = this.slots.filter((s) => s.state === 'running');
    const answers = await Promise.allSettled(running.map((s) => this.ask(s, query, timeoutMs)));
    return answers.filter((a): a is PromiseFulfilledResult<unknown> => a.status === 'fulfilled').map((a) => a.value);
  }

  /** Asks every slot; one answer per slot index (undefined where the worker is not running or did not answer). */
  async askEach(query: WorkerQuery, timeoutMs = 5000): Promise<unknown[]> {
    const answers = await Promise.allSettled(this.slots.map((s) => (s.state === 'running' ? this.ask(s, query, timeoutMs) : Promise.reject(new Error('not running')))));
    return answers.map((a) => (a.status === 'fulfilled' ? a.value : undefined));
  }

  /** Asks the first running worker (admin views that are the same in every worker: explain; /clusters asks all). */
  askOne(query: WorkerQuery, timeoutMs = 5000): Promise<unknown> {
    const s = this.slots.find((x) => x.state === 'running');
    if (!s) return Promise.reject(new Error('no worker is running'));
    return this.ask(s, query, timeoutMs);
  }

  async status(): Promise<WorkerStatus[]> {
    return (await this.askAll({ q: 'status' }, 2000)) as WorkerStatus[];
  }

  /** Stops every worker: each drains within `timeoutMs` and exits; stragglers are killed. */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const exits: Promise<void>[] = [];
    for (const s of this.slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
      const w = s.worker;
      if (!w || s.state === 'stopped') {
        s.state = 'stopped';
        continue;
      }
      s.state = 'stopping';
      exits.push(new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        const kill = setTimeout(() => w.process.kill('SIGKILL'), timeoutMs + 2000);
        w.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        try {
          w.send({ t: 'shutdown', timeoutMs } satisfies ToWorker);
        } catch {
          w.process.kill('SIGKILL');
        }
      }));
    }
    await Promise.all(exits);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('worker pool closed'));
    }
    this.pending.clear();
  }

  private fork(s: Slot): void {
    s.state = 'starting';
    s.generation = 0;
    s.startedAt = Date.now();
    const w = cluster.fork({ ...this.o.env, MESHLET_WORKER_INDEX: String(s.index) });
    s.worker = w;
    w.on('message', (m: unknown) => {
      if (isFromWorker(m)) this.onMessage(s, w, m);
    });
    w.on('error', () => undefined);
    w.once('exit', (code, signal) => this.onExit(s, w, code, signal));
  }

  private onMessage(s: Slot, w: Worker, m: FromWorker): void {
    if (s.worker !== w) return;
    switch (m.t) {
      case 'started':
        if (s.state !== 'starting') return;
        s.state = 'running';
        this.sendInitial(s);
        this.o.logger.info({ worker: s.index, pid: w.process.pid }, 'worker started');
        this.o.onChange?.();
        return;
      case 'applied':
        s.generation = Math.max(s.generation, m.generation);
        s.lastErrors = m.errors;
        if (m.errors.length > 0) this.o.logger.error({ worker: s.index, generation: m.generation, errors: m.errors }, 'worker could not apply the snapshot');
        this.o.onChange?.();
        return;
      case 'outcomes':
        this.o.onOutcomes?.(m.batch, s.index);
        return;
      case 'answer': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error ?? 'worker error'));
      }
    }
  }

  /** A worker that just started: the current host health first, then the snapshot it will bind with. */
  private sendInitial(s: Slot): void {
    const health = this.o.healthState?.();
    if (health) this.send(s, { t: 'health', u: health });
    if (this.latest) this.send(s, { t: 'snapshot', snap: this.latest });
  }

  private onExit(s: Slot, w: Worker, code: number | null, signal: string | null): void {
    if (s.worker !== w) return;
    s.worker = null;
    if (this.closing || s.state === 'stopping') {
      s.state = 'stopped';
      return;
    }
    s.crashes = Date.now() - s.startedAt > 10_000 ? 1 : s.crashes + 1;
    const delay = Math.min(this.o.maxBackoffMs ?? 10_000, (this.o.backoffMs ?? 250) * 2 ** (s.crashes - 1));
    this.o.logger.warn({ worker: s.index, pid: w.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting');
    s.state = 'backoff';
    s.generation = 0;
    this.o.onChange?.();
    s.timer = setTimeout(() => {
      s.timer = null;
      if (this.closing) return;
      s.restarts++;
      this.fork(s);
    }, delay);
  }

  private ask(s: Slot, query: WorkerQuery, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${s.index} did not answer ${query.q} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send(s, { t: 'ask', id, query })) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`worker ${s.index} is not reachable`));
      }
    });
  }

  private send(s: Slot, m: ToWorker): boolean {
    const w = s.worker;
    if (!w || !w.isConnected()) return false;
    try {
      w.send(m);
      return true;
    } catch {
      return false;
    }
  }
}

/** The primary's Node options minus what would replace the worker's script (`-e code`, `-p code`). */
export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}
