// http/filters/compressor: envoy.filters.http.decompressor runtime. Decompresses request bodies (and advertises the
// encoding upstream in Accept-Encoding) and response bodies whose Content-Encoding matches the library, as streaming
// Transforms guarded against decompression bombs (max_inflate_ratio).
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { joinedHeader } from '../../../common/headers.js';
import type { HeaderMap } from '../../../common/headers.js';
import type {
  FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { DECOMPRESSOR_TYPE_URL, translateDecompressor } from './config.js';
import type { DecompressorConfig } from './config.js';

/** A streaming decompressor that fails once output exceeds `ratio` × input (after the first 64 KiB). */
export class GuardedDecompress extends Transform {
  private inBytes = 0;
  private outBytes = 0;
  private readonly z: Transform;

  constructor(encoding: 'gzip' | 'br', chunkSize: number, windowBits: number, private readonly ratio: number) {
    super();
    this.z = encoding === 'gzip' ? createGunzip({ chunkSize, windowBits }) : createBrotliDecompress({ chunkSize });
    this.z.on('data', (d: Buffer) => {
      this.outBytes += d.length;
      if (this.outBytes > 65536 && this.outBytes > this.inBytes * this.ratio) {
        this.destroy(new Error(`decompressed body exceeds max_inflate_ratio ${this.ratio}`));
        return;
      }
      this.push(d);
    });
    this.z.on('error', (e) => this.destroy(e));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.inBytes += chunk.length;
    this.z.write(chunk, () => cb());
  }

  override _flush(cb: TransformCallback): void {
    this.z.once('end', () => cb());
    this.z.end();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.z.destroy();
    cb(err);
  }
}

function noTransform(headers: HeaderMap): boolean {
  const cc = joinedHeader(headers, 'cache-control');
  return !!cc && /(^|,)\s*no-transform\s*(,|$)/i.test(cc);
}

/** When the last content-coding is `encoding`, removes it (and content-length); true when the body must be decoded. */
function stripEncoding(headers: HeaderMap, encoding: string): boolean {
  const ce = joinedHeader(headers, 'content-encoding');
  if (!ce) return false;
  const codings = ce.split(',').map((s) => s.trim()).filter(Boolean);
  if (codings.length === 0 || codings[codings.length - 1].toLowerCase() !== encoding) return false;
  codings.pop();
  if (codings.length) headers['content-encoding'] = codings.join(', ');
  else delete headers['content-encoding'];
  delete headers['content-length'];
  return true;
}

class DecompressorFilter implements HttpFilter {
  private decodeRequest = false;
  private decodeResponse = false;
  constructor(private readonly cfg: DecompressorConfig) {}

  decodeHeaders(req: FilterRequest): FilterStatus {
    const c = this.cfg;
    if (!c.request.enabled) return 'continue';
    const h = req.head.headers;
    if (c.request.ignoreNoTransform || !noTransform(h)) this.decodeRequest = stripEncoding(h, c.encoding);
    if (c.request.advertise) {
      const ae = joinedHeader(h, 'accept-encoding');
      if (!ae) h['accept-encoding'] = c.encoding;
      else if (!ae.split(',').some((p) => p.split(';')[0].trim().toLowerCase() === c.encoding)) h['accept-encoding'] = `${ae}, ${c.encoding}`;
    }
    return 'continue';
  }

  wrapRequestBody(): Transform | null {
    const c = this.cfg;
    return this.decodeRequest ? new GuardedDecompress(c.encoding, c.chunkSize, c.windowBits, c.maxInflateRatio) : null;
  }

  encodeHeaders(_status: number, headers: HeaderMap): FilterStatus {
    const c = this.cfg;
    if (c.response.enabled && (c.response.ignoreNoTransform || !noTransform(headers))) this.decodeResponse = stripEncoding(headers, c.encoding);
    return 'continue';
  }

  wrapResponseBody(): Transform | null {
    const c = this.cfg;
    return this.decodeResponse ? new GuardedDecompress(c.encoding, c.chunkSize, c.windowBits, c.maxInflateRatio) : null;
  }
}

export const decompressorFilterType: HttpFilterType<DecompressorConfig, never> = {
  typeUrl: DECOMPRESSOR_TYPE_URL,
  perRouteTypeUrls: [],
  translate: (c, issues) => translateDecompressor(c, issues),
  createFactory(name: string, config: DecompressorConfig): HttpFilterFactory {
    return { name, create: () => new DecompressorFilter(config) };
  },
};
