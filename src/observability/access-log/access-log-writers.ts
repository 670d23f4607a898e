// observability/access-log: the process-wide set of access log outputs. One asynchronous pino destination
// (sonic-boom) per path, shared by every listener that logs there; lines are buffered and written off the request
// path, flushed every `flushIntervalMs` (Envoy's file_flush_interval, 1 s), reopened on demand (log rotation).
import pino from 'pino';

type Destination = ReturnType<typeof pino.destination>;

export interface AccessLogSink {
  write(line: string): void;
}

export interface AccessLogWritersOptions {
  /** Default 1000 ms (Envoy's file_flush_interval_msec). */
  readonly flushIntervalMs?: number;
  /** Bytes buffered before a write is started; default 4096. */
  readonly minLength?: number;
}

class DestinationSink implements AccessLogSink {
  dropped = 0;
  constructor(readonly dest: Destination) {}
  write(line: string): void {
    try {
      this.dest.write(line);
    } catch {
      this.dropped++; // a closed or broken destination never breaks the data path
    }
  }
}

export class AccessLogWriters {
  private readonly sinks = new Map<string, DestinationSink>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly minLength: number;

  constructor(opts: AccessLogWritersOptions = {}) {
    this.minLength = opts.minLength ?? 4096;
    this.timer = setInterval(() => this.flush(), opts.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** The shared sink for a file path, or 'stdout' / 'stderr'. */
  get(path: string): AccessLogSink {
    let s = this.sinks.get(path);
    if (s) return s;
    const dest = path === 'stdout' ? 1 : path === 'stderr' ? 2 : path;
    const d = pino.destination({ dest, sync: false, minLength: this.minLength, mkdir: typeof dest === 'string' });
    d.on('error', () => undefined);
    s = new DestinationSink(d);
    if (this.closed) s.dest.destroy();
    this.sinks.set(path, s);
    return s;
  }

  /** Starts writing whatever is buffered. */
  flush(): void {
    for (const s of this.sinks.values()) {
      try {
        s.dest.flush();
      } catch { /* nothing buffered or not open yet */ }
    }
  }

  /** Reopens every file (after logrotate moved it). */
  reopen(): void {
    for (const [path, s] of this.sinks) {
      if (path === 'stdout' || path === 'stderr') continue;
      try {
        s.dest.reopen();
      } catch { /* retried on the next reopen */ }
    }
  }

  /** Flushes and closes every output; resolves when the data is on disk. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.sinks.entries()].map(([path, s]) => new Promise<void>((resolve) => {
      const d = s.dest;
      const done = (): void => resolve();
      if (path === 'stdout' || path === 'stderr') {
        try {
          d.flush(() => resolve());
        } catch {
          resolve();
        }
        return;
      }
      d.once('close', done);
      d.once('error', done);
      try {
        d.end();
      } catch {
        resolve();
      }
    })));
    this.sinks.clear();
  }
}
