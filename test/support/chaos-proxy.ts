// test/support: a small user-space TCP chaos proxy (127.0.0.1:port → target) standing in for `tc netem`, which the
// test machines lack. Sits between meshlet and a backend; its mode can change at any time and applies to bytes
// flowing from then on: pass, delay (each upstream→client chunk held for N ms), stall (stop reading the backend and
// the client), rst (RST both sides after N response bytes, for a chosen fraction of connections) and blackhole
// (accept, never forward, never answer — like a dropped route, but the connect itself succeeds).
import net from 'node:net';

export type ChaosMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'stall' }
  /** RST both sides once a marked connection has carried `afterBytes` (+ a pseudo-random 0..spanBytes) downstream. */
  | { readonly kind: 'rst'; readonly afterBytes: number; readonly fraction?: number; readonly spanBytes?: number }
  | { readonly kind: 'blackhole' };

interface Pair { readonly client: net.Socket; upstream: net.Socket | null; rst: boolean; rstAt: number; bytesDown: number; timers: Set<NodeJS.Timeout> }

export class ChaosProxy {
  mode: ChaosMode = { kind: 'pass' };
  /** Connections accepted / connections reset by the rst mode. */
  accepted = 0;
  resets = 0;
  private readonly pairs = new Set<Pair>();
  private server!: net.Server;
  port = 0;
  private rstCounter = 0;

  private constructor(readonly targetPort: number, readonly targetHost: string) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<ChaosProxy> {
    const p = new ChaosProxy(targetPort, targetHost);
    p.server = net.createServer((c) => p.onConnection(c));
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', () => r()));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  setMode(m: ChaosMode): void {
    this.mode = m;
    if (m.kind === 'stall') for (const p of this.pairs) { p.client.pause(); p.upstream?.pause(); }
    else for (const p of this.pairs) { p.client.resume(); p.upstream?.resume(); }
  }

  private onConnection(client: net.Socket): void {
    this.accepted++;
    const pair: Pair = { client, upstream: null, rst: false, rstAt: 0, bytesDown: 0, timers: new Set() };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => this.drop(pair));
    if (this.mode.kind === 'blackhole') {
      client.pause();
      return;
    }
    if (this.mode.kind === 'rst') {
      const f = this.mode.fraction ?? 1;
      // Deterministic spread: every 1/f-th connection is marked for reset.
      this.rstCounter += f;
      if (this.rstCounter >= 1) { this.rstCounter -= 1; pair.rst = true; }
      // Knuth multiplicative hash of the connection number: a spread of offsets that is the same on every run.
      pair.rstAt = this.mode.afterBytes + (this.mode.spanBytes ? ((this.accepted * 2654435761) >>> 0) % this.mode.spanBytes : 0);
    }
    const up = net.connect(this.targetPort, this.targetHost);
    pair.upstream = up;
    up.on('error', () => client.destroy());
    up.on('close', () => this.drop(pair));
    if (this.mode.kind === 'stall') { client.pause(); up.pause(); }
    client.on('data', (d) => {
      if (this.mode.kind === 'blackhole') return;
      if (!up.write(d)) { client.pause(); up.once('drain', () => { if (this.mode.kind !== 'stall') client.resume(); }); }
    });
    client.on('end', () => up.end());
    up.on('end', () => {
      const m = this.mode;
      if (m.kind !== 'delay') { client.end(); return; }
      const t = setTimeout(() => { pair.timers.delete(t); client.end(); }, m.ms);
      pair.timers.add(t);
    });
    up.on('data', (d: Buffer) => this.down(pair, d));
  }

  private down(pair: Pair, d: Buffer): void {
    const m = this.mode;
    if (m.kind === 'blackhole') return;
    if (pair.rst && m.kind === 'rst') {
      const left = pair.rstAt - pair.bytesDown;
      if (d.length >= left) {
        if (left > 0) pair.client.write(d.subarray(0, left));
        pair.bytesDown += Math.max(0, left);
        this.resets++;
        // Let the allowed bytes leave before the RST.
        setImmediate(() => {
          pair.client.resetAndDestroy();
          pair.upstream?.resetAndDestroy();
        });
        return;
      }
    }
    pair.bytesDown += d.length;
    if (m.kind === 'delay') {
      const t = setTimeout(() => {
        pair.timers.delete(t);
        if (!pair.client.destroyed) pair.client.write(d);
      }, m.ms);
      pair.timers.add(t);
      return;
    }
    if (!pair.client.write(d)) {
      pair.upstream?.pause();
      pair.client.once('drain', () => { if (this.mode.kind !== 'stall') pair.upstream?.resume(); });
    }
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    for (const t of pair.timers) clearTimeout(t);
    pair.client.destroy();
    pair.upstream?.destroy();
  }

  /** Closes the listener and every proxied connection. */
  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.drop(p);
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
