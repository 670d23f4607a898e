// router/: the consistent-hash key handed to the load balancer (ring hash / maglev), computed from the route's
// hash policies exactly as Envoy's HashPolicyImpl does: xxHash64 (seed 0) per policy, combined by rotate-left-1 XOR,
// stopping at the first terminal policy that produced a hash. xxhash-wasm needs one async init: call initHashing().
import xxhash from 'xxhash-wasm';
import type { RequestHead } from '../common/headers.js';

import { parseQueryFirst } from './matchers.js';
import type { HashPolicy } from './types.js';

type H64 = (input: string, seed?: bigint) => bigint;
let h64: H64 | null = null;
let initPromise: Promise<void> | null = null;

/** Loads the xxHash wasm module; call once at startup before any hash is computed. Idempotent. */
export function initHashing(): Promise<void> {
  initPromise ??= xxhash().then((api) => {
    h64 = api.h64;
  });
  return initPromise;
}

const MASK64 = (1n << 64n) - 1n;

/** xxHash64 of a string (UTF-8), seed 0 by default. Throws if initHashing() has not completed. */
export function xxHash64(input: string, seed = 0n): bigint {
  if (h64 === null) throw new Error('meshlet: initHashing() must complete before hashing');
  return h64(input, seed);
}

/** Envoy HashUtil::xxHash64 over several values: each value seeds the next. */
export function xxHash64Values(values: readonly string[]): bigint {
  let h = 0n;
  for (const v of values) h = xxHash64(v, h);
  return h;
}

export interface HashInput {
  readonly head: RequestHead;
  /** Downstream client IP (no port). */
  readonly clientAddress: string;
}

export interface HashResult {
  readonly hash: bigint | undefined;
  /** A Set-Cookie value to add to the response when a cookie policy with a ttl generated the cookie. */
  readonly setCookie?: string;
}

function cookieValue(head: RequestHead, name: string): string | undefined {
  const raw = head.headers.cookie;
  if (raw === undefined) return undefined;
  const all = typeof raw === 'string' ? [raw] : raw;
  for (const line of all) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === name) {
        let v = part.slice(eq + 1).trim();
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        return v;
      }
    }
  }
  return undefined;
}

function headerValues(head: RequestHead, name: string): string[] | undefined {
  switch (name) {
    case ':authority':
    case 'host': return head.authority ? [head.authority] : undefined;
    case ':path': return [head.path];
    case ':method': return [head.method];
    case ':scheme': return [head.scheme];
  }
  const v = head.headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? [v] : [...v].sort();
}

/**
 * Evaluates the hash policies in order (Envoy HashPolicyImpl::generateHash). Returns the combined hash (undefined
 * when no policy produced one) and, for a cookie policy with ttl whose cookie was absent, the cookie to set.
 */
export function computeHash(policies: readonly HashPolicy[], input: HashInput): HashResult {
  let hash: bigint | undefined;
  let setCookie: string | undefined;
  for (const p of policies) {
    let h: bigint | undefined;
    switch (p.kind) {
      case 'header': {
        const vs = headerValues(input.head, p.headerName);
        if (vs !== undefined) h = xxHash64Values(vs);
        break;
      }
      case 'cookie': {
        const v = cookieValue(input.head, p.name);
        if (v !== undefined) h = xxHash64(v);
        else if (p.ttlMs !== undefined) {
          // Envoy generates the cookie from the downstream address; the hash is that of the generated value.
          const value = xxHash64(input.clientAddress).toString(16).padStart(16, '0');
          h = xxHash64(value);
          const maxAge = Math.floor(p.ttlMs / 1000);
          setCookie = `${p.name}="${value}"${maxAge > 0 ? `; Max-Age=${maxAge}` : ''}${p.path ? `; Path=${p.path}` : ''}; HttpOnly`;
        }
        break;
      }
      case 'source_ip':
        if (input.clientAddress) h = xxHash64(input.clientAddress);
        break;
      case 'query_parameter': {
        const v = parseQueryFirst(input.head.path).get(p.name);
        if (v !== undefined) h = xxHash64(v);
        break;
      }
      case 'filter_state':
        break; // meshlet has no filter state objects that hash
    }
    if (h !== undefined) hash = hash === undefined ? h : (((hash << 1n) | (hash >> 63n)) & MASK64) ^ h;
    if (p.terminal && hash !== undefined) break;
  }
  return setCookie !== undefined ? { hash, setCookie } : { hash };
}

/** The HTTP connection manager's hash hook: just the key. */
export function hashKeyFromPolicies(policies: readonly HashPolicy[], head: RequestHead, clientAddress: string): bigint | undefined {
  if (policies.length === 0) return undefined;
  return computeHash(policies, { head, clientAddress }).hash;
}

