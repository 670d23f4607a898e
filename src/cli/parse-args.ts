// cli/: Envoy-compatible command-line flags for `meshlet [run|validate]` (every flag Istio's agent passes is
// accepted). Parsing never exits: problems are MeshletError CLI_USAGE with a one-line message.
import { MeshletError } from '../common/errors.js';
import { isLogLevel, parseComponentLevels } from '../observability/logger.js';

export interface CliFlags {
  readonly configPath?: string;
  readonly configYaml?: string;
  readonly serviceNode?: string;
  readonly serviceCluster?: string;
  readonly serviceZone?: string;
  readonly mode: 'serve' | 'validate';
  /** Envoy level name (trace|debug|info|warning|error|critical|off); default info. */
  readonly logLevel: string;
  readonly componentLogLevel: Readonly<Record<string, string>>;
  readonly logFormat?: string;
  readonly logPath?: string;
  /** Worker count; default 1 (one process). */
  readonly concurrency: number;
  readonly drainTimeS: number;
  /** SIGTERM's hard deadline in seconds (the pod's grace period minus a margin); the drain ends at the earlier of this and drain-time-s. */
  readonly terminationDeadlineS: number;
  readonly drainStrategy: 'gradual' | 'immediate';
  readonly parentShutdownTimeS: number;
  readonly localAddressIpVersion: 'v4' | 'v6';
  readonly fileFlushIntervalMsec: number;
  readonly disableHotRestart: boolean;
  readonly allowUnknownStaticFields: boolean;
  readonly rejectUnknownDynamicFields: boolean;
  readonly ignoreUnknownDynamicFields: boolean;
  readonly baseId: number;
  readonly useDynamicBaseId: boolean;
  readonly restartEpoch: number;
  readonly enableCoreDump: boolean;
  readonly adminAddressPath?: string;
  /** Serve Istio's readiness endpoint /healthz/ready on 0.0.0.0:<port> (else node.metadata.ENVOY_STATUS_PORT). */
  readonly statusPort?: number;
  readonly version: boolean;
  readonly help: boolean;
}

export const DEFAULT_FLAGS: CliFlags = Object.freeze({
  mode: 'serve',
  logLevel: 'info',
  componentLogLevel: Object.freeze({}),
  concurrency: 1,
  drainTimeS: 600,
  terminationDeadlineS: 25,
  drainStrategy: 'gradual',
  parentShutdownTimeS: 900,
  localAddressIpVersion: 'v4',
  fileFlushIntervalMsec: 10000,
  disableHotRestart: false,
  allowUnknownStaticFields: false,
  rejectUnknownDynamicFields: false,
  ignoreUnknownDynamicFields: false,
  baseId: 0,
  useDynamicBaseId: false,
  restartEpoch: 0,
  enableCoreDump: false,
  version: false,
  help: false,
});

type Kind = 'string' | 'int' | 'bool';
interface FlagSpec {
  readonly key: keyof CliFlags | null; // null: accepted and ignored (no effect in meshlet)
  readonly kind: Kind;
  readonly check?: (v: string) => string | null;
  readonly help: string;
  readonly value?: string;
}

const oneOf = (...vals: string[]) => (v: string): string | null => (vals.includes(v) ? null : `must be one of ${vals.join(', ')}`);

/** Long flag name → spec. Short aliases in SHORT. */
export const FLAGS: Readonly<Record<string, FlagSpec>> = {
  'config-path': { key: 'configPath', kind: 'string', value: 'FILE', help: 'Envoy bootstrap (YAML or JSON) or gRPC xDS bootstrap JSON' },
  'config-yaml': { key: 'configYaml', kind: 'string', value: 'YAML', help: 'bootstrap YAML merged over --config-path' },
  'service-node': { key: 'serviceNode', kind: 'string', value: 'ID', help: 'override node.id' },
  'service-cluster': { key: 'serviceCluster', kind: 'string', value: 'NAME', help: 'override node.cluster' },
  'service-zone': { key: 'serviceZone', kind: 'string', value: 'ZONE', help: 'override node.locality.zone' },
  mode: { key: 'mode', kind: 'string', value: 'serve|validate', check: oneOf('serve', 'validate'), help: 'serve (default) or only validate the bootstrap' },
  'log-level': { key: 'logLevel', kind: 'string', value: 'LEVEL', check: (v) => (isLogLevel(v) ? null : 'must be one of trace, debug, info, warning, error, critical, off'), help: 'trace|debug|info|warning|error|critical|off' },
  'component-log-level': { key: 'componentLogLevel', kind: 'string', value: 'C:LEVEL,…', check: (v) => (parseComponentLevels(v) ? null : 'expected <component>:<level>[,<component>:<level>…]'), help: 'per-component log levels, e.g. misc:error,upstream:debug' },
  'log-format': { key: 'logFormat', kind: 'string', value: 'FORMAT', help: 'a format starting with { logs JSON lines, anything else tab-separated text' },
  'log-format-escaped': { key: null, kind: 'bool', help: '(accepted; log lines are always escaped)' },
  'log-path': { key: 'logPath', kind: 'string', value: 'FILE', help: 'write the application log to FILE instead of stderr' },
  concurrency: { key: 'concurrency', kind: 'int', value: 'N', check: (v) => (Number(v) >= 0 && Number(v) <= 1024 ? null : 'must be between 0 and 1024'), help: 'worker processes sharing the listeners (default 1: one process; N > 1: a primary for xDS/admin and N workers)' },
  'drain-time-s': { key: 'drainTimeS', kind: 'int', value: 'S', help: 'drain period for graceful drains (default 600)' },
  'termination-deadline-s': { key: 'terminationDeadlineS', kind: 'int', value: 'S', help: 'on SIGTERM, exit by this deadline even if connections remain (default 25: inside Kubernetes\' default 30 s grace period)' },
  'drain-strategy': { key: 'drainStrategy', kind: 'string', value: 'gradual|immediate', check: oneOf('gradual', 'immediate'), help: 'how connections are drained (default gradual)' },
  'parent-shutdown-time-s': { key: 'parentShutdownTimeS', kind: 'int', value: 'S', help: 'hot restart: the new epoch makes the old one exit after at most S seconds of draining (default 900)' },
  'local-address-ip-version': { key: 'localAddressIpVersion', kind: 'string', value: 'v4|v6', check: oneOf('v4', 'v6'), help: 'IP version of the local address (default v4)' },
  'file-flush-interval-msec': { key: 'fileFlushIntervalMsec', kind: 'int', value: 'MS', help: 'access log flush interval (default 10000)' },
  'disable-hot-restart': { key: 'disableHotRestart', kind: 'bool', help: 'do not serve the hot-restart control socket (--restart-epoch > 0 is then refused)' },
  'allow-unknown-static-fields': { key: 'allowUnknownStaticFields', kind: 'bool', help: 'tolerate unknown bootstrap fields (meshlet always does; they are logged at debug)' },
  'reject-unknown-dynamic-fields': { key: 'rejectUnknownDynamicFields', kind: 'bool', help: 'NACK xDS resources with unknown fields' },
  'ignore-unknown-dynamic-fields': { key: 'ignoreUnknownDynamicFields', kind: 'bool', help: 'silently accept unknown fields in xDS resources' },
  'base-id': { key: 'baseId', kind: 'int', value: 'N', help: 'hot restart: names the control socket (@meshlet_hot_restart_<N>_<epoch>); distinct per meshlet on one host (default 0)' },
  'use-dynamic-base-id': { key: 'useDynamicBaseId', kind: 'bool', help: '(hot restart; accepted)' },
  'base-id-path': { key: null, kind: 'string', value: 'FILE', help: '(hot restart; accepted)' },
  'restart-epoch': { key: 'restartEpoch', kind: 'int', value: 'N', help: 'hot restart: N > 0 takes the listen sockets of the running epoch N-1 (same --base-id), which drains and exits once this one is LIVE' },
  'enable-core-dump': { key: 'enableCoreDump', kind: 'bool', help: '(accepted)' },
  'admin-address-path': { key: 'adminAddressPath', kind: 'string', value: 'FILE', help: 'write the admin address to FILE once listening' },
  'status-port': { key: 'statusPort', kind: 'int', value: 'PORT', check: (v) => (Number(v) > 0 && Number(v) < 65536 ? null : 'must be a port number'), help: 'serve Istio\'s /healthz/ready on 0.0.0.0:PORT (default: node.metadata.ENVOY_STATUS_PORT)' },
  'cpuset-threads': { key: null, kind: 'bool', help: '(accepted)' },
  'enable-fine-grain-logging': { key: null, kind: 'bool', help: '(accepted)' },
  'enable-mutex-tracing': { key: null, kind: 'bool', help: '(accepted)' },
  'socket-path': { key: null, kind: 'string', value: 'PATH', help: '(hot restart; accepted)' },
  'socket-mode': { key: null, kind: 'string', value: 'MODE', help: '(hot restart; accepted)' },
  version: { key: 'version', kind: 'bool', help: 'print the version and exit' },
  help: { key: 'help', kind: 'bool', help: 'print this help and exit' },
};

const SHORT: Readonly<Record<string, string>> = { c: 'config-path', l: 'log-level', h: 'help' };

function usage(msg: string): MeshletError {
  return new MeshletError('CLI_USAGE', msg);
}

/** Parses `meshlet [run|validate]` flags (the subcommand already removed). Throws MeshletError CLI_USAGE. */
export function parseArgs(argv: readonly string[]): CliFlags {
  const out: Record<string, unknown> = { ...DEFAULT_FLAGS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.startsWith('-') && arg.length >= 2) {
      const short = arg.slice(1, 2);
      name = SHORT[short] ?? '';
      if (!name) throw usage(`unknown flag ${arg} (see meshlet --help)`);
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, '') : undefined;
    } else {
      throw usage(`unexpected argument "${arg}" (see meshlet --help)`);
    }
    const spec = FLAGS[name];
    if (!spec) throw usage(`unknown flag --${name} (see meshlet --help)`);
    let value: string;
    if (spec.kind === 'bool') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') throw usage(`flag --${name} takes no value (got "${inline}")`);
      if (spec.key) out[spec.key] = inline !== 'false';
      continue;
    }
    if (inline !== undefined) value = inline;
    else {
      if (i + 1 >= argv.length) throw usage(`flag --${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
      value = argv[++i];
    }
    if (spec.kind === 'int' && !/^\d+$/.test(value)) throw usage(`invalid value "${value}" for --${name}: expected a non-negative integer`);
    const problem = spec.check?.(value);
    if (problem) throw usage(`invalid value "${value}" for --${name}: ${problem}`);
    if (!spec.key) continue;
    if (spec.kind === 'int') {
      out[spec.key] = Number(value);
    } else if (spec.key === 'componentLogLevel') {
      out[spec.key] = { ...(out[spec.key] as object), ...parseComponentLevels(value)! };
    } else out[spec.key] = value;
  }
  return Object.freeze(out) as unknown as CliFlags;
}

/** Envoy's CommandLineOptions shape (for /server_info). */
export function commandLineOptionsJson(f: CliFlags): Record<string, unknown> {
  return {
    base_id: String(f.baseId),
    use_dynamic_base_id: f.useDynamicBaseId,
    concurrency: f.concurrency,
    config_path: f.configPath ?? '',
    config_yaml: f.configYaml ?? '',
    allow_unknown_static_fields: f.allowUnknownStaticFields,
    reject_unknown_dynamic_fields: f.rejectUnknownDynamicFields,
    ignore_unknown_dynamic_fields: f.ignoreUnknownDynamicFields,
    admin_address_path: f.adminAddressPath ?? '',
    local_address_ip_version: f.localAddressIpVersion,
    log_level: f.logLevel,
    component_log_level: Object.entries(f.componentLogLevel).map(([k, v]) => `${k}:${v}`).join(','),
    log_format: f.logFormat ?? '',
    log_path: f.logPath ?? '',
    service_cluster: f.serviceCluster ?? '',
    service_node: f.serviceNode ?? '',
    service_zone: f.serviceZone ?? '',
    drain_strategy: f.drainStrategy === 'immediate' ? 'Immediate' : 'Gradual',
    file_flush_interval: `${f.fileFlushIntervalMsec / 1000}s`,
    drain_time: `${f.drainTimeS}s`,
    parent_shutdown_time: `${f.parentShutdownTimeS}s`,
    mode: f.mode === 'validate' ? 'Validate' : 'Serve',
    disable_hot_restart: f.disableHotRestart,
    enable_core_dump: f.enableCoreDump,
    restart_epoch: f.restartEpoch,
  };
}

export function usageText(): string {
  const lines = [
    'usage: meshlet [run] -c <bootstrap> [flags]      start the proxy (default command)',
    '       meshlet validate -c <bootstrap> [flags]   check a bootstrap and exit (= --mode validate)',
    '       meshlet route-check …                     check routes against a test file',
    '       meshlet iptables …                        set up Istio-style traffic capture',
    '       meshlet wait [--timeout S] [--admin URL]  wait until the admin /ready says LIVE',
    '',
    'flags (Envoy-compatible):',
  ];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const short = Object.entries(SHORT).find(([, l]) => l === name)?.[0];
    const left = `${short ? `-${short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    lines.push(`  ${left.padEnd(40)} ${spec.help}`);
  }
  lines.push('', 'environment: GRPC_XDS_BOOTSTRAP (file) or GRPC_XDS_BOOTSTRAP_CONFIG (JSON) when no -c/--config-yaml is given');
  return `${lines.join('\n')}\n`;
}
