// common/: the header representation shared by the HTTP data path, the router and route-check.
// Names are lower-case; a header that appears several times is an array (matchers see the values joined with ',').
// Pseudo-headers (:method, :path, :authority, :scheme) live in RequestHead fields, never in `headers`.

export type HeaderValue = string | string[];
export type HeaderMap = Record<string, HeaderValue | undefined>;

export interface RequestHead {
  method: string;
  /** 'http' | 'https' — the request's x-forwarded-proto / :scheme as the HCM decided it. */
  scheme: string;
  /** Host / :authority, as received (case preserved; matchers lower-case it). */
  authority: string;
  /** :path including ?query (and #fragment if a client sent one). */
  path: string;
  headers: HeaderMap;
}

/** The header's values joined with ',' (Envoy's rule for matching a repeated header); undefined when absent. */
export function joinedHeader(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

/** First value of a header, or undefined. */
export function firstHeader(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v[0];
}

export function appendHeader(headers: HeaderMap, name: string, value: string): void {
  const cur = headers[name];
  if (cur === undefined) headers[name] = value;
  else if (typeof cur === 'string') headers[name] = [cur, value];
  else cur.push(value);
}
