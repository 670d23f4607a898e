// xds/resource-types/: translates envoy.config.listener.v3.FilterChainMatch (canonical form) into the readonly
// FilterChainMatch the listener's filter-chain selector compiles; also checks a listener's chains for duplicate
// match rules (Envoy rejects "multiple filter chains with the same matching rules").
import type { Issues } from '../../common/validation.js';
import type { Canonical } from '../proto-json.js';
import { MATCH_ANY, type CidrRange, type FilterChainMatch, type SourceType } from '../../config/filter-chain-match.js';
import { cidrRange, parseIp } from '../../listener/filter-chain-matcher.js';

const KNOWN = new Set([
  'destination_port', 'prefix_ranges', 'address_suffix', 'suffix_len', 'direct_source_prefix_ranges', 'source_type',
  'source_prefix_ranges', 'source_ports', 'server_names', 'transport_protocol', 'application_protocols',
]);
const SOURCE_TYPES: ReadonlySet<string> = new Set(['ANY', 'SAME_IP_OR_LOOPBACK', 'EXTERNAL']);

/** Translates one CidrRange ({address_prefix, prefix_len}); host bits are cleared as Envoy does. */
export function translateCidrRange(c: Canonical, issues: Issues): CidrRange | null {
  const prefix = c.address_prefix;
  if (typeof prefix !== 'string' || prefix === '') {
    issues.error('address_prefix is required', 'address_prefix');
    return null;
  }
  const ip = parseIp(prefix);
  if (!ip) {
    issues.error(`malformed IP address: ${prefix}`, 'address_prefix');
    return null;
  }
  const max = ip.length * 8;
  const len = c.prefix_len === undefined ? 0 : c.prefix_len;
  if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > max) {
    issues.error(`prefix_len must be 0..${max} for ${prefix}`, 'prefix_len');
    return null;
  }
  return cidrRange(ip, len);
}

function cidrList(v: unknown, issues: Issues): CidrRange[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    issues.error('expected a list');
    return [];
  }
  const out: CidrRange[] = [];
  v.forEach((c, i) => {
    const r = translateCidrRange(c as Canonical, issues.at(i));
    if (r) out.push(r);
  });
  return out;
}

function stringList(v: unknown, issues: Issues): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    issues.error('expected a list of strings');
    return [];
  }
  return v as string[];
}

/** Translates a FilterChainMatch; an absent message matches everything. Never throws. */
export function translateFilterChainMatch(m: Canonical | undefined, issues: Issues): FilterChainMatch {
  if (m === undefined) return MATCH_ANY;
  for (const k of Object.keys(m)) if (!KNOWN.has(k)) issues.error(`unknown field ${k}`, k);
  if (m.address_suffix !== undefined && m.address_suffix !== '') issues.unsupported('address_suffix', 'is not implemented (Envoy does not implement it either)');
  if (m.suffix_len !== undefined) issues.unsupported('suffix_len', 'is not implemented (Envoy does not implement it either)');

  let destinationPort: number | undefined;
  if (m.destination_port !== undefined) {
    const p = m.destination_port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) issues.error('must be 1..65535', 'destination_port');
    else destinationPort = p;
  }
  const sourceType = (m.source_type ?? 'ANY') as SourceType;
  if (!SOURCE_TYPES.has(sourceType)) issues.error(`unknown source type ${String(m.source_type)}`, 'source_type');

  const sourcePorts: number[] = [];
  if (m.source_ports !== undefined) {
    const sp = m.source_ports;
    if (!Array.isArray(sp)) issues.error('expected a list', 'source_ports');
    else sp.forEach((p, i) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) issues.at('source_ports').error('must be 1..65535', i);
      else sourcePorts.push(p);
    });
  }

  const serverNames: string[] = [];
  stringList(m.server_names, issues.at('server_names')).forEach((raw, i) => {
    const name = raw.toLowerCase();
    if (name === '') issues.at('server_names').error('empty server name', i);
    else if (name.includes('*') && !(name.startsWith('*.') && name.indexOf('*', 1) === -1 && name.length > 2)) {
      issues.at('server_names').error(`partial wildcards are not supported: ${raw} (only a leading '*.')`, i);
    } else serverNames.push(name);
  });

  const transportProtocol = m.transport_protocol ?? '';
  if (typeof transportProtocol !== 'string') issues.error('expected a string', 'transport_protocol');

  const value: FilterChainMatch = {
    prefixRanges: cidrList(m.prefix_ranges, issues.at('prefix_ranges')),
    directSourcePrefixRanges: cidrList(m.direct_source_prefix_ranges, issues.at('direct_source_prefix_ranges')),
    sourceType,
    sourcePrefixRanges: cidrList(m.source_prefix_ranges, issues.at('source_prefix_ranges')),
    sourcePorts,
    serverNames,
    transportProtocol: typeof transportProtocol === 'string' ? transportProtocol : '',
    applicationProtocols: stringList(m.application_protocols, issues.at('application_protocols')),
    ...(destinationPort !== undefined ? { destinationPort } : {}),
  };
  return Object.freeze(value);
}

function expandKeys(m: FilterChainMatch): string[] {
  const lists: string[][] = [
    [String(m.destinationPort ?? 0)],
    m.prefixRanges.length ? m.prefixRanges.map((c) => c.text) : [''],
    m.serverNames.length ? [...m.serverNames] : [''],
    [m.transportProtocol],
    m.applicationProtocols.length ? [...m.applicationProtocols] : [''],
    m.directSourcePrefixRanges.length ? m.directSourcePrefixRanges.map((c) => c.text) : [''],
    [m.sourceType],
    m.sourcePrefixRanges.length ? m.sourcePrefixRanges.map((c) => c.text) : [''],
    m.sourcePorts.length ? m.sourcePorts.map(String) : ['0'],
  ];
  let keys = [''];
  for (const l of lists) keys = keys.flatMap((k) => l.map((x) => `${k}|${x}`));
  return keys;
}

/**
 * Reports filter chains whose match rules overlap exactly (every combination one chain matches is also a
 * combination of an earlier chain), as Envoy does. `issues` should point at the listener's filter_chains.
 */
export function checkFilterChainMatchesUnique(matches: readonly FilterChainMatch[], issues: Issues): void {
  const seen = new Map<string, number>();
  matches.forEach((m, i) => {
    for (const k of expandKeys(m)) {
      const prev = seen.get(k);
      if (prev !== undefined && prev !== i) {
        issues.at(i).error(`multiple filter chains with the same matching rules are defined (overlaps filter_chains[${prev}])`, 'filter_chain_match');
        return;
      }
      seen.set(k, i);
    }
  });
}

/** Listener.filter_chain_matcher (the xds.type.matcher.v3 unified matcher) is not implemented: reject it by name. */
export function rejectFilterChainMatcher(listener: Canonical, issues: Issues): void {
  if (listener.filter_chain_matcher !== undefined) {
    issues.unsupported('filter_chain_matcher', 'is not supported by meshlet; use filter_chains[].filter_chain_match');
  }
}
