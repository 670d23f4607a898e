// common/: Envoy's substitution formatter (%REQ(x)%, %DOWNSTREAM_REMOTE_ADDRESS%, ...). Header mutations (router/) and,
// later, the access log parse a format string ONCE into parts and render it per request from a FormatInput.
import { hostname } from 'node:os';
import type { HeaderMap, RequestHead } from './headers.js';
import { joinedHeader } from './headers.js';

/** What a formatter may read for one request (router/types.ts FormatContext is this type). */
export interface FormatInput {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** 'HTTP/1.1' | 'HTTP/2' | ... */
  readonly protocol: string;
  readonly startTimeMs: number;
  /** The request as formatters should see it (%REQ(:path)% etc.); takes precedence over requestHeaders. */
  readonly requestHead?: RequestHead;
  readonly requestHeaders?: HeaderMap;
  readonly responseHeaders?: HeaderMap;
  readonly upstreamHost?: string;
  readonly upstreamCluster?: string;
  readonly responseCode?: number;
  readonly requestedServerName?: string;
  readonly routeName?: string;
}

/** Per-render overrides: header mutations render against the headers as they stand at that step. */
export interface FormatState {
  readonly request?: RequestHead;
  readonly response?: HeaderMap;
}

/** One compiled operator. Returns undefined for "no value" (Envoy prints '-' in access logs, '' in headers). */
export interface FormatOperator {
  render(input: FormatInput, state: FormatState | undefined): string | undefined;
}

/** Builds an operator from its argument (the text inside parentheses, or undefined) and `:N` max length. */
export type OperatorFactory = (arg: string | undefined, maxLength: number | undefined) => FormatOperator | string;

export type FormatPart = string | FormatOperator;

export class SubstitutionFormat {
  constructor(readonly source: string, private readonly parts: readonly FormatPart[], readonly constant: boolean) {}

  /** Whether rendering reads request/response headers (%REQ / %RESP): its value depends on the header state. */
  get readsHeaders(): boolean {
    return this.parts.some((p) => p instanceof HeaderOperator);
  }

  /** Renders the format; `missing` replaces operators without a value ('' for headers, '-' for access logs). */
  render(input: FormatInput, state?: FormatState, missing = ''): string {
    const parts = this.parts;
    if (this.constant) return parts.length === 0 ? '' : (parts[0] as string);
    let s = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (typeof p === 'string') s += p;
      else s += p.render(input, state) ?? missing;
    }
    return s;
  }
}

export type FormatParseResult = { readonly ok: true; readonly format: SubstitutionFormat } | { readonly ok: false; readonly error: string };

function truncate(v: string | undefined, max: number | undefined): string | undefined {
  return v !== undefined && max !== undefined && v.length > max ? v.slice(0, max) : v;
}

function requestHeaderValue(name: string, input: FormatInput, state: FormatState | undefined): string | undefined {
  const head = state?.request ?? input.requestHead;
  if (name.startsWith(':')) {
    if (!head) return undefined;
    switch (name) {
      case ':path': return head.path;
      case ':method': return head.method;
      case ':authority': return head.authority;
      case ':scheme': return head.scheme;
      default: return undefined;
    }
  }
  if (name === 'host') return head?.authority;
  const headers = head?.headers ?? input.requestHeaders;
  return headers ? joinedHeader(headers, name) : undefined;
}

class HeaderOperator implements FormatOperator {
  constructor(private readonly response: boolean, private readonly main: string, private readonly alt: string | undefined, private readonly max: number | undefined) {}
  render(input: FormatInput, state: FormatState | undefined): string | undefined {
    let v: string | undefined;
    if (this.response) {
      const h = state?.response ?? input.responseHeaders;
      v = h ? joinedHeader(h, this.main) : undefined;
      if (v === undefined && this.alt !== undefined && h) v = joinedHeader(h, this.alt);
    } else {
      v = requestHeaderValue(this.main, input, state);
      if (v === undefined && this.alt !== undefined) v = requestHeaderValue(this.alt, input, state);
    }
    return truncate(v, this.max);
  }
}

class FnOperator implements FormatOperator {
  constructor(private readonly fn: (input: FormatInput) => string | undefined, private readonly max: number | undefined) {}
  render(input: FormatInput): string | undefined {
    return truncate(this.fn(input), this.max);
  }
}

function withPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

type SecondToken = (d: Date, sec: number) => string;

const SECOND_TOKENS: Readonly<Record<string, SecondToken>> = {
  Y: (d) => String(d.getUTCFullYear()),
  m: (d) => pad(d.getUTCMonth() + 1),
  d: (d) => pad(d.getUTCDate()),
  H: (d) => pad(d.getUTCHours()),
  M: (d) => pad(d.getUTCMinutes()),
  S: (d) => pad(d.getUTCSeconds()),
  s: (_d, sec) => String(sec),
};

/** The ISO-8601 default (what Envoy prints without a format): `%Y-%m-%dT%H:%M:%E3SZ`. */
const DEFAULT_START_TIME_FORMAT = '%Y-%m-%dT%H:%M:%E3SZ';

/** Nine fractional-second digits of epoch ms (sub-ms digits from a fractional ms value). */
function fraction9(ms: number): string {
  const whole = Math.floor(ms);
  const subMs = Math.min(999_999, Math.round((ms - whole) * 1e6));
  return String((((whole % 1000) + 1000) % 1000) * 1_000_000 + subMs).padStart(9, '0');
}

/**
 * Compiles a strftime subset (%Y %m %d %H %M %S %s %z %% %E<n>S, and fractional seconds %f = 9 digits, %<n>f = n
 * digits, as Envoy), UTC, into a formatter. Everything but the fractional digits is rendered once per second and
 * reused; the last result is reused within the same millisecond — no Date object per call.
 */
export function compileStartTimeFormat(fmt: string | undefined): (ms: number) => string {
  const f = fmt || DEFAULT_START_TIME_FORMAT;
  // pieces[k] (static per second) are interleaved with fractions[k] (digit counts): p0 f0 p1 f1 … pn.
  const parts: (string | SecondToken)[][] = [[]];
  const fractions: number[] = [];
  const lit = (x: string): void => { parts[parts.length - 1].push(x); };
  const frac = (digits: number): void => { fractions.push(digits); parts.push([]); };
  for (let i = 0; i < f.length; i++) {
    const c = f[i];
    if (c !== '%') { lit(c); continue; }
    const n = f[++i];
    if (n === undefined) { lit('%'); break; }
    const tok = SECOND_TOKENS[n];
    if (tok) { parts[parts.length - 1].push(tok); continue; }
    if (n === 'z') { lit('+0000'); continue; }
    if (n === '%') { lit('%'); continue; }
    if (n === 'f') { frac(9); continue; }
    if (n >= '1' && n <= '9' && f[i + 1] === 'f') { frac(Number(n)); i++; continue; }
    if (n === 'E' && f[i + 1] >= '0' && f[i + 1] <= '9' && f[i + 2] === 'S') {
      const digits = Number(f[i + 1]);
      parts[parts.length - 1].push(SECOND_TOKENS.S);
      if (digits > 0) { lit('.'); frac(digits); }
      i += 2;
      continue;
    }
    lit('%' + n);
  }
  let lastSec = NaN;
  let pieces: string[] = [];
  let lastMs = NaN;
  let lastOut = '';
  return (ms: number): string => {
    if (ms === lastMs) return lastOut;
    const sec = Math.floor(ms / 1000);
    if (sec !== lastSec) {
      const d = new Date(sec * 1000);
      pieces = parts.map((ps) => ps.map((p) => (typeof p === 'string' ? p : p(d, sec))).join(''));
      lastSec = sec;
    }
    let out = pieces[0];
    if (fractions.length) {
      const f9 = fraction9(ms);
      for (let k = 0; k < fractions.length; k++) out += f9.slice(0, fractions[k]) + pieces[k + 1];
    }
    lastMs = ms;
    lastOut = out;
    return out;
  };
}

/** Formats epoch ms with the START_TIME strftime subset (see compileStartTimeFormat), UTC. Default: ISO-8601 with ms. */
export function formatStartTime(ms: number, fmt: string | undefined): string {
  return compileStartTimeFormat(fmt)(ms);
}

const simple = (fn: (i: FormatInput) => string | undefined): OperatorFactory => (_arg, max) => new FnOperator(fn, max);

/** The built-in operators. Callers (the access log) extend them by passing extra factories to parseSubstitutionFormat. */
export const BUILTIN_OPERATORS: ReadonlyMap<string, OperatorFactory> = new Map<string, OperatorFactory>([
  ['REQ', (arg, max) => headerFactory(false, arg, max)],
  ['RESP', (arg, max) => headerFactory(true, arg, max)],
  ['DOWNSTREAM_REMOTE_ADDRESS', simple((i) => withPort(i.remoteAddress, i.remotePort))],
  ['DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', simple((i) => i.remoteAddress)],
  ['DOWNSTREAM_REMOTE_PORT', simple((i) => String(i.remotePort))],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS', simple((i) => withPort(i.remoteAddress, i.remotePort))],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT', simple((i) => i.remoteAddress)],
  ['DOWNSTREAM_LOCAL_ADDRESS', simple((i) => withPort(i.localAddress, i.localPort))],
  ['DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', simple((i) => i.localAddress)],
  ['DOWNSTREAM_LOCAL_PORT', simple((i) => String(i.localPort))],
  ['UPSTREAM_HOST', simple((i) => i.upstreamHost)],
  ['UPSTREAM_CLUSTER', simple((i) => i.upstreamCluster)],
  ['PROTOCOL', simple((i) => i.protocol)],
  ['RESPONSE_CODE', simple((i) => (i.responseCode === undefined ? undefined : String(i.responseCode)))],
  ['REQUESTED_SERVER_NAME', simple((i) => i.requestedServerName)],
  ['ROUTE_NAME', simple((i) => i.routeName)],
  ['HOSTNAME', () => {
    const h = hostname();
    return new FnOperator(() => h, undefined);
  }],
  ['START_TIME', (arg, max) => {
    const format = compileStartTimeFormat(arg);
    return new FnOperator((i) => format(i.startTimeMs), max);
  }],
]);

function headerFactory(response: boolean, arg: string | undefined, max: number | undefined): FormatOperator | string {
  if (!arg) return `${response ? 'RESP' : 'REQ'} requires a header name, e.g. %${response ? 'RESP' : 'REQ'}(x-foo)%`;
  const [main, alt, extra] = arg.split('?');
  if (extra !== undefined) return `more than one alternative header in ${JSON.stringify(arg)}`;
  if (!main || alt === '') return `invalid header name in ${JSON.stringify(arg)}`;
  return new HeaderOperator(response, main.toLowerCase(), alt?.toLowerCase(), max);
}

/**
 * Parses an Envoy format string once. `%%` is a literal '%'; `%OP%`, `%OP(arg)%`, `%OP(arg):N%`. Unknown operators
 * and unterminated commands are errors (Envoy rejects them at config load).
 */
export function parseSubstitutionFormat(text: string, extra?: ReadonlyMap<string, OperatorFactory>): FormatParseResult {
  const parts: FormatPart[] = [];
  let lit = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    if (text[i + 1] === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    const m = /^%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::(\d+))?%/.exec(text.slice(i));
    if (!m) return { ok: false, error: `invalid format string ${JSON.stringify(text)}: cannot parse the command at position ${i}` };
    const name = m[1];
    const factory = extra?.get(name) ?? BUILTIN_OPERATORS.get(name);
    if (!factory) return { ok: false, error: `invalid format string ${JSON.stringify(text)}: unknown command %${name}%` };
    const op = factory(m[2], m[3] === undefined ? undefined : Number(m[3]));
    if (typeof op === 'string') return { ok: false, error: `invalid format string ${JSON.stringify(text)}: ${op}` };
    if (lit) parts.push(lit);
    lit = '';
    parts.push(op);
    i += m[0].length;
  }
  if (lit) parts.push(lit);
  const constant = parts.every((p) => typeof p === 'string');
  return { ok: true, format: new SubstitutionFormat(text, constant ? [parts.join('')].filter(Boolean) : parts, constant) };
}
