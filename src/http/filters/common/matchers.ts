// http/filters/common: compiles the Envoy matcher messages HTTP filters share (StringMatcher, HeaderMatcher,
// PathMatcher, CidrRange, FractionalPercent, HeaderValueOption) once at config time into small predicates.
import { isIP } from 'node:net';
import { compileRegex as compileRe2, type CompiledRegex } from '../../../common/regex.js';
import type { Issues } from '../../../common/validation.js';
import type { HeaderMap, RequestHead } from '../../../common/headers.js';
import { joinedHeader } from '../../../common/headers.js';

type Obj = Readonly<Record<string, unknown>>;
export type StringPredicate = (value: string) => boolean;
export type HeadPredicate = (head: RequestHead) => boolean;

export function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Obj) : undefined;
}

/** Reports every key of `raw` not in `known` as unsupported (a behaviour-changing field meshlet does not implement). */
export function rejectUnknown(raw: Obj, known: readonly string[], issues: Issues): void {
  for (const k of Object.keys(raw)) {
    if (k === '@type') continue;
    if (!known.includes(k)) issues.unsupported(k);
  }
}

/** Compiles a regex with RE2 (linear time) through the shared pool, for a full match as Envoy's safe_regex does. */
export function compileRegex(pattern: string, issues: Issues, ignoreCase = false): CompiledRegex | null {
  const r = compileRe2(ignoreCase ? `(?i:${pattern})` : pattern);
  if (!r.ok) {
    issues.error(`invalid RE2 regex ${JSON.stringify(pattern)}: ${r.error}`);
    return null;
  }
  return r.regex;
}

function regexMatcher(raw: unknown, issues: Issues, ignoreCase = false): StringPredicate {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['google_re2', 'regex'], issues);
  if (typeof o.regex !== 'string') {
    issues.error('regex is required', 'regex');
    return () => false;
  }
  const re = compileRegex(o.regex, issues.at('regex'), ignoreCase);
  return re ? (s) => re.fullMatch(s) : () => false;
}

/** envoy.type.matcher.v3.StringMatcher. */
export function compileStringMatcher(raw: unknown, issues: Issues): StringPredicate {
  const o = asObj(raw);
  if (!o) {
    issues.error('a StringMatcher is required');
    return () => false;
  }
  rejectUnknown(o, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'], issues);
  const ic = o.ignore_case === true;
  if (typeof o.exact === 'string') {
    const x = ic ? o.exact.toLowerCase() : o.exact;
    return ic ? (s) => s.toLowerCase() === x : (s) => s === x;
  }
  if (typeof o.prefix === 'string') {
    const x = ic ? o.prefix.toLowerCase() : o.prefix;
    return ic ? (s) => s.toLowerCase().startsWith(x) : (s) => s.startsWith(x);
  }
  if (typeof o.suffix === 'string') {
    const x = ic ? o.suffix.toLowerCase() : o.suffix;
    return ic ? (s) => s.toLowerCase().endsWith(x) : (s) => s.endsWith(x);
  }
  if (typeof o.contains === 'string') {
    const x = ic ? o.contains.toLowerCase() : o.contains;
    return ic ? (s) => s.toLowerCase().includes(x) : (s) => s.includes(x);
  }
  if (o.safe_regex !== undefined) return regexMatcher(o.safe_regex, issues.at('safe_regex'), ic);
  issues.error('one of exact, prefix, suffix, contains, safe_regex is required');
  return () => false;
}

/** envoy.config.route.v3.HeaderMatcher against request headers (and :method/:path/:authority/:scheme pseudo-headers). */
export function compileHeaderMatcher(raw: unknown, issues: Issues): (headers: HeaderMap, head?: RequestHead) => boolean {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['name', 'exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match',
    'suffix_match', 'contains_match', 'string_match', 'invert_match', 'treat_missing_header_as_empty'], issues);
  const name = typeof o.name === 'string' ? o.name.toLowerCase() : '';
  if (!name) issues.error('name is required', 'name');
  const invert = o.invert_match === true;
  const missingAsEmpty = o.treat_missing_header_as_empty === true;
  let test: (v: string | undefined) => boolean;
  if (typeof o.exact_match === 'string') { const x = o.exact_match; test = (v) => v === x; }
  else if (typeof o.prefix_match === 'string') { const x = o.prefix_match; test = (v) => v !== undefined && v.startsWith(x); }
  else if (typeof o.suffix_match === 'string') { const x = o.suffix_match; test = (v) => v !== undefined && v.endsWith(x); }
  else if (typeof o.contains_match === 'string') { const x = o.contains_match; test = (v) => v !== undefined && v.includes(x); }
  else if (o.safe_regex_match !== undefined) { const p = regexMatcher(o.safe_regex_match, issues.at('safe_regex_match')); test = (v) => v !== undefined && p(v); }
  else if (o.string_match !== undefined) { const p = compileStringMatcher(o.string_match, issues.at('string_match')); test = (v) => v !== undefined && p(v); }
  else if (o.range_match !== undefined) {
    const r = asObj(o.range_match) ?? {};
    const start = Number(r.start ?? 0);
    const end = Number(r.end ?? 0);
    test = (v) => { if (v === undefined || !/^-?\d+$/.test(v)) return false; const n = Number(v); return n >= start && n < end; };
  } else if (o.present_match !== undefined) { const want = o.present_match === true; test = (v) => (v !== undefined) === want; }
  else test = (v) => v !== undefined; // no specifier: presence
  const isPresence = o.present_match !== undefined;
  return (headers, head) => {
    let v: string | undefined;
    if (name.startsWith(':') && head) {
      v = name === ':method' ? head.method : name === ':path' ? head.path : name === ':authority' || name === 'host' ? head.authority : name === ':scheme' ? head.scheme : undefined;
    } else v = joinedHeader(headers, name);
    if (v === undefined && missingAsEmpty && !isPresence) v = '';
    if (v === undefined && !isPresence) return false; // absent headers never match (even inverted), as Envoy
    return test(v) !== invert;
  };
}

/** envoy.type.matcher.v3.PathMatcher: the path without query/fragment, matched with its StringMatcher. */
export function compilePathMatcher(raw: unknown, issues: Issues): (path: string) => boolean {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['path'], issues);
  const p = compileStringMatcher(o.path, issues.at('path'));
  return (path) => p(stripQuery(path));
}

export function stripQuery(path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q >= 0) end = q;
  const h = path.indexOf('#');
  if (h >= 0 && h < end) end = h;
  return end === path.length ? path : path.slice(0, end);
}

// ---- CIDR ------------------------------------------------------------------------------------------------

/** An address as a 128-bit number (IPv4 as IPv4-mapped IPv6) plus its family. */
function ipToBigInt(addr: string): { v: bigint; v4: boolean } | null {
  let a = addr;
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const fam = isIP(a);
  if (fam === 4) {
    const parts = a.split('.').map(Number);
    return { v: (BigInt(parts[0]) << 24n) | (BigInt(parts[1]) << 16n) | (BigInt(parts[2]) << 8n) | BigInt(parts[3]), v4: true };
  }
  if (fam !== 6) return null;
  // IPv4-mapped (::ffff:a.b.c.d) is treated as IPv4, as Envoy does for dual-stack sockets.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return ipToBigInt(mapped[1]);
  let head = a;
  let tail = '';
  const dbl = a.indexOf('::');
  if (dbl >= 0) { head = a.slice(0, dbl); tail = a.slice(dbl + 2); }
  const toGroups = (s: string): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const p = g.split('.').map(Number);
        out.push((p[0] << 8) | p[1], (p[2] << 8) | p[3]);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = toGroups(head);
  const t = toGroups(tail);
  const groups = dbl >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return { v, v4: false };
}

export interface CompiledCidr {
  readonly v4: boolean;
  readonly base: bigint;
  readonly mask: bigint;
}

/** envoy.config.core.v3.CidrRange → precompiled network/mask. */
export function compileCidr(raw: unknown, issues: Issues): CompiledCidr | null {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['address_prefix', 'prefix_len'], issues);
  const addr = typeof o.address_prefix === 'string' ? o.address_prefix : '';
  const ip = ipToBigInt(addr);
  if (!ip) {
    issues.error(`invalid IP address ${JSON.stringify(addr)}`, 'address_prefix');
    return null;
  }
  const bits = ip.v4 ? 32 : 128;
  const len = o.prefix_len === undefined ? bits : Number(o.prefix_len);
  if (!Number.isInteger(len) || len < 0 || len > bits) {
    issues.error(`prefix_len must be 0..${bits}`, 'prefix_len');
    return null;
  }
  const all = (1n << BigInt(bits)) - 1n;
  const mask = len === 0 ? 0n : (all >> BigInt(bits - len)) << BigInt(bits - len);
  return { v4: ip.v4, base: ip.v & mask, mask };
}

const ipCache = new Map<string, { v: bigint; v4: boolean } | null>();
export function cidrContains(c: CompiledCidr, addr: string): boolean {
  let ip = ipCache.get(addr);
  if (ip === undefined) {
    ip = ipToBigInt(addr);
    if (ipCache.size > 10_000) ipCache.clear();
    ipCache.set(addr, ip);
  }
  return ip !== null && ip.v4 === c.v4 && (ip.v & c.mask) === c.base;
}

// ---- fractions ---------------------------------------------------------------------------------------------

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** envoy.type.v3.FractionalPercent → probability in [0,1]. Missing message → `dflt`. */
export function compileFraction(raw: unknown, issues: Issues, dflt: number): number {
  if (raw === undefined) return dflt;
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['numerator', 'denominator'], issues);
  const denName = typeof o.denominator === 'string' ? o.denominator : 'HUNDRED';
  const den = DENOMINATORS[denName];
  if (!den) {
    issues.error(`unknown denominator ${denName}`, 'denominator');
    return dflt;
  }
  const num = Number(o.numerator ?? 0);
  return Math.min(num, den) / den;
}

/** envoy.config.core.v3.RuntimeFractionalPercent: meshlet has no runtime layer, so default_value is used. */
export function compileRuntimeFraction(raw: unknown, issues: Issues, dflt: number): number {
  if (raw === undefined) return dflt;
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['default_value', 'runtime_key'], issues);
  if (o.default_value === undefined) {
    issues.error('default_value is required', 'default_value');
    return dflt;
  }
  return compileFraction(o.default_value, issues.at('default_value'), dflt);
}

// ---- header value options ---------------------------------------------------------------------------------

export type AppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

export interface HeaderToAdd {
  readonly key: string;
  readonly value: string;
  readonly action: AppendAction;
  readonly keepEmptyValue: boolean;
}

/** envoy.config.core.v3.HeaderValueOption (literal values; formatters are handled by header_mutation). */
export function compileHeaderValueOption(raw: unknown, issues: Issues, defaultAction: AppendAction = 'APPEND_IF_EXISTS_OR_ADD'): HeaderToAdd | null {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['header', 'append', 'append_action', 'keep_empty_value'], issues);
  const h = asObj(o.header);
  if (!h) {
    issues.error('header is required', 'header');
    return null;
  }
  rejectUnknown(h, ['key', 'value', 'raw_value'], issues.at('header'));
  const key = typeof h.key === 'string' ? h.key.toLowerCase() : '';
  if (!key) issues.at('header').error('key is required', 'key');
  const value = typeof h.value === 'string' ? h.value : Buffer.isBuffer(h.raw_value) ? h.raw_value.toString('latin1') : '';
  let action: AppendAction = defaultAction;
  if (o.append !== undefined && o.append_action !== undefined) issues.error('append and append_action are mutually exclusive', 'append');
  if (o.append !== undefined) action = o.append === true ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD';
  if (typeof o.append_action === 'string') action = o.append_action as AppendAction;
  return { key, value, action, keepEmptyValue: o.keep_empty_value === true };
}

/** Applies one header option to a header map, with Envoy's append_action semantics. */
export function applyHeaderToAdd(headers: HeaderMap, h: HeaderToAdd, value: string = h.value): void {
  if (value === '' && !h.keepEmptyValue) return;
  const cur = headers[h.key];
  switch (h.action) {
    case 'APPEND_IF_EXISTS_OR_ADD':
      if (cur === undefined) headers[h.key] = value;
      else headers[h.key] = typeof cur === 'string' ? [cur, value] : [...cur, value];
      return;
    case 'ADD_IF_ABSENT':
      if (cur === undefined) headers[h.key] = value;
      return;
    case 'OVERWRITE_IF_EXISTS_OR_ADD':
      headers[h.key] = value;
      return;
    case 'OVERWRITE_IF_EXISTS':
      if (cur !== undefined) headers[h.key] = value;
  }
}
