// http/: HTTP/2 abuse guards per downstream session (CVE-2023-44487 rapid reset): Envoy's premature-reset rule —
// once a connection has opened `minStreams` streams, close it when more than half of them were reset by the client
// within `prematureMs` of opening. The connection manager also defers upstream work a tick so a stream whose
// RST_STREAM arrived in the same read never starts an upstream request.
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import http2 from 'node:http2';
import { resetH2Stream } from '../upstream/pools/h2-stream-reset.js';

export interface PrematureResetOptions {
  /** Streams a connection must have opened before the rule applies (Envoy: 500). */
  readonly minStreams: number;
  /** A client reset this soon after the stream opened counts as premature (Envoy: 1 s). */
  readonly prematureMs: number;
}

export const DEFAULT_PREMATURE_RESET: PrematureResetOptions = { minStreams: 500, prematureMs: 1000 };

/** Per-session counters; `onOpen` on each new stream, `onClose` when it closes. Cheap: two integers. */
export class PrematureResetTracker {
  opened = 0;
  prematureResets = 0;
  tripped = false;
  constructor(private readonly opts: PrematureResetOptions = DEFAULT_PREMATURE_RESET) {}

  onOpen(): void {
    this.opened++;
  }

  /**
   * Records a closed stream; returns true when the connection must now be closed. `clientReset`: the stream ended
   * by the client's RST_STREAM (not by us and not by a completed exchange).
   */
  onClose(clientReset: boolean, ageMs: number): boolean {
    if (clientReset && ageMs < this.opts.prematureMs) this.prematureResets++;
    return this.check();
  }

  check(): boolean {
    if (this.tripped) return true;
    if (this.opened >= this.opts.minStreams && this.prematureResets * 2 > this.opened) this.tripped = true;
    return this.tripped;
  }
}

const locallyReset = new WeakSet<ServerHttp2Stream>();

/**
 * Resets a stream from our side (RST_STREAM `code`, never preceded by END_STREAM: a response cut mid-body must not
 * look complete); such resets never count as the client's.
 */
export function resetStreamLocally(stream: ServerHttp2Stream, code: number): void {
  locallyReset.add(stream);
  resetH2Stream(stream, code);
}

/** True when the stream ended because the client reset it (RST_STREAM from the peer), not by us. */
export function isClientReset(stream: ServerHttp2Stream): boolean {
  const code = stream.rstCode;
  return code !== undefined && code !== http2.constants.NGHTTP2_NO_ERROR && !locallyReset.has(stream);
}

/** Closes an abusive session: GOAWAY(ENHANCE_YOUR_CALM) then destroy (no grace: the peer is misbehaving). */
export function closeAbusiveSession(session: Http2Session): void {
  if (session.destroyed) return;
  try {
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  } catch { /* already closing */ }
  session.destroy();
}
