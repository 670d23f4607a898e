// router/: compiled forms of the config/matchers.ts types (StringMatcher, HeaderMatcher, QueryParameterMatcher).
// Built once per route table; per request they only compare strings (names pre-lower-cased, RE2 compiled once,
// int64 ranges as BigInt).
import type { HeaderMap, RequestHead } from '../common/headers.js';
import { joinedHeader } from '../common/headers.js';
import { compileRegex, type CompiledRegex } from '../common/regex.js';
import type { HeaderMatcherConfig, QueryParameterMatcherConfig, StringMatcherConfig } from '../config/matchers.js';

export class StringMatcher {
  private readonly kind: StringMatcherConfig['kind'];
  private readonly value: string;
  private readonly ignoreCase: boolean;
  private readonly regex: CompiledRegex | null;

  constructor(readonly config: StringMatcherConfig) {
    this.kind = config.kind;
    if (config.kind === 'safe_regex') {
      const r = compileRegex(config.regex);
      if (!r.ok) throw new Error(r.error); // translation already validated every regex
      this.regex = r.regex;
      this.value = config.regex;
      this.ignoreCase = false;
    } else {
      this.regex = null;
      this.ignoreCase = config.ignoreCase;
      this.value = config.ignoreCase ? config.value.toLowerCase() : config.value;
    }
  }

  match(input: string): boolean {
    if (this.regex !== null) return this.regex.fullMatch(input);
    const v = this.ignoreCase ? input.toLowerCase() : input;
    switch (this.kind) {
      case 'exact': return v === this.value;
      case 'prefix': return v.startsWith(this.value);
      case 'suffix': return v.endsWith(this.value);
      default: return v.includes(this.value);
    }
  }

  describe(): string {
    return `${this.kind} ${JSON.stringify(this.value)}${this.ignoreCase ? ' (ignore case)' : ''}`;
  }
}

/** A request header as matchers see it: pseudo-headers from the head, repeated values joined with ','. */
export function requestHeaderForMatch(head: RequestHead, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* ':' */) {
    switch (name) {
      case ':path': return head.path;
      case ':authority': return head.authority;
      case ':method': return head.method;
      case ':scheme': return head.scheme;
      default: return joinedHeader(head.headers, name);
    }
  }
  return joinedHeader(head.headers, name);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT_RE = /^[+-]?\d+$/;

export class HeaderMatcher {
  readonly name: string;
  private readonly invert: boolean;
  private readonly treatMissingAsEmpty: boolean;
  /** 0 present/absent, 1 string, 2 range */
  private readonly mode: 0 | 1 | 2;
  private readonly wantPresent: boolean;
  private readonly string: StringMatcher | null;
  private readonly start: bigint;
  private readonly end: bigint;

  constructor(readonly config: HeaderMatcherConfig) {
    this.name = config.name;
    this.invert = config.invert;
    this.treatMissingAsEmpty = config.treatMissingAsEmpty;
    const s = config.spec;
    this.wantPresent = s.kind === 'present' ? s.present : true;
    this.string = s.kind === 'string' ? new StringMatcher(s.matcher) : null;
    this.mode = s.kind === 'present' ? 0 : s.kind === 'string' ? 1 : 2;
    this.start = s.kind === 'range' ? BigInt(s.start) : 0n;
    this.end = s.kind === 'range' ? BigInt(s.end) : 0n;
  }

  /** Envoy HeaderUtility::matchHeaders for one matcher, given the (joined) value or undefined when absent. */
  matchValue(value: string | undefined): boolean {
    if (this.mode === 0) return (value !== undefined) === this.wantPresent ? !this.invert : this.invert;
    if (value === undefined) {
      if (!this.treatMissingAsEmpty) return false; // a missing header never matches a value matcher, even inverted
      value = '';
    }
    let r: boolean;
    if (this.mode === 1) r = this.string!.match(value);
    else {
      r = false;
      if (INT_RE.test(value)) {
        const v = BigInt(value);
        r = v >= INT64_MIN && v <= INT64_MAX && v >= this.start && v < this.end;
      }
    }
    return r !== this.invert;
  }

  matchRequest(head: RequestHead): boolean {
    return this.matchValue(requestHeaderForMatch(head, this.name));
  }

  matchHeaders(headers: HeaderMap): boolean {
    return this.matchValue(joinedHeader(headers, this.name));
  }

  describe(): string {
    const s = this.config.spec;
    const inv = this.invert ? 'not ' : '';
    if (s.kind === 'present') return `header ${this.name} ${inv}${s.present ? 'present' : 'absent'}`;
    if (s.kind === 'range') return `header ${this.name} ${inv}in [${s.start}, ${s.end})`;
    return `header ${this.name} ${inv}${this.string!.describe()}`;
  }
}

/** Query parameters of a raw :path: first occurrence wins, no percent-decoding, `a` alone is `a=""` (bullets 35-36). */
export function parseQueryFirst(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  let end = path.indexOf('#', q);
  if (end < 0) end = path.length;
  let i = q + 1;
  while (i <= end) {
    let amp = path.indexOf('&', i);
    if (amp < 0 || amp > end) amp = end;
    if (amp > i) {
      const piece = path.slice(i, amp);
      const eq = piece.indexOf('=');
      const k = eq < 0 ? piece : piece.slice(0, eq);
      if (!out.has(k)) out.set(k, eq < 0 ? '' : piece.slice(eq + 1));
    }
    i = amp + 1;
  }
  return out;
}

export class QueryParameterMatcher {
  readonly name: string;
  private readonly wantPresent: boolean;
  private readonly string: StringMatcher | null;

  constructor(readonly config: QueryParameterMatcherConfig) {
    this.name = config.name;
    const s = config.spec;
    this.wantPresent = s.kind === 'present' ? s.present : true;
    this.string = s.kind === 'string' ? new StringMatcher(s.matcher) : null;
  }

  match(params: ReadonlyMap<string, string>): boolean {
    const v = params.get(this.name);
    if (this.string === null) return (v !== undefined) === this.wantPresent;
    return v !== undefined && this.string.match(v);
  }

  describe(): string {
    return `query ${this.name} ${this.string ? this.string.describe() : this.wantPresent ? 'present' : 'absent'}`;
  }
}
