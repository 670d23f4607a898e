// config/: internal, readonly form of envoy.config.listener.v3.FilterChainMatch (filled in by
// xds/resource-types/filter-chain-match.ts; compiled into a selector by listener/filter-chain-matcher.ts).

/** An IP prefix. `bytes` holds the network address with host bits cleared (4 bytes for IPv4, 16 for IPv6). */
export interface CidrRange {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefixLen: number;
  /** Canonical text, e.g. '10.0.0.0/8' or '2001:db8::/32' (also the key for equality). */
  readonly text: string;
}

export type SourceType = 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';

export interface FilterChainMatch {
  /** Exact local (original destination) port; undefined = any. */
  readonly destinationPort?: number;
  /** Local (original destination) address ranges; empty = any. */
  readonly prefixRanges: readonly CidrRange[];
  /** Directly connected peer ranges (before any PROXY protocol); empty = any. */
  readonly directSourcePrefixRanges: readonly CidrRange[];
  readonly sourceType: SourceType;
  readonly sourcePrefixRanges: readonly CidrRange[];
  /** Exact peer ports; empty = any. */
  readonly sourcePorts: readonly number[];
  /** SNI names, lower-cased: exact ('www.example.com') or wildcard ('*.example.com'); empty = any. */
  readonly serverNames: readonly string[];
  /** 'tls' | 'raw_buffer' | other detected protocol; '' = any. */
  readonly transportProtocol: string;
  /** ALPN / http_inspector protocols; empty = any. */
  readonly applicationProtocols: readonly string[];
}

/** The match-everything FilterChainMatch (a filter chain without filter_chain_match). */
export const MATCH_ANY: FilterChainMatch = Object.freeze({
  prefixRanges: [],
  directSourcePrefixRanges: [],
  sourceType: 'ANY',
  sourcePrefixRanges: [],
  sourcePorts: [],
  serverNames: [],
  transportProtocol: '',
  applicationProtocols: [],
});
