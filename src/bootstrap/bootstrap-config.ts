// bootstrap/: the internal, readonly result of loading a bootstrap (Envoy v3 Bootstrap or gRPC xDS bootstrap JSON).
// Produced once at start by load-bootstrap.ts; read by proxy.ts (to build the xDS client, admin server and static
// resources) and by the admin server (/config_dump, /server_info). Static listeners/clusters stay canonical: the
// same translators as for xDS resources turn them into internal config.
import type { NodeInfo } from '../config/node.js';

export type Canonical = Record<string, unknown>;

/** Where the admin server listens. `null` in BootstrapConfig.admin means an admin block without address (disabled). */
export type AdminAddress =
  | { readonly kind: 'socket'; readonly address: string; readonly port: number }
  | { readonly kind: 'pipe'; readonly path: string };

/** Bytes given inline or by file (Envoy DataSource); env-var sources are resolved at load time. */
export type DataSourceRef = { readonly filename: string } | { readonly inline: Buffer };

export type ChannelCredentials =
  | { readonly kind: 'insecure' }
  /** TLS: roots from the file/inline source or the system roots when absent; cert+key make it mTLS. */
  | {
      readonly kind: 'tls';
      readonly rootCerts?: DataSourceRef;
      readonly certChain?: DataSourceRef;
      readonly privateKey?: DataSourceRef;
      /** SNI / target name override (UpstreamTlsContext.sni). */
      readonly serverName?: string;
    }
  /** Application default credentials (gRPC bootstrap `google_default`; TLS + metadata-server token). */
  | { readonly kind: 'google_default' };

export type CallCredentials =
  | { readonly kind: 'google_compute_engine' }
  | { readonly kind: 'access_token'; readonly token: string };

/** One management server, resolved into what @grpc/grpc-js needs. */
export interface XdsServerConfig {
  /**
   * gRPC target: `ipv4:10.0.0.1:15010`, `ipv6:[::1]:15010`, `dns:istiod.istio-system.svc:15012`,
   * `unix:/abs/path/XDS`, or a google_grpc / gRPC-bootstrap `server_uri` verbatim (`dns:///host:443`, `host:443`).
   */
  readonly target: string;
  readonly credentials: ChannelCredentials;
  readonly callCredentials: readonly CallCredentials[];
  /** google_grpc channel_args (`grpc.keepalive_time_ms` …), ints as numbers. */
  readonly channelArgs: Readonly<Record<string, string | number>>;
  /** envoy_grpc.cluster_name when the server came from a static cluster. */
  readonly clusterName?: string;
  /** google_grpc.stat_prefix (metrics), when given. */
  readonly statPrefix?: string;
  /** GrpcService.timeout in ms (per-call deadline; unset = none). */
  readonly timeoutMs?: number;
  /** Static cluster upstream_connection_options.tcp_keepalive.keepalive_time in seconds (Istio: 300). */
  readonly tcpKeepaliveTimeS?: number;
  /** Static cluster connect_timeout in ms (Envoy default 5000). */
  readonly connectTimeoutMs?: number;
  /** gRPC bootstrap server_features (`xds_v3`, `ignore_resource_deletion`, …); empty for Envoy bootstraps. */
  readonly serverFeatures: readonly string[];
  /** GrpcService.initial_metadata as header pairs sent on the stream. */
  readonly initialMetadata: readonly { readonly key: string; readonly value: string }[];
}

export interface AdsConfig {
  /** GRPC = state of the world, DELTA_GRPC = incremental. */
  readonly apiType: 'GRPC' | 'DELTA_GRPC';
  readonly setNodeOnFirstMessageOnly: boolean;
  /** Primary first; further entries are failover servers (Envoy ≥1.30 / gRPC A71). */
  readonly servers: readonly XdsServerConfig[];
}

/** lds_config / cds_config. `initialFetchTimeoutMs` 0 = wait forever (Istio's `0s`); Envoy default 15000. */
export type ConfigSourceConfig =
  | { readonly kind: 'ads'; readonly initialFetchTimeoutMs: number }
  | {
      readonly kind: 'path';
      /** Absolute path of the file holding a DiscoveryResponse (YAML/JSON), re-read on change. */
      readonly path: string;
      /** path_config_source.watched_directory.path, absolute, when given. */
      readonly watchedDirectory?: string;
      readonly initialFetchTimeoutMs: number;
    };

export interface DynamicResourcesConfig {
  readonly ads: AdsConfig | null;
  readonly lds: ConfigSourceConfig | null;
  readonly cds: ConfigSourceConfig | null;
}

export interface StaticResources {
  /** Canonical envoy.config.listener.v3.Listener objects (no '@type'). */
  readonly listeners: readonly Canonical[];
  /** Canonical envoy.config.cluster.v3.Cluster objects (no '@type'). */
  readonly clusters: readonly Canonical[];
  /** Canonical envoy.extensions.transport_sockets.tls.v3.Secret objects. */
  readonly secrets: readonly Canonical[];
}

/** Extras only a gRPC xDS bootstrap carries (kept for the xDS client / TLS code that honours them). */
export interface GrpcBootstrapExtras {
  readonly certificateProviders: Readonly<Record<string, { readonly pluginName: string; readonly config: Readonly<Record<string, unknown>> }>>;
  readonly serverListenerResourceNameTemplate?: string;
  readonly clientDefaultListenerResourceNameTemplate?: string;
  /** Federation authorities (A47), verbatim; not implemented by meshlet yet. */
  readonly authorities?: Readonly<Record<string, unknown>>;
}

export interface BootstrapConfig {
  /** Which dialect the file was: Envoy's Bootstrap or the gRPC xDS bootstrap JSON. */
  readonly dialect: 'envoy' | 'grpc';
  /** Absolute path of the file read (undefined for --config-yaml only / GRPC_XDS_BOOTSTRAP_CONFIG). */
  readonly sourcePath?: string;
  readonly node: NodeInfo;
  /** Admin listener address; default 127.0.0.1:15000 when the bootstrap has no admin block; null = disabled. */
  readonly admin: AdminAddress | null;
  readonly staticResources: StaticResources;
  readonly dynamicResources: DynamicResourcesConfig;
  /** Canonical blocks accepted as-is for the subsystems that read them (null when absent). */
  readonly statsConfig: Canonical | null;
  readonly statsSinks: readonly Canonical[];
  readonly tracing: Canonical | null;
  readonly layeredRuntime: Canonical | null;
  readonly loadStatsConfig: Canonical | null;
  readonly overloadManager: Canonical | null;
  readonly grpc?: GrpcBootstrapExtras;
  /** The whole bootstrap in canonical envoy.config.bootstrap.v3.Bootstrap form (for /config_dump). */
  readonly raw: Canonical;
  /** Field paths the schema did not know (tolerated like --allow-unknown-static-fields; log them at debug). */
  readonly unknownFields: readonly string[];
  /** Non-fatal observations (e.g. an xDS cluster without HTTP/2); log them at warn. */
  readonly warnings: readonly string[];
}

export const DEFAULT_ADMIN_ADDRESS: AdminAddress = Object.freeze({ kind: 'socket', address: '127.0.0.1', port: 15000 });
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15000;
