// http/: the JS transport every downstream HTTP/2 session runs on (cleartext AUTO after the preface sniff, codec
// HTTP2, TLS with ALPN h2): a Duplex over the accepted socket or TLSSocket that node:http2 reads and writes through
// JSStreamSocket, so meshlet can put one frame of its own on the wire between nghttp2's writes — the HTTP/2 drain's
// shutdown notice (GOAWAY 2^31−1), which node:http2 has no API for.
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { ReplaySocket } from './replay-socket.js';

/** GOAWAY frame: length 8, type 0x7, flags 0, stream 0, last_stream_id 2^31−1, error code NO_ERROR. */
export const SHUTDOWN_NOTICE_FRAME: Buffer = Buffer.from([0, 0, 8, 7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * Why writing our own frame here is safe (and writing to the socket node:http2 consumed is not):
 * - node:http2 only consumes a stream with a native StreamBase handle; a Duplex without `_handle` (this class) is
 *   wrapped in JSStreamSocket, whose `doWrite(req, bufs)` corks this Duplex, calls `write()` once per buffer of ONE
 *   Http2Session::SendPendingData batch, uncorks and returns — synchronously. Nothing of ours can run in between, so a
 *   `write()` of ours lands in this Duplex's own writable queue either before or after a whole batch, never inside one.
 * - A batch ends at a frame boundary: SendPendingData loops `nghttp2_session_mem_send()` until it returns 0 (nghttp2
 *   has finished every frame it started, including the rest of a partly serialised one), and DATA frames
 *   (NGHTTP2_DATA_FLAG_NO_COPY) are added whole in the same loop by Http2Session::OnSendData (9-byte header, payload,
 *   padding). One write request per batch; the next batch waits for this one to complete (is_write_in_progress).
 * - The native session never sees our frame and no native write is pending on a handle we touch: we write to the
 *   inner socket only from this Duplex's `_write`/`_writev`, in queue order.
 * - The frame must follow the server's connection preface (SETTINGS, the first thing nghttp2 sends): a notice asked for
 *   before nghttp2's first batch waits for it, and is queued a tick later (after that doWrite returned).
 */
export class H2Transport extends ReplaySocket {
  private sentOutput = false;
  private noticePending = false;
  /** The shutdown notice went out (or is queued). */
  noticeSent = false;

  constructor(inner: Duplex, head: Buffer = EMPTY) {
    super(inner as Socket, head);
    // node:http2 disables TLS renegotiation on the socket it is given (RFC 9113 §9.2.1); it is given this wrapper now.
    const tlsInner = inner as Duplex & { disableRenegotiation?: () => void };
    if (typeof tlsInner.disableRenegotiation === 'function') tlsInner.disableRenegotiation();
  }

  /** Queues the GOAWAY(2^31−1, NO_ERROR) shutdown notice after nghttp2's complete batches. Idempotent. */
  shutdownNotice(): void {
    if (this.noticeSent || this.destroyed || this.writableEnded) return;
    this.noticeSent = true;
    if (!this.sentOutput) {
      this.noticePending = true;
      return;
    }
    this.write(SHUTDOWN_NOTICE_FRAME);
  }

  private firstOutput(): void {
    this.sentOutput = true;
    if (this.noticePending) {
      this.noticePending = false;
      // We are inside JSStreamSocket.doWrite: queue the notice once that batch has been handed over entirely.
      process.nextTick(writeNotice, this);
    }
  }

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.sentOutput) this.firstOutput();
    super._write(chunk, enc, cb);
  }

  /** One batch of nghttp2 output (corked by JSStreamSocket): one corked write on the inner socket. */
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    if (!this.sentOutput) this.firstOutput();
    this.writeChunks(chunks, cb);
  }
}

const EMPTY = Buffer.alloc(0);

function writeNotice(t: H2Transport): void {
  if (!t.destroyed && !t.writableEnded) t.write(SHUTDOWN_NOTICE_FRAME);
}
