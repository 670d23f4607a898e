// listener/: listen sockets a hot-restarting meshlet received from its parent (epoch E → E+1), by listener-manager
// binding key. The listener manager takes the fd for a key instead of binding that address (no EADDRINUSE, no gap in
// accepting); whatever is not taken once the first listeners are applied is closed. Each fd is taken at most once.
import { closeSync } from 'node:fs';

export class InheritedSockets {
  private readonly fds = new Map<string, number>();
  private closed = false;

  constructor(entries: Iterable<readonly [key: string, fd: number]> = []) {
    for (const [k, fd] of entries) this.fds.set(k, fd);
  }

  /** The inherited listen fd for `key`, handed over once (the caller owns it from then on). */
  take(key: string): number | undefined {
    const fd = this.fds.get(key);
    if (fd !== undefined) this.fds.delete(key);
    return fd;
  }

  /** Keys not taken yet. */
  remaining(): string[] {
    return [...this.fds.keys()];
  }

  /** Closes every fd nobody took (after the first listener set is applied); later take() finds nothing. Returns their keys. */
  closeUnused(): string[] {
    const keys = this.remaining();
    for (const fd of this.fds.values()) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    this.fds.clear();
    this.closed = true;
    return keys;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
