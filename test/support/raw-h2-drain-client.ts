// test support: a raw-frame HTTP/2 client for drain tests (cleartext or TLS with ALPN h2). Unlike node's client it
// never answers a GOAWAY (node's closes its session and sends its own GOAWAY, which makes node's server send the final
// GOAWAY at once), so a test sees the server's drain exactly as Envoy sends it and can keep sending HEADERS after it.
// Literal HPACK (no indexing, no Huffman) for short fields; SETTINGS are ACKed; frames are recorded with arrival time.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

export const H2_FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
export const H2_FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
  /** performance.now() at arrival. */
  readonly at: number;
}

export interface GoawayFrame {
  readonly lastStreamId: number;
  readonly code: number;
  readonly at: number;
}

export function h2Frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpack(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [k, v] of fields) out.push(0, k.length, ...Buffer.from(k, 'latin1'), v.length, ...Buffer.from(v, 'latin1'));
  return Buffer.from(out);
}

export class RawH2DrainClient {
  readonly frames: RawFrame[] = [];
  closed = false;
  private buf: Buffer = Buffer.alloc(0);

  private constructor(private readonly sock: Duplex) {
    sock.on('error', () => undefined);
    sock.on('close', () => { this.closed = true; });
    sock.on('data', (d: Buffer) => this.onData(d));
    // A large connection window so responses never wait for our WINDOW_UPDATEs.
    const wu = Buffer.alloc(4);
    wu.writeUInt32BE(1 << 30);
    sock.write(Buffer.concat([PREFACE, h2Frame(H2_FRAME.SETTINGS, 0, 0), h2Frame(H2_FRAME.WINDOW_UPDATE, 0, 0, wu)]));
  }

  static async connect(port: number, opts: { tls?: { ca: string; servername: string } } = {}): Promise<RawH2DrainClient> {
    if (opts.tls) {
      const s = tls.connect({ port, host: '127.0.0.1', ca: opts.tls.ca, servername: opts.tls.servername, ALPNProtocols: ['h2'] });
      await new Promise<void>((res, rej) => { s.once('secureConnect', () => res()); s.once('error', rej); });
      if (s.alpnProtocol !== 'h2') throw new Error(`ALPN ${String(s.alpnProtocol)}`);
      return new RawH2DrainClient(s);
    }
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((res, rej) => { s.once('connect', () => res()); s.once('error', rej); });
    return new RawH2DrainClient(s);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: RawFrame = { type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len), at: performance.now() };
      this.buf = this.buf.subarray(9 + len);
      if (f.type === H2_FRAME.SETTINGS && !(f.flags & H2_FLAG.ACK)) this.sock.write(h2Frame(H2_FRAME.SETTINGS, H2_FLAG.ACK, 0));
      this.frames.push(f);
    }
  }

  /** GET `path` on stream `id` (odd, increasing), END_STREAM on the HEADERS. */
  get(id: number, path: string, headers: readonly (readonly [string, string])[] = [], scheme = 'http'): void {
    if (this.closed) return;
    this.sock.write(h2Frame(H2_FRAME.HEADERS, H2_FLAG.END_HEADERS | H2_FLAG.END_STREAM, id, hpack([[':method', 'GET'], [':scheme', scheme], [':authority', 'a.example'], [':path', path], ...headers])));
  }

  goaways(): GoawayFrame[] {
    return this.frames.filter((f) => f.type === H2_FRAME.GOAWAY).map((f) => ({ lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), at: f.at }));
  }

  /** Response HEADERS came on stream `id`. */
  responded(id: number): boolean {
    return this.frames.some((f) => f.stream === id && f.type === H2_FRAME.HEADERS);
  }

  /** The stream ended with END_STREAM (on HEADERS or DATA). */
  ended(id: number): boolean {
    return this.frames.some((f) => f.stream === id && (f.type === H2_FRAME.DATA || f.type === H2_FRAME.HEADERS) && (f.flags & H2_FLAG.END_STREAM) !== 0);
  }

  /** RST_STREAM codes received for stream `id`. */
  resets(id: number): number[] {
    return this.frames.filter((f) => f.stream === id && f.type === H2_FRAME.RST_STREAM).map((f) => f.payload.readUInt32BE(0));
  }

  destroy(): void {
    this.sock.destroy();
  }
}

export async function waitUntil(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return pred();
}
