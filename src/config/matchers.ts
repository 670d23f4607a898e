// config/: internal, readonly forms of Envoy's matcher messages (type.matcher.v3.StringMatcher, route.v3.HeaderMatcher,
// QueryParameterMatcher, FractionalPercent). Shared by routes, virtual clusters, retries and (later) RBAC. Plain data.

/** type.matcher.v3.StringMatcher. `safe_regex` holds the RE2 pattern (full match); `ignoreCase` never applies to it. */
export type StringMatcherConfig =
  | { readonly kind: 'exact' | 'prefix' | 'suffix' | 'contains'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'safe_regex'; readonly regex: string };

/** What a HeaderMatcher tests. `present` covers a bare name, present_match and the deprecated `exact_match: ""`. */
export type HeaderMatchSpec =
  | { readonly kind: 'present'; readonly present: boolean }
  | { readonly kind: 'string'; readonly matcher: StringMatcherConfig; /** which proto field it came from, e.g. 'string_match.exact' */ readonly field: string }
  /** int64 bounds as decimal strings (compiled to BigInt): start <= v < end. */
  | { readonly kind: 'range'; readonly start: string; readonly end: string };

export interface HeaderMatcherConfig {
  /** Lower-cased header name; pseudo-headers (':path', ':authority', ':method', ':scheme') allowed. */
  readonly name: string;
  readonly spec: HeaderMatchSpec;
  readonly invert: boolean;
  readonly treatMissingAsEmpty: boolean;
}

export interface QueryParameterMatcherConfig {
  readonly name: string;
  readonly spec: { readonly kind: 'present'; readonly present: boolean } | { readonly kind: 'string'; readonly matcher: StringMatcherConfig };
}

/** type.v3.FractionalPercent as numerator over 100 / 10000 / 1000000. */
export interface FractionConfig {
  readonly numerator: number;
  readonly denominator: number;
}

/** core.v3.RuntimeFractionalPercent. */
export interface RuntimeFractionConfig {
  readonly runtimeKey: string;
  readonly defaultValue: FractionConfig;
}
