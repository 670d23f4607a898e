// upstream/pools/ (also used by http/ for downstream HTTP/2 sessions): Envoy's connection idle_timeout — a period
// with no active streams — on one unref'd timer per connection. It replaces Http2Session.setTimeout, whose timer node
// never clears when the session is destroyed (setTimeout(0) is a no-op once destroyed): every closed session stayed
// reachable from the timer list for the whole timeout (1 h by default), with its streams' state (FT-10).

export class IdleTimer {
  private streams = 0;
  private idleSince: number;
  private timer: NodeJS.Timeout | null = null;

  /** Starts idle: `onIdle` runs once the connection has had no active stream for `timeoutMs`. */
  constructor(private readonly timeoutMs: number, private readonly onIdle: () => void) {
    this.idleSince = Date.now();
    this.arm(timeoutMs);
  }

  /** The connection's active stream count; 0 starts the idle period. */
  get active(): number {
    return this.streams;
  }

  set active(n: number) {
    if (n === 0 && this.streams !== 0) this.idleSince = Date.now();
    this.streams = n;
  }

  /** Connection closed: drop the timer so nothing keeps the connection reachable. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.check, ms);
    this.timer.unref();
  }

  private readonly check = (): void => {
    this.timer = null;
    const idleFor = this.streams === 0 ? Date.now() - this.idleSince : 0;
    if (this.streams === 0 && idleFor >= this.timeoutMs) {
      this.onIdle();
      return;
    }
    this.arm(this.timeoutMs - idleFor);
  };
}
