// observability/access-log: compiles an access log's format (Envoy's default, text, json_format, typed_json_format)
// once at config time into a function that renders one AccessLogRecord to one line.
import { parseSubstitutionFormat, type FormatInput, type FormatOperator, type OperatorFactory, type SubstitutionFormat } from '../../common/substitution-format.js';
import type { Issues } from '../../common/validation.js';
import type { AccessLogRecord } from './access-log-record.js';

/** Envoy's default access log format (used when no format is configured). */
export const ENVOY_DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

export type RenderLine = (r: AccessLogRecord) => string;

class RecordOperator implements FormatOperator {
  constructor(private readonly fn: (r: AccessLogRecord) => string | undefined, private readonly max: number | undefined) {}
  render(input: FormatInput): string | undefined {
    const v = this.fn(input as AccessLogRecord);
    return v !== undefined && this.max !== undefined && v.length > this.max ? v.slice(0, this.max) : v;
  }
}

const num = (n: number | undefined): string | undefined => (n === undefined ? undefined : String(Math.round(n)));
const op = (fn: (r: AccessLogRecord) => string | undefined): OperatorFactory => (_arg, max) => new RecordOperator(fn, max);

/** Operators whose value is a number (typed JSON renders them unquoted). */
const NUMERIC = new Set(['RESPONSE_CODE', 'BYTES_RECEIVED', 'BYTES_SENT', 'DURATION', 'REQUEST_DURATION', 'RESPONSE_DURATION', 'UPSTREAM_REQUEST_ATTEMPT_COUNT', 'DOWNSTREAM_LOCAL_PORT', 'DOWNSTREAM_REMOTE_PORT']);

/** Command operators the access log adds to (or overrides in) the common formatter. */
export const ACCESS_LOG_OPERATORS: ReadonlyMap<string, OperatorFactory> = new Map<string, OperatorFactory>([
  ['RESPONSE_CODE', op((r) => String(r.responseCode ?? 0))],
  ['RESPONSE_FLAGS', op((r) => (r.responseFlags.length ? r.responseFlags.join(',') : undefined))],
  ['RESPONSE_CODE_DETAILS', op((r) => r.responseCodeDetails)],
  ['CONNECTION_TERMINATION_DETAILS', op((r) => r.connectionTerminationDetails)],
  ['BYTES_RECEIVED', op((r) => String(r.bytesReceived ?? 0))],
  ['BYTES_SENT', op((r) => String(r.bytesSent ?? 0))],
  ['DURATION', op((r) => num(r.durationMs))],
  ['REQUEST_DURATION', op((r) => num(r.requestDurationMs))],
  ['RESPONSE_DURATION', op((r) => num(r.responseDurationMs))],
  ['UPSTREAM_CLUSTER_RAW', op((r) => r.upstreamCluster)],
  ['UPSTREAM_LOCAL_ADDRESS', op((r) => r.upstreamLocalAddress)],
  ['UPSTREAM_TRANSPORT_FAILURE_REASON', op((r) => r.upstreamTransportFailureReason)],
  ['UPSTREAM_REQUEST_ATTEMPT_COUNT', op((r) => (r.kind === 'http' ? String(r.attemptCount ?? (r.upstreamHost ? 1 : 0)) : num(r.attemptCount)))],
  ['PROTOCOL', op((r) => (r.protocol ? r.protocol : undefined))],
  ['TRACE_ID', op((r) => r.traceId)],
]);

function parse(text: string, issues: Issues, field: string): SubstitutionFormat | null {
  const r = parseSubstitutionFormat(text, ACCESS_LOG_OPERATORS);
  if (!r.ok) {
    issues.error(r.error, field);
    return null;
  }
  return r.format;
}

/** A text format: unset values print '-' (or '' with omit_empty_values). */
export function compileTextFormat(text: string, omitEmpty: boolean, issues: Issues, field: string): RenderLine | null {
  const f = parse(text, issues, field);
  if (!f) return null;
  const missing = omitEmpty ? '' : '-';
  return (r) => f.render(r, undefined, missing);
}

type JsonNode =
  | { readonly kind: 'const'; readonly value: unknown }
  | { readonly kind: 'format'; readonly format: SubstitutionFormat; readonly numeric: boolean }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonNode])[] };

function compileJsonNode(v: unknown, typed: boolean, issues: Issues, field: string): JsonNode | null {
  if (typeof v === 'string') {
    const f = parse(v, issues, field);
    if (!f) return null;
    const single = /^%([A-Z_]+)(?:\([^)]*\))?(?::\d+)?%$/.exec(v);
    return { kind: 'format', format: f, numeric: typed && single !== null && NUMERIC.has(single[1]) };
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) {
    const entries: [string, JsonNode][] = [];
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      const n = compileJsonNode(child, typed, issues, `${field}.${k}`);
      if (n) entries.push([k, n]);
    }
    return { kind: 'object', entries };
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return { kind: 'const', value: v };
  issues.error('list values are not supported in a JSON access log format', field);
  return null;
}

const OMIT = Symbol('omit');

function renderJsonNode(n: JsonNode, r: AccessLogRecord, typed: boolean, omitEmpty: boolean): unknown {
  switch (n.kind) {
    case 'const':
      return n.value;
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, child] of n.entries) {
        const v = renderJsonNode(child, r, typed, omitEmpty);
        if (v !== OMIT) o[k] = v;
      }
      return o;
    }
    default: {
      const s = n.format.render(r, undefined, '\u0000');
      if (s === '\u0000') {
        if (omitEmpty) return OMIT;
        return typed ? null : '-';
      }
      const text = s.includes('\u0000') ? s.replaceAll('\u0000', '-') : s;
      if (n.numeric) {
        const x = Number(text);
        return Number.isFinite(x) ? x : text;
      }
      return text;
    }
  }
}

/** json_format (every value a string, unset "-") or typed_json_format (numbers stay numbers, unset null); one line each. */
export function compileJsonFormat(struct: unknown, typed: boolean, omitEmpty: boolean, issues: Issues, field: string): RenderLine | null {
  if (struct === null || typeof struct !== 'object' || Array.isArray(struct)) {
    issues.error('must be an object', field);
    return null;
  }
  const before = issues.allErrors().length;
  const node = compileJsonNode(struct, typed, issues, field);
  if (!node || issues.allErrors().length > before) return null;
  return (r) => JSON.stringify(renderJsonNode(node, r, typed, omitEmpty)) + '\n';
}

/**
 * Translates a SubstitutionFormatString (log_format) — text_format, text_format_source.inline_string, json_format,
 * omit_empty_values, content_type; anything else that changes output is an error naming it.
 */
export function compileLogFormat(lf: Readonly<Record<string, unknown>> | undefined, issues: Issues, field: string): RenderLine | null {
  if (!lf) return compileTextFormat(ENVOY_DEFAULT_FORMAT, false, issues, field);
  const omitEmpty = lf.omit_empty_values === true;
  for (const k of Object.keys(lf)) {
    if (!['text_format', 'text_format_source', 'json_format', 'omit_empty_values', 'content_type'].includes(k)) issues.error(`${k} is not supported`, `${field}.${k}`);
  }
  if (lf.json_format !== undefined) return compileJsonFormat(lf.json_format, false, omitEmpty, issues, `${field}.json_format`);
  if (typeof lf.text_format === 'string') return compileTextFormat(lf.text_format, omitEmpty, issues, `${field}.text_format`);
  const src = lf.text_format_source as Readonly<Record<string, unknown>> | undefined;
  if (src) {
    if (typeof src.inline_string === 'string') return compileTextFormat(src.inline_string, omitEmpty, issues, `${field}.text_format_source.inline_string`);
    if (Buffer.isBuffer(src.inline_bytes)) return compileTextFormat(src.inline_bytes.toString('utf8'), omitEmpty, issues, `${field}.text_format_source.inline_bytes`);
    issues.error('only inline_string / inline_bytes are supported', `${field}.text_format_source`);
    return null;
  }
  return compileTextFormat(ENVOY_DEFAULT_FORMAT, omitEmpty, issues, field);
}
