// listener/: applies listener snapshots. Keeps ONE net.Server per bound address and swaps the ActiveListener it
// dispatches to by reference: new connections get the new config, accepted ones keep the version they started
// with (which drains). Removed listeners stop accepting and drain. Listeners with bind_to_port: false are only
// targets of use_original_dst hand-off. Lifecycle per binding: binding → active → draining → closed.
import net from 'node:net';
import type { Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { ListenerConfig } from '../config/listener.js';
import { ActiveListener } from './listener.js';
import type { ListenerDeps } from './listener.js';
import { getOriginalDst } from './original-dst.js';
import type { DrainStrategy } from '../http/h2-drain.js';
import type { InheritedSockets } from './inherited-sockets.js';

export interface ListenerStatus {
  readonly name: string;
  readonly state: 'active' | 'draining';
  /** IP the listener is configured on (or its pipe path), without the port. */
  readonly address: string;
  /** Port actually bound (differs from config when port 0 was asked for). */
  readonly boundPort: number;
  readonly connections: number;
}

export interface ApplyResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
}

interface Binding {
  readonly key: string;
  readonly server: net.Server;
  active: ActiveListener;
  boundPort: number;
}

function addressKey(c: ListenerConfig): string {
  if (c.address.pipe) return `pipe:${c.address.pipe}`;
  // Port 0 asks the kernel for a fresh port: every such listener gets its own socket.
  return c.address.port === 0 ? `${c.address.address}:0#${c.name}` : `${c.address.address}:${c.address.port}`;
}

/** The listener's IP (or pipe path), without the port. */
function hostOf(c: ListenerConfig): string {
  return c.address.pipe ?? c.address.address;
}

export interface ListenerManagerOptions {
  /** How long a replaced or removed listener may drain (Envoy --drain-time-s, default 600 s; we default 30 s). */
  readonly drainTimeMs?: number;
  /** Envoy --drain-strategy for drains of replaced/removed listeners (LDS) and drains asked with strategy 'flag';
   *  default 'immediate'. */
  readonly drainStrategy?: DrainStrategy;
  /** Hot restart: listen sockets received from the parent epoch, used instead of binding their addresses. */
  readonly inherited?: InheritedSockets;
}

/** A bound listen socket as the hot-restart parent hands it over (binding key + the fd this process holds). */
export interface ListenSocket {
  readonly key: string;
  readonly fd: number;
}

export class ListenerManager {
  private readonly listeners = new Map<string, ActiveListener>();
  private readonly bindings = new Map<string, Binding>();
  /** Listener name → binding key (for bound listeners). */
  private readonly boundBy = new Map<string, string>();
  private readonly draining = new Set<ActiveListener>();
  private readonly drainTimeMs: number;
  private readonly inherited: InheritedSockets | undefined;
  /** Listeners matching this were stopped by a drain (POST /drain_listeners, shutdown): later LDS updates do not start them again. */
  private stopped: ((c: ListenerConfig) => boolean) | null = null;

  private readonly drainStrategy: DrainStrategy;
  /** The strategy the connection managers read when their drain starts (set around each synchronous drain start). */
  private startingStrategy: DrainStrategy;

  constructor(private readonly deps: ListenerDeps, opts: ListenerManagerOptions = {}) {
    this.drainTimeMs = opts.drainTimeMs ?? 30_000;
    this.drainStrategy = opts.drainStrategy ?? 'immediate';
    this.startingStrategy = this.drainStrategy;
    // Connection managers ask their deps for the strategy when a drain starts: ours answers per drain.
    this.deps = { ...deps, drainStrategy: () => this.startingStrategy };
    this.inherited = opts.inherited;
  }

  /** Applies a full set of listeners (SotW): adds, replaces (old version drains) and removes. */
  async apply(configs: ReadonlyMap<string, ListenerConfig> | readonly ListenerConfig[]): Promise<ApplyResult[]> {
    const want = new Map<string, ListenerConfig>();
    for (const c of Array.isArray(configs) ? configs : [...(configs as ReadonlyMap<string, ListenerConfig>).values()]) want.set(c.name, c);
    const results: ApplyResult[] = [];
    for (const [name, old] of [...this.listeners]) {
      if (!want.has(name)) await this.remove(name, old);
    }
    for (const [name, cfg] of want) {
      if (this.stopped?.(cfg) && !this.listeners.has(name)) {
        results.push({ name, ok: true });
        continue;
      }
      const cur = this.listeners.get(name);
      if (cur && (cur.config === cfg || isDeepStrictEqual(cur.config, cfg))) {
        results.push({ name, ok: true });
        continue;
      }
      try {
        await this.addOrUpdate(cfg, cur);
        results.push({ name, ok: true });
      } catch (e) {
        results.push({ name, ok: false, error: (e as Error).message });
      }
    }
    return results;
  }

  private async addOrUpdate(cfg: ListenerConfig, cur: ActiveListener | undefined): Promise<void> {
    const next = new ActiveListener(cfg, this.deps);
    const key = addressKey(cfg);
    const oldKey = this.boundBy.get(cfg.name);
    if (cfg.bindToPort) {
      let b = this.bindings.get(key);
      if (b && oldKey !== key) throw new Error(`address ${key} is already used by listener ${b.active.name}`);
      if (!b) {
        b = await this.bind(key, cfg, next);
        this.bindings.set(key, b);
      }
      b.active = next; // swap by reference: new connections use the new version
      this.boundBy.set(cfg.name, key);
    }
    if (oldKey && oldKey !== key) this.unbind(oldKey);
    if (oldKey && !cfg.bindToPort) this.unbind(oldKey);
    this.listeners.set(cfg.name, next);
    if (cur) this.retire(cur);
  }

  private bind(key: string, cfg: ListenerConfig, first: ActiveListener): Promise<Binding> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const b: Binding = { key, server, active: first, boundPort: cfg.address.port };
    server.on('connection', (s: Socket) => this.accept(b, s));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        server.on('error', () => undefined);
        const a = server.address();
        if (a && typeof a === 'object') b.boundPort = a.port;
        resolve(b);
      };
      // Hot restart: the parent's socket (same kernel socket and accept queue) instead of a fresh bind.
      const fd = this.inherited?.take(key);
      if (fd !== undefined) server.listen({ fd, backlog: 1024 }, done);
      else if (cfg.address.pipe) server.listen(cfg.address.pipe, done);
      else server.listen({ host: cfg.address.address, port: cfg.address.port, backlog: 1024 }, done);
    });
  }

  private accept(b: Binding, socket: Socket): void {
    const l = b.active;
    const localAddress = socket.localAddress ?? '';
    const localPort = socket.localPort ?? 0;
    // original_dst: the listener filter (or use_original_dst, which implies it, as in Envoy) restores the address the
    // client dialled before an iptables REDIRECT as the connection's local address.
    if (l.restoresOriginalDst) {
      const od = getOriginalDst(socket);
      if (od && (od.address !== localAddress || od.port !== localPort)) {
        const dest = `${od.family === 6 ? `[${od.address}]` : od.address}:${od.port}`;
        // use_original_dst: hand the connection to the listener of that exact ip:port, else 0.0.0.0:port, else keep
        // it; the chosen listener runs its own listener filters and matches its chains on the restored address.
        const target = l.config.useOriginalDst ? this.findByAddress(od.address, od.port, od.family) ?? l : l;
        target.handle({ socket, localAddress: od.address, localPort: od.port, originalDestination: dest });
        return;
      }
    }
    l.handle({ socket, localAddress, localPort });
  }

  /** use_original_dst hand-off target: the listener on exactly ip:port, else the wildcard of that family on port. */
  findByAddress(ip: string, port: number, family: 4 | 6 = ip.includes(':') ? 6 : 4): ActiveListener | undefined {
    let wildcard: ActiveListener | undefined;
    let anyFamily: ActiveListener | undefined;
    for (const l of this.listeners.values()) {
      const a = l.config.address;
      if (a.pipe || a.port !== port) continue;
      if (a.address === ip) return l;
      if (a.address === (family === 6 ? '::' : '0.0.0.0')) wildcard ??= l;
      else if (a.address === '::' || a.address === '0.0.0.0') anyFamily ??= l;
    }
    // A '::' listener (dual stack) also takes IPv4 connections when no 0.0.0.0 listener exists.
    return wildcard ?? (family === 4 ? anyFamily : undefined);
  }

  private retire(l: ActiveListener): void {
    this.draining.add(l);
    void this.startDrain(l, this.drainTimeMs, this.drainStrategy).then(() => this.draining.delete(l));
  }

  private unbind(key: string): void {
    const b = this.bindings.get(key);
    if (!b) return;
    this.bindings.delete(key);
    b.server.close();
  }

  private async remove(name: string, l: ActiveListener): Promise<void> {
    this.listeners.delete(name);
    const key = this.boundBy.get(name);
    this.boundBy.delete(name);
    if (key) this.unbind(key);
    this.retire(l);
  }

  /** Bound port of a listener (useful with port 0). */
  boundPort(name: string): number | undefined {
    const key = this.boundBy.get(name);
    return key ? this.bindings.get(key)?.boundPort : undefined;
  }

  /**
   * The TCP listen sockets this process holds, for a hot-restart child. Pipe listeners are left out: libuv unlinks a
   * pipe's path when its server closes, which would take the path away from the child.
   */
  listenSockets(): ListenSocket[] {
    const out: ListenSocket[] = [];
    for (const b of this.bindings.values()) {
      if (b.key.startsWith('pipe:')) continue;
      const fd = (b.server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
      if (typeof fd === 'number' && fd >= 0) out.push({ key: b.key, fd });
    }
    return out;
  }

  get(name: string): ActiveListener | undefined {
    return this.listeners.get(name);
  }

  status(): ListenerStatus[] {
    const out: ListenerStatus[] = [];
    for (const l of this.listeners.values()) {
      const key = this.boundBy.get(l.name);
      // Unbound (bind_to_port: false) listeners report their configured port, as Envoy's /listeners does.
      const port = key ? this.bindings.get(key)?.boundPort ?? 0 : l.config.address.port;
      out.push({ name: l.name, state: 'active', address: hostOf(l.config), boundPort: port, connections: l.connections });
    }
    for (const l of this.draining) out.push({ name: l.name, state: 'draining', address: hostOf(l.config), boundPort: 0, connections: l.connections });
    return out;
  }

  /**
   * Drains the listeners `filter` selects (e.g. only `traffic_direction: INBOUND`): their sockets stop accepting now,
   * open connections finish (HTTP/1.1 Connection: close, HTTP/2 GOAWAY) bounded by `timeoutMs`; the others keep
   * serving. Matching listeners stay stopped across later LDS updates.
   */
  async drain(filter: (c: ListenerConfig) => boolean, timeoutMs = this.drainTimeMs, strategy: DrainStrategy | 'flag' = 'immediate'): Promise<void> {
    const prev = this.stopped;
    this.stopped = prev ? (c) => prev(c) || filter(c) : filter;
    const picked = [...this.listeners.values()].filter((l) => filter(l.config));
    for (const l of picked) {
      this.listeners.delete(l.name);
      const key = this.boundBy.get(l.name);
      this.boundBy.delete(l.name);
      if (key) this.unbind(key);
      this.draining.add(l);
    }
    const st = strategy === 'flag' ? this.drainStrategy : strategy;
    await Promise.all(picked.map((l) => this.startDrain(l, timeoutMs, st).then(() => this.draining.delete(l))));
  }

  /**
   * Starts one listener's drain with `strategy` (--drain-strategy): its connection managers read it synchronously
   * from deps.drainStrategy when their drain starts (ActiveListener.drain starts them before returning).
   */
  private startDrain(l: ActiveListener, timeoutMs: number, strategy: DrainStrategy): Promise<void> {
    const prev = this.startingStrategy;
    this.startingStrategy = strategy;
    try {
      return l.drain(timeoutMs);
    } finally {
      this.startingStrategy = prev;
    }
  }

  /** Open downstream connections over every listener version, active and draining (EXIT_ON_ZERO_ACTIVE_CONNECTIONS). */
  activeConnections(): number {
    let n = 0;
    for (const l of this.listeners.values()) n += l.connections;
    for (const l of this.draining) n += l.connections;
    return n;
  }

  /** Drains everything (server shutdown / POST /drain_listeners). */
  async drainAll(timeoutMs = this.drainTimeMs, strategy: DrainStrategy | 'flag' = 'immediate'): Promise<void> {
    const st = strategy === 'flag' ? this.drainStrategy : strategy;
    this.stopped = () => true;
    for (const key of [...this.bindings.keys()]) this.unbind(key);
    const all = [...this.listeners.values()];
    this.listeners.clear();
    this.boundBy.clear();
    // Kept in `draining` until each finishes, so activeConnections() (exit on zero connections) still counts them.
    for (const l of all) this.draining.add(l);
    await Promise.all([...this.draining].map((l) => this.startDrain(l, timeoutMs, st).then(() => this.draining.delete(l))));
  }

  /** Closes everything now. */
  async close(): Promise<void> {
    const servers = [...this.bindings.values()].map((b) => new Promise<void>((r) => b.server.close(() => r())));
    this.bindings.clear();
    for (const l of this.listeners.values()) l.destroy();
    for (const l of this.draining) l.destroy();
    this.listeners.clear();
    this.draining.clear();
    this.boundBy.clear();
    await Promise.all(servers);
  }
}
