// http/filters/compressor: translates envoy.extensions.filters.http.compressor.v3.Compressor (+ CompressorPerRoute)
// and envoy.extensions.filters.http.decompressor.v3.Decompressor once; compression libraries (gzip, brotli) map to
// node:zlib options.
import { constants as Z } from 'node:zlib';
import type { Issues } from '../../../common/validation.js';
import { asObj, rejectUnknown } from '../common/matchers.js';

export const COMPRESSOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor';
export const COMPRESSOR_PER_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute';
export const DECOMPRESSOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor';
const GZIP_C = 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip';
const BROTLI_C = 'type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli';
const GZIP_D = 'type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip';
const BROTLI_D = 'type.googleapis.com/envoy.extensions.compression.brotli.decompressor.v3.Brotli';

/** Envoy's default compressible content types. */
export const DEFAULT_CONTENT_TYPES: readonly string[] = [
  'text/html', 'text/plain', 'text/css', 'application/javascript', 'application/x-javascript', 'text/javascript',
  'text/x-javascript', 'application/ecmascript', 'text/ecmascript', 'application/json', 'application/xhtml+xml',
  'image/svg+xml', 'text/xml', 'application/xml',
];

export type Library =
  | { readonly encoding: 'gzip'; readonly level: number; readonly memLevel: number; readonly windowBits: number; readonly strategy: number; readonly chunkSize: number }
  | { readonly encoding: 'br'; readonly quality: number; readonly mode: number; readonly windowBits: number; readonly blockBits: number; readonly chunkSize: number; readonly disableLiteralContextModeling: boolean };

export interface CompressorConfig {
  readonly library: Library;
  readonly enabled: boolean;
  readonly minContentLength: number;
  readonly contentTypes: ReadonlySet<string>;
  readonly disableOnEtag: boolean;
  readonly removeAcceptEncoding: boolean;
}

export interface CompressorPerRoute {
  readonly disabled: boolean;
  readonly removeAcceptEncoding: boolean | undefined;
}

const LEVELS: Record<string, number> = { DEFAULT_COMPRESSION: -1, BEST_SPEED: 1, BEST_COMPRESSION: 9 };
const STRATEGIES: Record<string, number> = { DEFAULT_STRATEGY: Z.Z_DEFAULT_STRATEGY, FILTERED: Z.Z_FILTERED, HUFFMAN_ONLY: Z.Z_HUFFMAN_ONLY, RLE: Z.Z_RLE, FIXED: Z.Z_FIXED };

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' ? v : dflt;
}

function featureFlag(raw: unknown, issues: Issues): boolean {
  const o = asObj(raw);
  if (!o) return true;
  rejectUnknown(o, ['default_value', 'runtime_key'], issues);
  return o.default_value !== false;
}

function compressorLibrary(raw: unknown, issues: Issues): Library {
  const fallback: Library = { encoding: 'gzip', level: -1, memLevel: 5, windowBits: 12, strategy: 0, chunkSize: 4096 };
  const o = asObj(raw);
  if (!o) {
    issues.error('compressor_library is required');
    return fallback;
  }
  const tc = asObj(o.typed_config) ?? {};
  const ti = issues.at('typed_config');
  if (tc['@type'] === GZIP_C) {
    rejectUnknown(tc, ['memory_level', 'compression_level', 'compression_strategy', 'window_bits', 'chunk_size'], ti);
    const lv = typeof tc.compression_level === 'string' ? tc.compression_level : 'DEFAULT_COMPRESSION';
    const level = LEVELS[lv] ?? (/^COMPRESSION_LEVEL_(\d)$/.test(lv) ? Number(lv.slice(-1)) : NaN);
    if (Number.isNaN(level)) ti.error(`unknown compression_level ${lv}`, 'compression_level');
    const st = typeof tc.compression_strategy === 'string' ? tc.compression_strategy : 'DEFAULT_STRATEGY';
    if (STRATEGIES[st] === undefined) ti.error(`unknown compression_strategy ${st}`, 'compression_strategy');
    const windowBits = num(tc.window_bits, 12);
    if (windowBits < 9 || windowBits > 15) ti.error('window_bits must be 9..15', 'window_bits');
    const memLevel = num(tc.memory_level, 5);
    if (memLevel < 1 || memLevel > 9) ti.error('memory_level must be 1..9', 'memory_level');
    return { encoding: 'gzip', level: Number.isNaN(level) ? -1 : level, memLevel, windowBits, strategy: STRATEGIES[st] ?? 0, chunkSize: num(tc.chunk_size, 4096) };
  }
  if (tc['@type'] === BROTLI_C) {
    rejectUnknown(tc, ['quality', 'encoder_mode', 'window_bits', 'input_block_bits', 'chunk_size', 'disable_literal_context_modeling'], ti);
    const modes: Record<string, number> = { DEFAULT: Z.BROTLI_MODE_GENERIC, GENERIC: Z.BROTLI_MODE_GENERIC, TEXT: Z.BROTLI_MODE_TEXT, FONT: Z.BROTLI_MODE_FONT };
    const m = typeof tc.encoder_mode === 'string' ? tc.encoder_mode : 'DEFAULT';
    if (modes[m] === undefined) ti.error(`unknown encoder_mode ${m}`, 'encoder_mode');
    return {
      encoding: 'br', quality: num(tc.quality, 3), mode: modes[m] ?? 0, windowBits: num(tc.window_bits, 18),
      blockBits: num(tc.input_block_bits, 24), chunkSize: num(tc.chunk_size, 4096), disableLiteralContextModeling: tc.disable_literal_context_modeling === true,
    };
  }
  ti.error(`unsupported compressor library ${String(tc['@type'] ?? '(none)')} (gzip and brotli are supported)`);
  return fallback;
}

export function translateCompressor(raw: Readonly<Record<string, unknown>>, issues: Issues): CompressorConfig {
  rejectUnknown(raw, ['content_length', 'content_type', 'disable_on_etag_header', 'remove_accept_encoding_header',
    'runtime_enabled', 'compressor_library', 'request_direction_config', 'response_direction_config', 'choose_first'], issues);
  const req = asObj(raw.request_direction_config);
  if (req) {
    const c = asObj(req.common_config);
    const enabled = c ? featureFlag(c.enabled, issues.at('request_direction_config').at('common_config').at('enabled')) : true;
    if (enabled) issues.unsupported('request_direction_config', 'is not supported by meshlet (request compression)');
  }
  const resp = asObj(raw.response_direction_config);
  const ri = issues.at('response_direction_config');
  if (resp) rejectUnknown(resp, ['common_config', 'disable_on_etag_header', 'remove_accept_encoding_header'], ri);
  const common = asObj(resp?.common_config);
  if (common) rejectUnknown(common, ['enabled', 'min_content_length', 'content_type'], ri.at('common_config'));
  const types = (Array.isArray(common?.content_type) ? common.content_type : Array.isArray(raw.content_type) ? raw.content_type : DEFAULT_CONTENT_TYPES) as string[];
  return Object.freeze({
    library: compressorLibrary(raw.compressor_library, issues.at('compressor_library')),
    enabled: featureFlag(common?.enabled, ri.at('common_config').at('enabled')) && featureFlag(raw.runtime_enabled, issues.at('runtime_enabled')),
    minContentLength: num(common?.min_content_length, num(raw.content_length, 30)),
    contentTypes: new Set((types.length ? types : DEFAULT_CONTENT_TYPES).map((t) => t.toLowerCase())),
    disableOnEtag: resp?.disable_on_etag_header === true || raw.disable_on_etag_header === true,
    removeAcceptEncoding: resp?.remove_accept_encoding_header === true || raw.remove_accept_encoding_header === true,
  });
}

export function translateCompressorPerRoute(raw: Readonly<Record<string, unknown>>, issues: Issues): CompressorPerRoute {
  rejectUnknown(raw, ['disabled', 'overrides'], issues);
  const o = asObj(raw.overrides);
  const rd = asObj(o?.response_direction_config);
  if (o) rejectUnknown(o, ['response_direction_config'], issues.at('overrides'));
  if (rd) rejectUnknown(rd, ['remove_accept_encoding_header'], issues.at('overrides').at('response_direction_config'));
  const rae = rd?.remove_accept_encoding_header;
  return Object.freeze({ disabled: raw.disabled === true, removeAcceptEncoding: typeof rae === 'boolean' ? rae : undefined });
}

export interface DecompressorConfig {
  readonly encoding: 'gzip' | 'br';
  readonly windowBits: number;
  readonly chunkSize: number;
  /** Output/input byte ratio above which a body is rejected (decompression bomb guard). */
  readonly maxInflateRatio: number;
  readonly request: { readonly enabled: boolean; readonly ignoreNoTransform: boolean; readonly advertise: boolean };
  readonly response: { readonly enabled: boolean; readonly ignoreNoTransform: boolean };
}

export function translateDecompressor(raw: Readonly<Record<string, unknown>>, issues: Issues): DecompressorConfig {
  rejectUnknown(raw, ['decompressor_library', 'request_direction_config', 'response_direction_config'], issues);
  const lib = asObj(raw.decompressor_library);
  const tc = asObj(lib?.typed_config) ?? {};
  const li = issues.at('decompressor_library').at('typed_config');
  let encoding: 'gzip' | 'br' = 'gzip';
  if (!lib) issues.error('decompressor_library is required', 'decompressor_library');
  else if (tc['@type'] === GZIP_D) rejectUnknown(tc, ['window_bits', 'chunk_size', 'max_inflate_ratio'], li);
  else if (tc['@type'] === BROTLI_D) {
    rejectUnknown(tc, ['disable_ring_buffer_reallocation', 'chunk_size'], li);
    encoding = 'br';
  } else li.error(`unsupported decompressor library ${String(tc['@type'] ?? '(none)')} (gzip and brotli are supported)`);
  const dir = (key: string): { enabled: boolean; ignoreNoTransform: boolean; advertise: boolean } => {
    const d = asObj(raw[key]) ?? {};
    const di = issues.at(key);
    rejectUnknown(d, key === 'request_direction_config' ? ['common_config', 'advertise_accept_encoding'] : ['common_config'], di);
    const c = asObj(d.common_config) ?? {};
    rejectUnknown(c, ['enabled', 'ignore_no_transform_header'], di.at('common_config'));
    return { enabled: featureFlag(c.enabled, di.at('common_config').at('enabled')), ignoreNoTransform: c.ignore_no_transform_header === true, advertise: d.advertise_accept_encoding !== false };
  };
  const req = dir('request_direction_config');
  const resp = dir('response_direction_config');
  return Object.freeze({
    encoding,
    windowBits: num(tc.window_bits, 15),
    chunkSize: num(tc.chunk_size, 4096),
    maxInflateRatio: num(tc.max_inflate_ratio, 100),
    request: req,
    response: { enabled: resp.enabled, ignoreNoTransform: resp.ignoreNoTransform },
  });
}
