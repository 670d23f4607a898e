// listener/: the compiled filter-chain selector. Built once per listener update from each chain's
// FilterChainMatch; per connection it walks Envoy's match order — destination port, destination IP,
// server name, transport protocol, application protocols, direct source IP, source type, source IP, source
// port — taking the most specific candidate at each step without backtracking (Envoy FilterChainManagerImpl),
// then falls back to default_filter_chain; null means "no filter chain matched" (response flag NR).
import { isIP } from 'node:net';
import type { CidrRange, FilterChainMatch } from '../config/filter-chain-match.js';

/** What a connection offers to filter-chain selection (after the listener filters ran). */
export interface ConnectionMatchInfo {
  /** Local address: the original destination when original_dst restored it. */
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The directly connected peer (differs from remoteAddress only behind PROXY protocol); defaults to remoteAddress. */
  readonly directRemoteAddress?: string;
  /** SNI from tls_inspector, '' when none. */
  readonly serverName: string;
  /** 'tls' | 'raw_buffer' (Envoy's default when nothing was detected). */
  readonly transportProtocol: string;
  /** ALPN (tls_inspector) or ['http/1.1'|'http/1.0'|'h2c'] (http_inspector), in the client's order. */
  readonly applicationProtocols: readonly string[];
}

export interface FilterChainEntry<T> {
  readonly match: FilterChainMatch;
  readonly value: T;
}

export interface FilterChainSelection<T> {
  readonly value: T;
  /** Index in the entries given to the matcher, or -1 for default_filter_chain. */
  readonly index: number;
}

// ---------------------------------------------------------------------------------------------- IP helpers

/** Parses an IPv4 or IPv6 literal (an IPv6 zone id is ignored) into 4 or 16 bytes; null when malformed. */
export function parseIp(text: string): Uint8Array | null {
  const pct = text.indexOf('%');
  const s = pct >= 0 ? text.slice(0, pct) : text;
  const fam = isIP(s);
  if (fam === 4) return Uint8Array.from(s.split('.').map(Number));
  if (fam !== 6) return null;
  const out = new Uint8Array(16);
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const res: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v4 = g.split('.').map(Number);
        res.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else res.push(parseInt(g, 16));
    }
    return res;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i] >> 8;
    out[i * 2 + 1] = all[i] & 0xff;
  }
  return out;
}

/** Parses a connection's address; IPv4-mapped IPv6 (::ffff:a.b.c.d, from dual-stack sockets) becomes IPv4. */
export function parseConnectionIp(text: string): Uint8Array | null {
  const b = parseIp(text);
  if (b && b.length === 16 && isV4Mapped(b)) return b.subarray(12);
  return b;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function formatIp(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

/** A CidrRange from address bytes and a prefix length; host bits are cleared. */
export function cidrRange(ip: Uint8Array, prefixLen: number): CidrRange {
  const bytes = Uint8Array.from(ip);
  for (let bit = prefixLen; bit < bytes.length * 8; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  return Object.freeze({ family: bytes.length === 4 ? 4 : 6, bytes, prefixLen, text: `${formatIp(bytes)}/${prefixLen}` });
}

/** True when `ip` (4 or 16 bytes) lies inside `range`. */
export function cidrContains(range: CidrRange, ip: Uint8Array): boolean {
  if (ip.length !== range.bytes.length) return false;
  const full = range.prefixLen >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== range.bytes[i]) return false;
  const rem = range.prefixLen & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (ip[full] & mask) === range.bytes[full];
}

function isLoopback(ip: Uint8Array): boolean {
  if (ip.length === 4) return ip[0] === 127;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}

function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------- compiled tree

/** Longest-prefix table: entries sorted most specific first; `range: null` is the catch-all (no ranges configured). */
type CidrTable<C> = ReadonlyArray<{ readonly range: CidrRange | null; readonly child: C }>;

interface Leaf<T> { readonly value: T; readonly index: number }
type SrcPorts<T> = ReadonlyMap<number, Leaf<T>>;
interface SourceTypes<T> { readonly local: CidrTable<SrcPorts<T>> | null; readonly external: CidrTable<SrcPorts<T>> | null; readonly any: CidrTable<SrcPorts<T>> | null }
type Alpn<T> = ReadonlyMap<string, CidrTable<SourceTypes<T>>>;
type Transport<T> = ReadonlyMap<string, Alpn<T>>;
type ServerNames<T> = ReadonlyMap<string, Transport<T>>;
type DestIps<T> = CidrTable<ServerNames<T>>;

interface Item<T> { readonly match: FilterChainMatch; readonly leaf: Leaf<T> }

function group<T, K>(items: readonly Item<T>[], keys: (m: FilterChainMatch) => readonly K[]): Map<K, Item<T>[]> {
  const out = new Map<K, Item<T>[]>();
  for (const it of items) {
    for (const k of keys(it.match)) {
      let l = out.get(k);
      if (!l) out.set(k, (l = []));
      l.push(it);
    }
  }
  return out;
}

function mapOf<T, C>(items: readonly Item<T>[], keys: (m: FilterChainMatch) => readonly string[], next: (its: Item<T>[]) => C): Map<string, C> {
  const out = new Map<string, C>();
  for (const [k, its] of group(items, keys)) out.set(k, next(its));
  return out;
}

function cidrTable<T, C>(items: readonly Item<T>[], ranges: (m: FilterChainMatch) => readonly CidrRange[], next: (its: Item<T>[]) => C): CidrTable<C> {
  const byText = new Map<string, { range: CidrRange | null; its: Item<T>[] }>();
  for (const it of items) {
    const rs = ranges(it.match);
    for (const r of rs.length ? rs : [null]) {
      const key = r ? r.text : '';
      let g = byText.get(key);
      if (!g) byText.set(key, (g = { range: r, its: [] }));
      g.its.push(it);
    }
  }
  const table = [...byText.values()].map((g) => ({ range: g.range, child: next(g.its) }));
  table.sort((a, b) => (b.range?.prefixLen ?? -1) - (a.range?.prefixLen ?? -1));
  return table;
}

function lookupCidr<C>(table: CidrTable<C>, ip: Uint8Array | null): C | null {
  for (const e of table) {
    if (e.range === null) return e.child;
    if (ip && cidrContains(e.range, ip)) return e.child;
  }
  return null;
}

/**
 * The compiled selector for one listener's filter chains. `duplicates` lists pairs of entry indexes whose match
 * rules collide (the later one can never be chosen for the colliding combination); translators should have
 * rejected such listeners already.
 */
export class FilterChainMatcher<T> {
  readonly duplicates: ReadonlyArray<readonly [number, number]>;
  private readonly ports: ReadonlyMap<number, DestIps<T>>;
  private readonly fallback: Leaf<T> | null;

  constructor(entries: readonly FilterChainEntry<T>[], defaultChain?: T) {
    const dups: Array<readonly [number, number]> = [];
    const items: Item<T>[] = entries.map((e, index) => ({ match: e.match, leaf: { value: e.value, index } }));
    const srcPorts = (its: Item<T>[]): SrcPorts<T> => {
      const m = new Map<number, Leaf<T>>();
      for (const [port, g] of group(its, (x) => (x.sourcePorts.length ? x.sourcePorts : [0]))) {
        m.set(port, g[0].leaf);
        for (const other of g.slice(1)) dups.push([g[0].leaf.index, other.leaf.index]);
      }
      return m;
    };
    const srcIps = (its: Item<T>[]): CidrTable<SrcPorts<T>> => cidrTable(its, (x) => x.sourcePrefixRanges, srcPorts);
    const srcTypes = (its: Item<T>[]): SourceTypes<T> => {
      const g = group(its, (x) => [x.sourceType]);
      const sub = (k: FilterChainMatch['sourceType']): CidrTable<SrcPorts<T>> | null => (g.has(k) ? srcIps(g.get(k)!) : null);
      return { local: sub('SAME_IP_OR_LOOPBACK'), external: sub('EXTERNAL'), any: sub('ANY') };
    };
    const directSrc = (its: Item<T>[]): CidrTable<SourceTypes<T>> => cidrTable(its, (x) => x.directSourcePrefixRanges, srcTypes);
    const alpn = (its: Item<T>[]): Alpn<T> => mapOf(its, (x) => (x.applicationProtocols.length ? x.applicationProtocols : ['']), directSrc);
    const transport = (its: Item<T>[]): Transport<T> => mapOf(its, (x) => [x.transportProtocol], alpn);
    const names = (its: Item<T>[]): ServerNames<T> => mapOf(its, (x) => (x.serverNames.length ? x.serverNames : ['']), transport);
    const dstIps = (its: Item<T>[]): DestIps<T> => cidrTable(its, (x) => x.prefixRanges, names);
    const ports = new Map<number, DestIps<T>>();
    for (const [port, its] of group(items, (x) => [x.destinationPort ?? 0])) ports.set(port, dstIps(its));
    this.ports = ports;
    this.fallback = defaultChain === undefined ? null : { value: defaultChain, index: -1 };
    this.duplicates = dups;
  }

  /** Selects the filter chain for a connection; null when none matched and there is no default_filter_chain. */
  select(c: ConnectionMatchInfo): FilterChainSelection<T> | null {
    const exact = this.ports.get(c.localPort);
    // A port with its own chains never falls back to port-less chains, only to default_filter_chain (Envoy).
    const tree = exact ?? this.ports.get(0);
    const leaf = tree ? this.fromDestIp(tree, c) : null;
    return leaf ?? this.fallback;
  }

  private fromDestIp(t: DestIps<T>, c: ConnectionMatchInfo): Leaf<T> | null {
    const names = lookupCidr(t, parseConnectionIp(c.localAddress));
    if (!names) return null;
    const sni = c.serverName;
    let transport = names.get(sni);
    if (!transport && sni !== '') {
      // Wildcards, longest suffix first: www.a.example.com → *.a.example.com, *.example.com, *.com.
      for (let pos = sni.indexOf('.', 1); pos !== -1 && pos < sni.length - 1 && !transport; pos = sni.indexOf('.', pos + 1)) {
        transport = names.get(`*${sni.slice(pos)}`);
      }
    }
    if (!transport) transport = names.get('');
    if (!transport) return null;
    const alpn = transport.get(c.transportProtocol) ?? transport.get('');
    if (!alpn) return null;
    let direct: CidrTable<SourceTypes<T>> | undefined;
    for (const p of c.applicationProtocols) if ((direct = alpn.get(p))) break;
    if (!direct) direct = alpn.get('');
    if (!direct) return null;
    const remote = parseConnectionIp(c.remoteAddress);
    const directIp = c.directRemoteAddress === undefined ? remote : parseConnectionIp(c.directRemoteAddress);
    const types = lookupCidr(direct, directIp);
    if (!types) return null;
    let srcIps: CidrTable<SrcPorts<T>> | null = null;
    if (types.local || types.external) {
      const local = parseConnectionIp(c.localAddress);
      const isLocal = remote !== null && (isLoopback(remote) || (local !== null && sameIp(remote, local)));
      srcIps = isLocal ? types.local : types.external;
    }
    srcIps ??= types.any;
    if (!srcIps) return null;
    const ports = lookupCidr(srcIps, remote);
    if (!ports) return null;
    return ports.get(c.remotePort) ?? (c.remotePort !== 0 ? ports.get(0) : undefined) ?? null;
  }
}
