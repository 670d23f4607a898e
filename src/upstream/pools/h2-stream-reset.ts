// upstream/pools/ (also used by http/ for downstream streams): resetting one HTTP/2 stream with RST_STREAM alone.
// Node's `stream.close(code)` first ends the writable side when it is still open, which puts END_STREAM on the
// wire before the RST_STREAM: a peer then sees a complete (truncated) message. Destroying the stream with an error
// sends only the RST_STREAM: INTERNAL_ERROR for an Error, CANCEL for an AbortError (which node only lets us create
// through addAbortSignal).
import type { Http2Stream } from 'node:http2';
import http2 from 'node:http2';
import { addAbortSignal } from 'node:stream';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

function ignore(): void { /* the reset is ours: its error event carries nothing new */ }

/** Sends RST_STREAM(`code`) (CANCEL or INTERNAL_ERROR; other codes go through close()) and never END_STREAM first. */
export function resetH2Stream(stream: Http2Stream, code: number): void {
  if (stream.destroyed) return;
  if (stream.writableEnded || (code !== NGHTTP2_CANCEL && code !== NGHTTP2_INTERNAL_ERROR)) {
    // Our side already sent END_STREAM (or a code destroy() cannot express): close() adds only the RST_STREAM.
    stream.close(code);
    return;
  }
  if (stream.listenerCount('error') === 0) stream.on('error', ignore);
  if (code === NGHTTP2_CANCEL) {
    const ac = new AbortController();
    addAbortSignal(ac.signal, stream);
    ac.abort();
  } else stream.destroy(new Error('stream reset'));
}
