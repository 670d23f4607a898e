// process/: the parent half of hot restart (epoch E). Serves the control socket `@meshlet_hot_restart_<base>_<E>`;
// when epoch E+1 says hello it shuts its admin down (so the child can bind the admin port, as Envoy does), hands over
// copies of its listen sockets (SCM_RIGHTS) and keeps serving; when the child is LIVE and asks for the drain, it stops
// accepting (closing its copies only closes its fds: the kernel socket and its accept queue live on in the child, so
// nothing is refused), drains like SIGTERM and exits at zero connections or the parent shutdown deadline. The socket
// is abstract (any local process in the network namespace can connect), so only a peer with this process's uid (or
// root) gets the sockets.
//   SERVING ─hello─▶ HANDING_OVER ─drain─▶ DRAINING ─exit─▶ EXITED        HANDING_OVER ─child gone─▶ SERVING
import net from 'node:net';
import type { HotRestartAddon } from './hot-restart-native.js';
import { FrameReader, HOT_RESTART_VERSION, encodeMessage, encodePayload, netPathOf, type HotRestartMessage } from './hot-restart-wire.js';

export type HotRestartParentState = 'SERVING' | 'HANDING_OVER' | 'DRAINING' | 'EXITED';

export interface HotRestartLogger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface HotRestartParentDeps {
  readonly addon: HotRestartAddon;
  /** Control socket name (controlSocketName(baseId, epoch)). */
  readonly name: string;
  readonly epoch: number;
  /** This process's start (epoch ms), sent to the child for uptime_all_epochs. */
  readonly startTime: number;
  readonly logger: HotRestartLogger;
  /** The listen sockets to hand over (binding key + fd), read when the child says hello. */
  listenSockets(): readonly { readonly key: string; readonly fd: number }[];
  /** The child started: close the admin (and status) servers so it can bind their ports. */
  shutdownAdmin(): Promise<void>;
  /** The child is LIVE: stop accepting on every listener, drain, and exit within `deadlineMs`. */
  drainAndExit(deadlineMs: number): void;
  /** How long a connected child may take to say hello (default 5 s). */
  readonly helloTimeoutMs?: number;
}

export class HotRestartParent {
  private server: net.Server | null = null;
  private child: net.Socket | null = null;
  private st: HotRestartParentState = 'SERVING';

  constructor(private readonly d: HotRestartParentDeps) {}

  get state(): HotRestartParentState {
    return this.st;
  }

  /** Starts serving the control socket. False (logged) when the name is taken: another meshlet uses this base id. */
  listen(): Promise<boolean> {
    const server = net.createServer((s) => this.onConnection(s));
    return new Promise((resolve) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        this.d.logger.warn({ socket: this.d.name, code: e.code }, `hot restart disabled: cannot serve ${this.d.name} (${e.code ?? e.message}); another meshlet uses this --base-id`);
        resolve(false);
      });
      server.listen(netPathOf(this.d.name), () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.d.logger.error({ err: e }, 'hot restart control socket'));
        server.unref();
        this.server = server;
        resolve(true);
      });
    });
  }

  /** Marks the process as leaving (its drain finished); the control socket closes with it. */
  exited(): void {
    this.st = 'EXITED';
    this.close();
  }

  close(): void {
    this.server?.close();
    this.server = null;
    this.child?.destroy();
    this.child = null;
  }

  private onConnection(s: net.Socket): void {
    s.unref();
    const reader = new FrameReader();
    const hello = setTimeout(() => {
      this.d.logger.warn({}, 'hot restart: a client connected but sent no hello; closed');
      s.destroy();
    }, this.d.helloTimeoutMs ?? 5000);
    hello.unref();
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      for (const m of reader.push(chunk)) {
        if (m instanceof Error) {
          this.d.logger.warn({ error: m.message }, 'hot restart: bad message from child; closed');
          s.destroy();
          return;
        }
        clearTimeout(hello);
        this.onMessage(s, m);
      }
    });
    s.on('close', () => {
      clearTimeout(hello);
      if (this.child !== s) return;
      this.child = null;
      if (this.st === 'HANDING_OVER') {
        // The child died before it took over: this process never stopped accepting, so it simply keeps serving.
        this.d.logger.warn({}, 'hot restart: child went away before taking over; still serving');
        this.st = 'SERVING';
      }
    });
  }

  private refuse(s: net.Socket, reason: string): void {
    this.d.logger.warn({ reason }, 'hot restart: child refused');
    s.end(encodeMessage({ type: 'refused', reason }));
  }

  private onMessage(s: net.Socket, m: HotRestartMessage): void {
    if (m.type === 'hello') {
      if (this.st !== 'SERVING' || this.child) return this.refuse(s, `epoch ${this.d.epoch} is ${this.st}, not accepting a new child`);
      if (m.version !== HOT_RESTART_VERSION) return this.refuse(s, `hot restart version mismatch: parent ${HOT_RESTART_VERSION}, child ${m.version}`);
      if (m.epoch !== this.d.epoch + 1) return this.refuse(s, `child epoch ${m.epoch} does not follow parent epoch ${this.d.epoch}`);
      const uid = this.peerUid(s);
      const own = process.getuid?.() ?? 0;
      if (uid !== own && uid !== 0) return this.refuse(s, `child uid ${uid} is not this process's uid ${own}`);
      this.child = s;
      this.st = 'HANDING_OVER';
      void this.handOver(s, m.pid);
      return;
    }
    if (m.type === 'drain' && s === this.child && this.st === 'HANDING_OVER') {
      this.st = 'DRAINING';
      const deadlineMs = m.parentShutdownTimeS * 1000;
      this.d.logger.info({ deadlineMs }, 'hot restart: child is live; draining and exiting');
      this.d.drainAndExit(deadlineMs);
      return;
    }
    this.d.logger.warn({ type: m.type, state: this.st }, 'hot restart: unexpected message ignored');
  }

  private peerUid(s: net.Socket): number {
    const fd = (s as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    try {
      return typeof fd === 'number' ? this.d.addon.peerCred(fd).uid : -1;
    } catch {
      return -1;
    }
  }

  private async handOver(s: net.Socket, childPid: number): Promise<void> {
    this.d.logger.info({ childPid }, 'hot restart: child started; shutting down admin');
    await this.d.shutdownAdmin().catch((e: unknown) => this.d.logger.error({ err: e }, 'hot restart: admin shutdown'));
    if (s.destroyed || this.child !== s) return;
    const socks = this.d.listenSockets();
    const fd = (s as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    const payload = encodePayload({ type: 'sockets', keys: socks.map((x) => x.key), pid: process.pid, startTime: this.d.startTime });
    try {
      if (typeof fd !== 'number' || fd < 0) throw new Error('control connection has no fd');
      this.d.addon.sendFds(fd, socks.map((x) => x.fd), payload, 5000);
      this.d.logger.info({ childPid, sockets: socks.map((x) => x.key) }, 'hot restart: listen sockets handed over');
    } catch (e) {
      this.d.logger.error({ err: e }, 'hot restart: cannot hand the listen sockets over');
      s.destroy();
    }
  }
}
