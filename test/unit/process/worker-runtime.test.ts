// Unit: a --concurrency worker's runtime (src/process/worker-runtime.ts) against a fake IPC channel and data plane.
// Generations apply whole and in order; snapshots that arrive while one is applying collapse to the newest (stale
// ones are skipped, never applied), older or repeated generations are ignored, a snapshot that fails to translate is
// reported and not applied, questions are answered with their id, drain maps to the right listener set, and a lost
// primary drains, closes and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerRuntime, type DataPlane, type WorkerChannel } from '../../../src/process/worker-runtime.js';
import { SnapshotEncoder, type Retranslate } from '../../../src/process/snapshot-wire.js';
import type { FromWorker, ToWorker } from '../../../src/process/worker-messages.js';
import type { ConfigSnapshot, ResourceEntry } from '../../../src/config/snapshot.js';

class FakeChannel implements WorkerChannel {
  readonly sent: FromWorker[] = [];
  private onMsg: ((m: unknown) => void) | null = null;
  private onDisc: (() => void) | null = null;
  private waiters: { pred: (m: FromWorker) => boolean; res: (m: FromWorker) => void }[] = [];
  send(m: FromWorker): void {
    // Through JSON like the real IPC channel.
    const copy = JSON.parse(JSON.stringify(m)) as FromWorker;
    this.sent.push(copy);
    this.waiters = this.waiters.filter((w) => (w.pred(copy) ? (w.res(copy), false) : true));
  }
  on(event: 'message' | 'disconnect', fn: ((m: unknown) => void) | (() => void)): void {
    if (event === 'message') this.onMsg = fn as (m: unknown) => void;
    else this.onDisc = fn as () => void;
  }
  deliver(m: ToWorker): void {
    this.onMsg!(JSON.parse(JSON.stringify(m)));
  }
  disconnect(): void {
    this.onDisc!();
  }
  /** Resolves with the next sent message matching `pred` (bounded). */
  next(pred: (m: FromWorker) => boolean, timeoutMs = 2000): Promise<FromWorker> {
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('no matching message from the worker')), timeoutMs);
      this.waiters.push({ pred, res: (m) => (clearTimeout(t), res(m)) });
    });
  }
  applied(): { generation: number; errors: readonly string[] }[] {
    return this.sent.filter((m): m is Extract<FromWorker, { t: 'applied' }> => m.t === 'applied').map(({ generation, errors }) => ({ generation, errors }));
  }
}

class FakeDataPlane implements DataPlane {
  readonly applied: number[] = [];
  readonly drains: string[] = [];
  closed = false;
  /** When set, apply() waits for this gate (a generation "takes time"). */
  gate: Promise<void> | null = null;
  async apply(snap: ConfigSnapshot): Promise<void> {
    if (this.gate) await this.gate;
    this.applied.push(snap.generation);
  }
  listeners() {
    return [{ name: 'l', address: '127.0.0.1', port: 1, state: 'active' as const, connections: 2 }];
  }
  activeConnections() {
    return 2;
  }
  acceptedConnections() {
    return 5;
  }
  async drain(which: 'all' | 'inbound', timeoutMs: number): Promise<void> {
    this.drains.push(`${which}:${timeoutMs}`);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async metricsJson() {
    return [{ name: 'x', values: [] }];
  }
  clustersText() {
    return 'c::default_priority::max_connections::1024\n';
  }
  clustersJson() {
    return { cluster_statuses: [] };
  }
  explain(q: URLSearchParams) {
    return { path: q.get('path') };
  }
}

const enc = new SnapshotEncoder();
function wire(generation: number, clusterNames: string[] = ['c']) {
  const clusters = new Map<string, ResourceEntry<unknown>>(clusterNames.map((n) => [n, Object.freeze({ name: n, version: `v${generation}`, value: {}, raw: { name: n }, lastUpdated: 1, isStatic: false })]));
  return enc.encode({ generation, clusters, endpoints: new Map(), routes: new Map(), listeners: new Map(), versions: {} } as ConfigSnapshot);
}

const okTranslate: Retranslate = (_k, raw) => ({ ok: true, value: raw });
const quietLog = { error: () => undefined, info: () => undefined };

function setup(translate: Retranslate = okTranslate) {
  const channel = new FakeChannel();
  const dp = new FakeDataPlane();
  const exits: number[] = [];
  const rt = new WorkerRuntime({ dataPlane: dp, translate, channel, logger: quietLog, exit: (c) => exits.push(c) });
  rt.start();
  return { channel, dp, exits };
}

test('announces itself, applies a generation and reports it', async () => {
  const { channel, dp } = setup();
  assert.deepEqual(channel.sent[0], { t: 'started' });
  channel.deliver({ t: 'snapshot', snap: wire(1) });
  assert.deepEqual(await channel.next((m) => m.t === 'applied'), { t: 'applied', generation: 1, errors: [] });
  assert.deepEqual(dp.applied, [1]);
});

test('snapshots arriving while one applies collapse to the newest: stale generations are skipped, never applied', async () => {
  const { channel, dp } = setup();
  let open!: () => void;
  dp.gate = new Promise((r) => (open = r));
  channel.deliver({ t: 'snapshot', snap: wire(1) });
  await new Promise((r) => setImmediate(r));
  channel.deliver({ t: 'snapshot', snap: wire(2) });
  channel.deliver({ t: 'snapshot', snap: wire(3) });
  channel.deliver({ t: 'snapshot', snap: wire(4) });
  dp.gate = null;
  open();
  await channel.next((m) => m.t === 'applied' && m.generation === 4);
  assert.deepEqual(dp.applied, [1, 4], 'generations 2 and 3 were superseded before they could be applied');
  assert.deepEqual(channel.applied().map((a) => a.generation), [1, 4]);
});

test('an older or repeated generation is ignored', async () => {
  const { channel, dp } = setup();
  channel.deliver({ t: 'snapshot', snap: wire(5) });
  await channel.next((m) => m.t === 'applied' && m.generation === 5);
  channel.deliver({ t: 'snapshot', snap: wire(3) });
  channel.deliver({ t: 'snapshot', snap: wire(5) });
  channel.deliver({ t: 'ask', id: 1, query: { q: 'status' } });
  const status = await channel.next((m) => m.t === 'answer' && m.id === 1);
  assert.deepEqual(dp.applied, [5]);
  assert.equal((status as { value: { generation: number } }).value.generation, 5);
  assert.deepEqual(channel.applied().map((a) => a.generation), [5], 'nothing reported for the stale ones');
});

test('a generation that fails to translate is reported with its errors and not applied; the next good one is', async () => {
  const tr: Retranslate = (_k, raw) => (raw.name === 'bad' ? { ok: false, error: 'lb_policy: unsupported' } : { ok: true, value: raw });
  const { channel, dp } = setup(tr);
  channel.deliver({ t: 'snapshot', snap: wire(1) });
  await channel.next((m) => m.t === 'applied' && m.generation === 1);
  const failed = channel.next((m) => m.t === 'applied' && m.errors.length > 0);
  channel.deliver({ t: 'snapshot', snap: wire(2, ['c', 'bad']) });
  const r = await failed;
  assert.deepEqual(r, { t: 'applied', generation: 1, errors: ['clusters/bad: lb_policy: unsupported'] }, 'still on generation 1');
  channel.deliver({ t: 'snapshot', snap: wire(3) });
  await channel.next((m) => m.t === 'applied' && m.generation === 3);
  assert.deepEqual(dp.applied, [1, 3]);
});

test('answers questions with their id: status, metrics, clusters, explain, drain (inbound-only or all)', async () => {
  const { channel, dp } = setup();
  const ask = async (id: number, query: Extract<ToWorker, { t: 'ask' }>['query']) => {
    channel.deliver({ t: 'ask', id, query });
    return channel.next((m) => m.t === 'answer' && m.id === id) as Promise<Extract<FromWorker, { t: 'answer' }>>;
  };
  assert.deepEqual((await ask(1, { q: 'status' })).value, { generation: 0, connections: 2, accepted: 5, listeners: dp.listeners() });
  assert.deepEqual((await ask(2, { q: 'metrics' })).value, [{ name: 'x', values: [] }]);
  assert.equal((await ask(3, { q: 'clusters', format: 'text' })).value, dp.clustersText());
  assert.deepEqual((await ask(4, { q: 'clusters', format: 'json' })).value, { cluster_statuses: [] });
  assert.deepEqual((await ask(5, { q: 'explain', query: 'path=/x&host=a' })).value, { path: '/x' });
  assert.equal((await ask(6, { q: 'drain', inboundOnly: true, timeoutMs: 700 })).ok, true);
  assert.equal((await ask(7, { q: 'drain', inboundOnly: false, timeoutMs: 0 })).ok, true);
  assert.deepEqual(dp.drains, ['inbound:700', 'all:0']);
});

test('a failing question is answered ok: false with the error, the worker keeps running', async () => {
  const { channel, dp, exits } = setup();
  dp.clustersText = () => {
    throw new Error('boom');
  };
  channel.deliver({ t: 'ask', id: 9, query: { q: 'clusters', format: 'text' } });
  assert.deepEqual(await channel.next((m) => m.t === 'answer'), { t: 'answer', id: 9, ok: false, error: 'boom' });
  assert.deepEqual(exits, []);
});

test('shutdown from the primary drains every listener with its timeout, closes, exits 0, and applies nothing more', async () => {
  const { channel, dp, exits } = setup();
  channel.deliver({ t: 'shutdown', timeoutMs: 1234 });
  for (let i = 0; i < 20 && exits.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(exits, [0]);
  assert.deepEqual(dp.drains, ['all:1234']);
  assert.equal(dp.closed, true);
  channel.deliver({ t: 'snapshot', snap: wire(1) });
  channel.disconnect();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(dp.applied, []);
  assert.deepEqual(exits, [0], 'exits once');
});

test('a lost primary (IPC disconnect) drains, closes and exits 0', async () => {
  const { channel, dp, exits } = setup();
  channel.disconnect();
  for (let i = 0; i < 20 && exits.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(exits, [0]);
  assert.deepEqual(dp.drains, ['all:0']);
  assert.equal(dp.closed, true);
});
