// bootstrap/: maps the gRPC xDS bootstrap JSON (gRFC A27 and successors; GRPC_XDS_BOOTSTRAP[_CONFIG]) onto the
// same BootstrapConfig an Envoy bootstrap produces: xds_servers → ADS (SotW, node on first message), node, the
// certificate providers and listener name templates. Also synthesises an equivalent Envoy bootstrap for /config_dump.
import { isAbsolute, resolve } from 'node:path';
import type { Issues } from '../common/validation.js';
import { jsonToCanonical, ProtoConversionError } from '../xds/proto-json.js';
import { nodeFromCanonical, type NodeOverrides } from './envoy-bootstrap.js';
import {
  DEFAULT_ADMIN_ADDRESS,
  DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
  type BootstrapConfig,
  type Canonical,
  type ChannelCredentials,
  type GrpcBootstrapExtras,
  type XdsServerConfig,
} from './bootstrap-config.js';

/** A document is a gRPC xDS bootstrap when it has `xds_servers` (an Envoy Bootstrap has no such field). */
export function isGrpcBootstrap(json: unknown): boolean {
  return json !== null && typeof json === 'object' && !Array.isArray(json) && 'xds_servers' in (json as object);
}

export interface GrpcInterpretContext {
  readonly cwd: string;
  readonly overrides: NodeOverrides;
  readonly sourcePath?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function channelCreds(list: unknown, issues: Issues, cwd: string): ChannelCredentials | null {
  if (!Array.isArray(list) || list.length === 0) {
    issues.error('at least one channel_creds entry is required');
    return null;
  }
  const seen: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (!isObj(c) || typeof c.type !== 'string') { issues.at(i).error('expected {"type": ...}'); continue; }
    seen.push(c.type);
    if (c.type === 'insecure') return { kind: 'insecure' };
    if (c.type === 'google_default') return { kind: 'google_default' };
    if (c.type === 'tls') {
      const cfg = isObj(c.config) ? c.config : {};
      const file = (k: string) => (typeof cfg[k] === 'string' ? { filename: isAbsolute(cfg[k] as string) ? (cfg[k] as string) : resolve(cwd, cfg[k] as string) } : undefined);
      const rootCerts = file('ca_certificate_file');
      const certChain = file('certificate_file');
      const privateKey = file('private_key_file');
      if (Boolean(certChain) !== Boolean(privateKey)) issues.at(i).at('config').error('certificate_file and private_key_file must be given together');
      return { kind: 'tls', ...(rootCerts ? { rootCerts } : {}), ...(certChain ? { certChain } : {}), ...(privateKey ? { privateKey } : {}) };
    }
  }
  issues.error(`no supported channel credential type (got ${seen.join(', ') || 'none'}; meshlet supports insecure, tls, google_default)`);
  return null;
}

function xdsServer(s: unknown, issues: Issues, cwd: string): XdsServerConfig | null {
  if (!isObj(s)) { issues.error('expected an object'); return null; }
  const uri = s.server_uri;
  if (typeof uri !== 'string' || !uri) { issues.error('server_uri is required', 'server_uri'); return null; }
  const credentials = channelCreds(s.channel_creds, issues.at('channel_creds'), cwd);
  if (!credentials) return null;
  const features = Array.isArray(s.server_features) ? s.server_features.filter((f): f is string => typeof f === 'string') : [];
  return { target: uri, credentials, callCredentials: [], channelArgs: {}, serverFeatures: features, initialMetadata: [] };
}

/** Interprets a parsed gRPC xDS bootstrap; problems go to `issues` (null when the node cannot be read). */
export function interpretGrpcBootstrap(json: Record<string, unknown>, issues: Issues, ctx: GrpcInterpretContext): BootstrapConfig | null {
  const servers: XdsServerConfig[] = [];
  const list = json.xds_servers;
  if (!Array.isArray(list) || list.length === 0) issues.error('at least one server is required', 'xds_servers');
  else list.forEach((s, i) => {
    const srv = xdsServer(s, issues.at('xds_servers').at(i), ctx.cwd);
    if (srv) servers.push(srv);
  });

  let nodeCanonical: Canonical | undefined;
  const unknownFields: string[] = [];
  if (json.node !== undefined) {
    try {
      nodeCanonical = jsonToCanonical('envoy.config.core.v3.Node', json.node, 'node', { unknownFields });
    } catch (e) {
      if (!(e instanceof ProtoConversionError)) throw e;
      issues.error(e.message);
      return null;
    }
  }
  const warnings: string[] = [];
  const node = nodeFromCanonical(nodeCanonical, ctx.overrides, warnings);

  const providers: Record<string, { pluginName: string; config: Record<string, unknown> }> = {};
  if (json.certificate_providers !== undefined) {
    if (!isObj(json.certificate_providers)) issues.error('expected an object', 'certificate_providers');
    else for (const [name, p] of Object.entries(json.certificate_providers)) {
      if (!isObj(p) || typeof p.plugin_name !== 'string') { issues.at('certificate_providers').at(name).error('plugin_name is required'); continue; }
      providers[name] = { pluginName: p.plugin_name, config: isObj(p.config) ? p.config : {} };
    }
  }
  const grpc: GrpcBootstrapExtras = {
    certificateProviders: providers,
    ...(typeof json.server_listener_resource_name_template === 'string' ? { serverListenerResourceNameTemplate: json.server_listener_resource_name_template } : {}),
    ...(typeof json.client_default_listener_resource_name_template === 'string' ? { clientDefaultListenerResourceNameTemplate: json.client_default_listener_resource_name_template } : {}),
    ...(isObj(json.authorities) ? { authorities: json.authorities } : {}),
  };
  if (grpc.authorities) warnings.push('authorities (xDS federation) are accepted but not implemented by meshlet');

  // The equivalent Envoy bootstrap, so /config_dump shows what meshlet runs with.
  const raw: Canonical = {
    ...(nodeCanonical ? { node: { ...nodeCanonical, metadata: node.metadata } } : {}),
    dynamic_resources: {
      lds_config: { ads: {}, resource_api_version: 'V3' },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: servers.map((s) => ({ google_grpc: { target_uri: s.target, stat_prefix: 'xds' } })),
      },
    },
  };
  return Object.freeze({
    dialect: 'grpc' as const,
    ...(ctx.sourcePath ? { sourcePath: ctx.sourcePath } : {}),
    node,
    admin: DEFAULT_ADMIN_ADDRESS,
    staticResources: Object.freeze({ listeners: [], clusters: [], secrets: [] }),
    dynamicResources: Object.freeze({
      ads: servers.length ? { apiType: 'GRPC' as const, setNodeOnFirstMessageOnly: true, servers } : null,
      lds: { kind: 'ads' as const, initialFetchTimeoutMs: DEFAULT_INITIAL_FETCH_TIMEOUT_MS },
      cds: { kind: 'ads' as const, initialFetchTimeoutMs: DEFAULT_INITIAL_FETCH_TIMEOUT_MS },
    }),
    statsConfig: null,
    statsSinks: [],
    tracing: null,
    layeredRuntime: null,
    loadStatsConfig: null,
    overloadManager: null,
    grpc,
    raw,
    unknownFields,
    warnings,
  });
}
