// process/: the child half of hot restart (epoch E+1 > 0). At startup, before any listener binds, it connects to
// epoch E's control socket, says hello and receives copies of E's listen sockets (SCM_RIGHTS) with their binding
// keys; this step is synchronous and bounded (the process has nothing else to do yet). Once the child is LIVE it
// asks the parent to drain and exit. No parent, a refusal, a timeout or a bad frame is a HotRestartError.
//   CONNECTING ─sockets─▶ RECEIVED ─takeOver()─▶ SERVING        CONNECTING ─error─▶ FAILED
import net from 'node:net';
import { InheritedSockets } from '../listener/inherited-sockets.js';
import type { HotRestartAddon } from './hot-restart-native.js';
import { FrameReader, HOT_RESTART_VERSION, HotRestartError, decodeMessage, encodeMessage, encodePayload } from './hot-restart-wire.js';
import type { HotRestartLogger } from './hot-restart-parent.js';

export type HotRestartChildState = 'CONNECTING' | 'RECEIVED' | 'SERVING' | 'FAILED';

export interface HotRestartChildOptions {
  readonly addon: HotRestartAddon;
  /** The parent's control socket (controlSocketName(baseId, epoch - 1)). */
  readonly parentName: string;
  readonly epoch: number;
  readonly logger: HotRestartLogger;
  /** Bound on the hello → sockets round trip (default 5 s). */
  readonly timeoutMs?: number;
  /** Overrides the hello's version (tests of the mismatch path). */
  readonly version?: string;
}

export class HotRestartChild {
  private st: HotRestartChildState = 'RECEIVED';
  private socket: net.Socket | null;

  private constructor(
    private readonly o: HotRestartChildOptions,
    /** The parent's listen sockets by binding key, for the listener manager. */
    readonly inherited: InheritedSockets,
    readonly parentPid: number,
    /** The parent's start time (epoch ms): uptime over all epochs. */
    readonly parentStartTime: number,
    fd: number,
  ) {
    // The handshake is over (no more fds come on this socket): node may read it from now on.
    const s = new net.Socket({ fd, readable: true, writable: true });
    s.unref();
    const reader = new FrameReader();
    s.on('data', (c: Buffer) => {
      for (const m of reader.push(c)) o.logger.warn({ message: m instanceof Error ? m.message : m.type }, 'hot restart: unexpected message from parent');
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.socket = null;
      o.logger.info({ parentPid }, 'hot restart: parent closed the control connection');
    });
    this.socket = s;
  }

  get state(): HotRestartChildState {
    return this.st;
  }

  /** CONNECTING → RECEIVED: connects, says hello, receives the listen sockets. Throws HotRestartError. */
  static connect(o: HotRestartChildOptions): HotRestartChild {
    const timeoutMs = o.timeoutMs ?? 5000;
    let fd: number;
    try {
      fd = o.addon.connectUnix(o.parentName);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new HotRestartError('NO_PARENT', `hot restart: no parent epoch ${o.epoch - 1} listening on ${o.parentName} (${code ?? (e as Error).message}); start epoch ${o.epoch - 1} first with the same --base-id`, e);
    }
    let frame: { fds: number[]; payload: Buffer };
    try {
      o.addon.sendFds(fd, [], encodePayload({ type: 'hello', epoch: o.epoch, version: o.version ?? HOT_RESTART_VERSION, pid: process.pid }), timeoutMs);
      frame = o.addon.recvFds(fd, o.addon.MAX_FDS, timeoutMs);
    } catch (e) {
      o.addon.closeFd(fd);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ETIMEDOUT') throw new HotRestartError('TIMEOUT', `hot restart: parent on ${o.parentName} did not answer within ${timeoutMs} ms`, e);
      if (code === 'ECONNRESET' || code === 'EPIPE') throw new HotRestartError('PARENT_GONE', `hot restart: parent on ${o.parentName} closed the connection during the hand-over`, e);
      throw new HotRestartError('PROTOCOL', `hot restart: hand-over failed: ${(e as Error).message}`, e);
    }
    const fail = (err: HotRestartError): never => {
      for (const x of frame.fds) o.addon.closeFd(x);
      o.addon.closeFd(fd);
      throw err;
    };
    const m = decodeMessage(frame.payload);
    if (m instanceof HotRestartError) return fail(m);
    if (m.type === 'refused') return fail(new HotRestartError('REFUSED', `hot restart: parent refused: ${m.reason}`));
    if (m.type !== 'sockets') return fail(new HotRestartError('PROTOCOL', `hot restart: expected sockets from the parent, got ${m.type}`));
    if (m.keys.length !== frame.fds.length) return fail(new HotRestartError('PROTOCOL', `hot restart: parent named ${m.keys.length} sockets but sent ${frame.fds.length} fds`));
    const inherited = new InheritedSockets(m.keys.map((k, i) => [k, frame.fds[i]] as const));
    o.logger.info({ parentPid: m.pid, sockets: m.keys }, 'hot restart: received listen sockets from the parent');
    return new HotRestartChild(o, inherited, m.pid, m.startTime, fd);
  }

  /** RECEIVED → SERVING: this process is LIVE; the parent stops accepting, drains and exits by parentShutdownTimeS. */
  takeOver(parentShutdownTimeS: number): void {
    if (this.st !== 'RECEIVED') return;
    this.st = 'SERVING';
    if (!this.socket) {
      this.o.logger.warn({ parentPid: this.parentPid }, 'hot restart: parent already gone; nothing to drain');
      return;
    }
    this.socket.write(encodeMessage({ type: 'drain', parentShutdownTimeS }));
    this.o.logger.info({ parentPid: this.parentPid, parentShutdownTimeS }, 'hot restart: asked the parent to drain');
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}
