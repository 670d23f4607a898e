// admin/: the server's lifecycle state machine (Envoy server.state) behind /ready, /server_info and the
// server.state / server.live gauges. proxy.ts drives it; the admin server only reads it.
//
//   PRE_INITIALIZING ─startInitializing()─▶ INITIALIZING ─(first CDS and first LDS applied)─▶ LIVE
//   any ─startDraining()─▶ DRAINING (terminal)          LIVE ⇄ DRAINING while /healthcheck/fail is in force
//
// Readiness is cached once reached: a later control-plane outage does not make the server un-ready.

export type ServerState = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';

type Phase = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';

export class ServerLifecycle {
  private phase: Phase = 'PRE_INITIALIZING';
  private cds = false;
  private lds = false;
  private cdsRejectedOnly = false;
  private ldsRejectedOnly = false;
  private healthFailed = false;
  private last: ServerState = 'PRE_INITIALIZING';

  /** `onChange` runs after every visible state change (e.g. to set server.state / server.live gauges). */
  constructor(private readonly onChange?: (state: ServerState) => void) {}

  get state(): ServerState {
    if (this.phase === 'LIVE' && this.healthFailed) return 'DRAINING';
    return this.phase;
  }

  /** True when /ready answers LIVE. */
  get isLive(): boolean {
    return this.state === 'LIVE';
  }

  get healthCheckFailed(): boolean {
    return this.healthFailed;
  }

  /** Static resources are being built and the first xDS fetches are under way. */
  startInitializing(): void {
    if (this.phase === 'PRE_INITIALIZING') this.phase = 'INITIALIZING';
    this.emit();
  }

  /** The first CDS update (or the static/filesystem equivalent) was applied. */
  cdsApplied(): void {
    this.cds = true;
    this.cdsRejectedOnly = false;
    this.maybeLive();
  }

  ldsApplied(): void {
    this.lds = true;
    this.ldsRejectedOnly = false;
    this.maybeLive();
  }

  /** A CDS / LDS update was rejected before any was accepted (readiness explains it). */
  cdsRejected(): void {
    if (!this.cds) this.cdsRejectedOnly = true;
  }

  ldsRejected(): void {
    if (!this.lds) this.ldsRejectedOnly = true;
  }

  startDraining(): void {
    this.phase = 'DRAINING';
    this.emit();
  }

  healthcheckFail(): void {
    this.healthFailed = true;
    this.emit();
  }

  healthcheckOk(): void {
    this.healthFailed = false;
    this.emit();
  }

  /** Istio-agent-style explanation of why the server is not ready ('' when LIVE). */
  readinessDetail(): string {
    const s = this.state;
    if (s === 'LIVE') return '';
    if (s === 'DRAINING') return this.phase === 'DRAINING' ? 'server is draining' : 'health check failed (POST /healthcheck/fail)';
    if (this.cdsRejectedOnly || this.ldsRejectedOnly) return 'config received from XDS server, but was rejected';
    if (!this.cds && !this.lds) return 'config not received from XDS server (is the control plane running?)';
    return `config not fully received (cds: ${this.cds ? 'applied' : 'pending'}, lds: ${this.lds ? 'applied' : 'pending'})`;
  }

  private maybeLive(): void {
    if (this.cds && this.lds && (this.phase === 'INITIALIZING' || this.phase === 'PRE_INITIALIZING')) this.phase = 'LIVE';
    this.emit();
  }

  private emit(): void {
    const s = this.state;
    if (s === this.last) return;
    this.last = s;
    this.onChange?.(s);
  }
}
