// config/: internal, readonly form of envoy.config.listener.v3.Listener (filled in by xds/resource-types/listener.ts).
// OWNER: data-plane slice (listener + HCM + tcp_proxy). Plain data (no behaviour); listener/ builds runtime listeners.
import type { HttpConnectionManagerConfig } from './http-connection-manager.js';
import type { FilterChainMatch } from './filter-chain-match.js';
import type { TcpProxyConfig } from './tcp-proxy.js';

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
  /** Unix socket path when the address is a pipe. */
  readonly pipe?: string;
}

/** PEM material of a DownstreamTlsContext / UpstreamTlsContext, read once at translation. */
export interface TlsCertificate {
  readonly certChain: string;
  readonly privateKey: string;
}

export interface DownstreamTlsConfig {
  readonly certificates: readonly TlsCertificate[];
  /** ALPN protocols offered, in preference order (empty → h2, http/1.1 for HCM chains). */
  readonly alpn: readonly string[];
  readonly requireClientCertificate: boolean;
  /** Trusted CA bundle (PEM) for client certificates, if any. */
  readonly trustedCa: string | null;
  /** Subject alt names a client certificate must match (any), lower-case; empty = any. */
  readonly matchSubjectAltNames: readonly string[];
  readonly minVersion: string | null;
  readonly maxVersion: string | null;
  readonly cipherSuites: readonly string[];
}

export type NetworkFilterConfig =
  | { readonly kind: 'http_connection_manager'; readonly name: string; readonly config: HttpConnectionManagerConfig }
  | { readonly kind: 'tcp_proxy'; readonly name: string; readonly config: TcpProxyConfig }
  | { readonly kind: 'sni_cluster'; readonly name: string };

export interface FilterChainConfig {
  /** filter chain name ('' when unnamed). */
  readonly name: string;
  /** Translated filter_chain_match (MATCH_ANY when absent). */
  readonly match: FilterChainMatch;
  /** Canonical filter_chain_match as received (for explain and config_dump). */
  readonly matchRaw: Readonly<Record<string, unknown>> | null;
  readonly filters: readonly NetworkFilterConfig[];
  readonly tls: DownstreamTlsConfig | null;
}

export type ListenerFilterKind = 'original_dst' | 'tls_inspector' | 'http_inspector';

export interface ListenerFilterConfig {
  readonly name: string;
  readonly kind: ListenerFilterKind;
}

export interface ListenerConfig {
  readonly name: string;
  readonly address: SocketAddress;
  readonly filterChains: readonly FilterChainConfig[];
  readonly defaultFilterChain: FilterChainConfig | null;
  readonly listenerFilters: readonly ListenerFilterConfig[];
  readonly useOriginalDst: boolean;
  readonly bindToPort: boolean;
  readonly trafficDirection: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  readonly perConnectionBufferLimitBytes: number;
  readonly exactBalance: boolean;
  readonly drainType: 'DEFAULT' | 'MODIFY_ONLY';
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
}
