// http/: how the connection manager drains its downstream connections — Envoy's drain-close decision
// (--drain-strategy gradual|immediate) and the two-phase HTTP/2 GOAWAY sequence of one session (shutdown notice,
// then after drain_timeout the final GOAWAY with the last processed stream id, then close when its streams end).
import type { Http2Session } from 'node:http2';
import type { H2Transport } from './h2-transport.js';

/** Envoy's --drain-strategy. */
export type DrainStrategy = 'gradual' | 'immediate';

/**
 * Envoy's DrainManagerImpl::drainClose(), asked for every response of a draining connection manager (Envoy asks in
 * the HCM's encodeHeaders): `immediate` → always; `gradual` → with probability elapsed / drain time, rising linearly
 * from 0 at the start of the drain to 1 at its end (Envoy: `elapsed > random() % drain_time`). A `true` answer makes
 * an HTTP/1 response carry `Connection: close` and starts the two-phase GOAWAY of an HTTP/2 connection.
 *
 * HTTP/1.1 has no GOAWAY: the only race-free close of a keep-alive connection is the client's own, after it read a
 * response saying `Connection: close`. Envoy (ConnectionManagerImpl): a drain only changes what the next response on
 * a connection says — ActiveStream::encodeHeaders asks drain_close_.drainClose() and startDrainSequence() "doesn't
 * really do anything for HTTP/1.1"; a connection that stays idle is not touched by the drain, it lives until the
 * client closes it, the HCM idle_timeout, or the listener is torn down when --drain-time-s ends (hot restart: the
 * parent's shutdown); downstream_cx_active counts it, so EXIT_ON_ZERO_ACTIVE_CONNECTIONS waits for it.
 * meshlet does the same: the drain never closes an idle HTTP/1.1 connection (node's closeIdleConnections() at the
 * drain start and after each stream ended used to, and so reset the request a keep-alive client was sending on it at
 * that instant — "socket hang up"/ECONNRESET, Istio's "503 UC during pod shutdown"); a request that arrives on it
 * during the drain is read and answered with Connection: close; what is still open at the drain deadline is
 * destroyed, as Envoy's listener removal does. Closing connections idle since before the drain after a grace was
 * considered and left out: a pool that reuses the first free connection (undici, Envoy's HTTP/1 pool) reaches for its
 * coldest connection exactly in a burst, so such a close is the same race, only rarer.
 */
export class DrainDecision {
  constructor(
    readonly strategy: DrainStrategy,
    private readonly startMs: number,
    /** The drain's duration (Envoy: --drain-time-s); 0 = close at once. */
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  /** The probability a connection is told to close now. */
  probability(): number {
    if (this.strategy === 'immediate' || this.windowMs <= 0) return 1;
    const p = (this.now() - this.startMs) / this.windowMs;
    return p >= 1 ? 1 : p <= 0 ? 0 : p;
  }

  /** True when this response's connection is to close (drain). */
  drainClose(): boolean {
    const p = this.probability();
    return p >= 1 || this.random() < p;
  }
}

/** Lifecycle of one HTTP/2 session's drain: serving → notified (GOAWAY 2^31−1 sent) → closing (final GOAWAY). */
export type H2DrainState = 'serving' | 'notified' | 'closing';

/**
 * Envoy's HTTP/2 drain sequence for one downstream session (ConnectionManagerImpl::startDrainSequence):
 * `codec.shutdownNotice()` — GOAWAY(last_stream_id 2^31−1, NO_ERROR): the client opens no new streams here, but the
 * streams already on the wire are still accepted and served — then after the HCM's drain_timeout `codec.goAway()`,
 * the final GOAWAY carrying the last stream id processed; the connection closes once its streams are done.
 *
 * node:http2 has no nghttp2_submit_shutdown_notice, and session.goaway(0, 2^31−1) would make nghttp2 ignore every
 * later HEADERS (requests already on the wire hang), so the notice is a frame written by the session's JS transport
 * (H2Transport) and nghttp2 never learns of it: it keeps accepting streams. The final phase is node's
 * session.close(): goaway() with lastStreamID 0, which node's Http2Session::Goaway replaces with
 * nghttp2_session_get_last_proc_stream_id() — exactly what Envoy sends — and the session ends when its streams do.
 */
export class H2DrainSequence {
  state: H2DrainState = 'serving';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly session: Http2Session, private readonly transport: H2Transport | null) {}

  /** Phase 1 now, phase 2 after `graceMs` (at once when there is no transport for the notice or no grace). */
  start(graceMs: number): void {
    if (this.state !== 'serving') return;
    const t = this.transport;
    if (!t || graceMs <= 0 || this.session.closed || this.session.destroyed) return this.finish();
    this.state = 'notified';
    t.shutdownNotice();
    this.timer = setTimeout(finishLater, graceMs, this);
  }

  /** Phase 2: the final GOAWAY (last processed stream id) and close once the open streams end. Idempotent. */
  finish(): void {
    if (this.state === 'closing') return;
    this.stop();
    this.state = 'closing';
    const s = this.session;
    if (s.closed || s.destroyed) return;
    try {
      s.close();
    } catch { /* already closing */ }
  }

  /** The session is gone (or the whole manager destroyed): drop the timer. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function finishLater(seq: H2DrainSequence): void {
  seq.finish();
}
