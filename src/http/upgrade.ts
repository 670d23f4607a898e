// http/: the downstream side of an HTTP/1.1 request that asked to upgrade (WebSocket): node:http hands us the raw
// socket, so responses are serialised here; a 101 from upstream splices the two sockets together.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { HeaderMap } from '../common/headers.js';
import type { Downstream } from './downstream.js';

function serialise(status: number, headers: HeaderMap): string {
  let out = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    for (const x of typeof v === 'string' ? [v] : v) {
      if (/[\r\n]/.test(x)) continue;
      out += `${k}: ${x}\r\n`;
    }
  }
  return out + '\r\n';
}

export class H1UpgradeDownstream implements Downstream {
  readonly protocol = 'HTTP/1.1' as const;
  readonly body = null;
  headersSent = false;
  aborted = false;
  private done = false;
  private doneCbs: (() => void)[] = [];
  private abortCbs: (() => void)[] = [];

  constructor(private readonly req: IncomingMessage, private readonly socket: Duplex, private readonly head: Buffer) {
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (!this.done) {
        this.aborted = true;
        for (const cb of this.abortCbs) cb();
      }
      this.finish();
    });
  }

  private finish(): void {
    if (this.done && this.doneCbs.length === 0) return;
    this.done = true;
    const cbs = this.doneCbs;
    this.doneCbs = [];
    for (const cb of cbs) cb();
  }

  sendHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    if (this.headersSent) return;
    this.headersSent = true;
    headers.connection = 'close';
    this.socket.write(serialise(status, headers));
    if (endStream) this.socket.end();
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    const ok = this.socket.write(chunk);
    if (endStream) this.socket.end();
    return ok;
  }

  sendTrailers(): void {
    this.socket.end();
  }

  reset(): void {
    this.aborted = true;
    this.socket.destroy();
  }

  onDrain(cb: () => void): void {
    this.socket.on('drain', cb);
  }

  onAbort(cb: () => void): void {
    this.abortCbs.push(cb);
  }

  onDone(cb: () => void): void {
    if (this.done) cb();
    else this.doneCbs.push(cb);
  }

  closeConnectionAfter(): void { /* upgraded connections close when either side does */ }

  /** Upstream accepted the upgrade: send its 101 and splice the sockets. */
  upgradeSocket(status: number, headers: HeaderMap, up: Duplex): void {
    this.headersSent = true;
    const down = this.socket;
    down.write(serialise(status, headers));
    if (this.head.length > 0) up.write(this.head);
    up.on('error', () => down.destroy());
    down.on('error', () => up.destroy());
    up.once('close', () => down.destroy());
    down.once('close', () => up.destroy());
    up.pipe(down);
    down.pipe(up);
    void this.req;
  }
}
