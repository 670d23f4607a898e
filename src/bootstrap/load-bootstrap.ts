// bootstrap/: entry of the config flow. Reads the Envoy v3 bootstrap (-c file and/or --config-yaml, merged as Envoy
// does) or the gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP_CONFIG, or a -c file with xds_servers),
// converts it once to canonical form and interprets it into a readonly BootstrapConfig. Errors are MeshletError
// with codes BOOTSTRAP_UNREADABLE, BOOTSTRAP_PARSE or BOOTSTRAP_INVALID and a one-line message with field paths.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MeshletError } from '../common/errors.js';
import { Issues, formatErrors } from '../common/validation.js';
import { jsonToCanonical, ProtoConversionError } from '../xds/proto-json.js';
import { formatForPath, parseDocumentText } from './parse-document.js';
import { mergeCanonical } from './merge-canonical.js';
import { interpretEnvoyBootstrap } from './envoy-bootstrap.js';
import { interpretGrpcBootstrap, isGrpcBootstrap } from './grpc-bootstrap.js';
import type { BootstrapConfig, Canonical } from './bootstrap-config.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

export interface LoadBootstrapOptions {
  /** -c / --config-path. */
  readonly configPath?: string;
  /** --config-yaml, merged over the file (protobuf MergeFrom: scalars win, lists append). */
  readonly configYaml?: string;
  /** --service-node / --service-cluster / --service-zone override node.id / node.cluster / node.locality.zone. */
  readonly serviceNode?: string;
  readonly serviceCluster?: string;
  readonly serviceZone?: string;
  /** Environment (GRPC_XDS_BOOTSTRAP, GRPC_XDS_BOOTSTRAP_CONFIG, DataSource environment_variable); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths (pipe paths, path_config_source); default process.cwd(). */
  readonly cwd?: string;
}

interface Source {
  readonly json: unknown;
  readonly name: string;
  readonly path?: string;
}

function readSource(path: string, cwd: string, what: string): Source {
  const abs = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new MeshletError('BOOTSTRAP_UNREADABLE', `cannot read ${what} "${path}": ${reason}`, e);
  }
  return { json: parseDocumentText(text, formatForPath(abs), path), name: path, path: abs };
}

function toCanonicalBootstrap(json: unknown, source: string, unknownFields: string[]): Canonical {
  if (json === null || json === undefined) throw new MeshletError('BOOTSTRAP_INVALID', `invalid bootstrap ${source}: the document is empty`);
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw new MeshletError('BOOTSTRAP_INVALID', `invalid bootstrap ${source}: expected an object (envoy.config.bootstrap.v3.Bootstrap)`);
  }
  try {
    return jsonToCanonical(BOOTSTRAP_TYPE, json, '', { unknownFields });
  } catch (e) {
    if (e instanceof ProtoConversionError) throw new MeshletError('BOOTSTRAP_INVALID', `invalid bootstrap ${source}: ${e.message}`, e);
    throw e;
  }
}

/** Loads and validates the bootstrap. Throws MeshletError (BOOTSTRAP_UNREADABLE | BOOTSTRAP_PARSE | BOOTSTRAP_INVALID). */
export function loadBootstrap(opts: LoadBootstrapOptions): BootstrapConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const overrides = { serviceNode: opts.serviceNode, serviceCluster: opts.serviceCluster, serviceZone: opts.serviceZone };

  let file: Source | null = null;
  if (opts.configPath) file = readSource(opts.configPath, cwd, 'bootstrap file');
  else if (opts.configYaml === undefined) {
    const grpcPath = env.GRPC_XDS_BOOTSTRAP;
    const grpcInline = env.GRPC_XDS_BOOTSTRAP_CONFIG;
    if (grpcPath) file = readSource(grpcPath, cwd, 'gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP)');
    else if (grpcInline) file = { json: parseDocumentText(grpcInline, 'json', 'GRPC_XDS_BOOTSTRAP_CONFIG'), name: 'GRPC_XDS_BOOTSTRAP_CONFIG' };
    else {
      throw new MeshletError('BOOTSTRAP_UNREADABLE', 'no bootstrap given: pass -c <file> or --config-yaml <yaml>, or set GRPC_XDS_BOOTSTRAP');
    }
  }

  if (file && isGrpcBootstrap(file.json)) {
    if (opts.configYaml !== undefined) {
      throw new MeshletError('BOOTSTRAP_INVALID', `invalid bootstrap ${file.name}: --config-yaml cannot be merged into a gRPC xDS bootstrap`);
    }
    const issues = new Issues();
    const cfg = interpretGrpcBootstrap(file.json as Record<string, unknown>, issues, { cwd, overrides, sourcePath: file.path });
    if (issues.hasErrors || !cfg) throw new MeshletError('BOOTSTRAP_INVALID', `invalid gRPC xDS bootstrap ${file.name}: ${formatErrors(issues.allErrors())}`);
    return cfg;
  }

  const unknownFields: string[] = [];
  let canonical: Canonical = file ? toCanonicalBootstrap(file.json, file.name, unknownFields) : {};
  if (opts.configYaml !== undefined) {
    const overlayJson = parseDocumentText(opts.configYaml, 'yaml', '--config-yaml');
    const overlayUnknown: string[] = [];
    const overlay = toCanonicalBootstrap(overlayJson, '--config-yaml', overlayUnknown);
    unknownFields.push(...overlayUnknown.map((p) => `--config-yaml:${p}`));
    canonical = mergeCanonical(canonical, overlay);
  }
  const source = file?.name ?? '--config-yaml';
  const issues = new Issues();
  const cfg = interpretEnvoyBootstrap(canonical, issues, { cwd, env, overrides, sourcePath: file?.path, unknownFields });
  if (issues.hasErrors) throw new MeshletError('BOOTSTRAP_INVALID', `invalid bootstrap ${source}: ${formatErrors(issues.allErrors())}`);
  return cfg;
}
