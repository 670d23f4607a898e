// http/filters/compressor: envoy.filters.http.compressor runtime. Negotiates Accept-Encoding (q-values), decides
// on the response headers (status, content type, length, no-transform, etag, existing encoding), adds Vary, and
// compresses the body as a streaming zlib Transform that flushes per chunk (never buffers whole bodies).
import { createBrotliCompress, createGzip, constants as Z } from 'node:zlib';
import type { Transform } from 'node:stream';
import { firstHeader, joinedHeader } from '../../../common/headers.js';
import type { HeaderMap } from '../../../common/headers.js';
import type {
  FilterCallbacks, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { COMPRESSOR_PER_ROUTE_TYPE_URL, COMPRESSOR_TYPE_URL, translateCompressor, translateCompressorPerRoute } from './config.js';
import type { CompressorConfig, CompressorPerRoute, Library } from './config.js';

/** q-value of `encoding` in an Accept-Encoding header (0 = not acceptable); `*` applies to unlisted codings. */
export function acceptEncodingQ(header: string | undefined, encoding: string): number {
  if (!header) return 0;
  let star = -1;
  for (const part of header.split(',')) {
    const [name0, ...params] = part.split(';');
    const name = name0.trim().toLowerCase();
    if (!name) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (name === encoding) return Number.isFinite(q) ? q : 0;
    if (name === '*') star = q;
  }
  return star > 0 ? star : 0;
}

export function createCompressStream(lib: Library): Transform {
  if (lib.encoding === 'gzip') {
    return createGzip({ level: lib.level, memLevel: lib.memLevel, windowBits: lib.windowBits, strategy: lib.strategy, chunkSize: lib.chunkSize, flush: Z.Z_SYNC_FLUSH });
  }
  return createBrotliCompress({
    chunkSize: lib.chunkSize,
    flush: Z.BROTLI_OPERATION_FLUSH,
    params: {
      [Z.BROTLI_PARAM_QUALITY]: lib.quality, [Z.BROTLI_PARAM_MODE]: lib.mode, [Z.BROTLI_PARAM_LGWIN]: lib.windowBits,
      [Z.BROTLI_PARAM_LGBLOCK]: lib.blockBits, [Z.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING]: lib.disableLiteralContextModeling ? 1 : 0,
    },
  });
}

class CompressorFilter implements HttpFilter {
  private acceptEncoding: string | undefined;
  private isHead = false;
  private disabled = false;
  private compress = false;

  constructor(private readonly cfg: CompressorConfig) {}

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const route = cb.perRouteConfig<CompressorPerRoute>();
    if (route?.disabled || !this.cfg.enabled) {
      this.disabled = true;
      return 'continue';
    }
    this.acceptEncoding = joinedHeader(req.head.headers, 'accept-encoding');
    this.isHead = req.head.method === 'HEAD';
    if (route?.removeAcceptEncoding ?? this.cfg.removeAcceptEncoding) delete req.head.headers['accept-encoding'];
    return 'continue';
  }

  encodeHeaders(status: number, headers: HeaderMap): FilterStatus {
    if (this.disabled || this.isHead || status < 200 || status === 204 || status === 304) return 'continue';
    const cfg = this.cfg;
    const len = firstHeader(headers, 'content-length');
    if (len !== undefined && Number(len) < cfg.minContentLength) return 'continue';
    const ct = firstHeader(headers, 'content-type');
    if (ct !== undefined && !cfg.contentTypes.has(ct.split(';')[0].trim().toLowerCase())) return 'continue';
    const cc = joinedHeader(headers, 'cache-control');
    if (cc && /(^|,)\s*no-transform\s*(,|$)/i.test(cc)) return 'continue';
    const etag = firstHeader(headers, 'etag');
    if (etag !== undefined && cfg.disableOnEtag) return 'continue';
    const ce = joinedHeader(headers, 'content-encoding');
    const te = joinedHeader(headers, 'transfer-encoding');
    if (te && /gzip|br|deflate|compress/i.test(te)) return 'continue';
    // Vary whenever the response could have been compressed, whatever this client accepts.
    const vary = joinedHeader(headers, 'vary');
    if (!vary) headers.vary = 'Accept-Encoding';
    else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) headers.vary = `${vary}, Accept-Encoding`;
    if (ce && ce.toLowerCase() !== 'identity') return 'continue';
    if (acceptEncodingQ(this.acceptEncoding, cfg.library.encoding) <= 0) return 'continue';
    this.compress = true;
    headers['content-encoding'] = cfg.library.encoding;
    delete headers['content-length'];
    if (etag !== undefined && !etag.startsWith('W/')) headers.etag = `W/${etag}`;
    return 'continue';
  }

  wrapResponseBody(): Transform | null {
    return this.compress ? createCompressStream(this.cfg.library) : null;
  }
}

export const compressorFilterType: HttpFilterType<CompressorConfig, CompressorPerRoute> = {
  typeUrl: COMPRESSOR_TYPE_URL,
  perRouteTypeUrls: [COMPRESSOR_PER_ROUTE_TYPE_URL],
  translate: (c, issues) => translateCompressor(c, issues),
  translatePerRoute: (c, _u, issues) => translateCompressorPerRoute(c, issues),
  createFactory(name: string, config: CompressorConfig): HttpFilterFactory {
    return { name, create: () => new CompressorFilter(config) };
  },
};
