// cli/: `meshlet validate` / `--mode validate`: load and check the bootstrap, then translate its static listeners
// and clusters with the same translators xDS resources go through (like `envoy --mode validate`). Prints one line;
// exit 0 when valid, 1 otherwise.
import { MeshletError } from '../common/errors.js';
import { formatErrors, type FieldError } from '../common/validation.js';
import { loadBootstrap } from '../bootstrap/load-bootstrap.js';
import type { BootstrapConfig } from '../bootstrap/bootstrap-config.js';
import type { ResourceType } from '../xds/resource-type.js';
import { listenerResourceType } from '../xds/resource-types/listener.js';
import { clusterResourceType } from '../xds/resource-types/cluster.js';
import type { CliFlags } from './parse-args.js';
import { bootstrapOptions } from './run-options.js';
import { printError, type CliIo } from './cli-io.js';

/** Translates static_resources with the xDS translators; errors carry `static_resources.<kind>[i].` paths. */
export function checkStaticResources(cfg: BootstrapConfig): FieldError[] {
  const errors: FieldError[] = [];
  const ctx = { node: cfg.node };
  const run = (list: readonly Record<string, unknown>[], rt: ResourceType<unknown>, field: string): void => {
    list.forEach((raw, i) => {
      const prefix = `static_resources.${field}[${i}]`;
      let r;
      try {
        r = rt.translate(raw, ctx);
      } catch (e) {
        errors.push({ path: prefix, message: `translator failed: ${(e as Error).message}` });
        return;
      }
      if (!r.ok) for (const e of r.errors) errors.push({ path: e.path ? `${prefix}.${e.path}` : prefix, message: e.message });
    });
  };
  run(cfg.staticResources.clusters, clusterResourceType as ResourceType<unknown>, 'clusters');
  run(cfg.staticResources.listeners, listenerResourceType as ResourceType<unknown>, 'listeners');
  return errors;
}

export function runValidate(flags: CliFlags, io: CliIo): number {
  const what = flags.configPath ?? '--config-yaml';
  try {
    const cfg = loadBootstrap(bootstrapOptions(flags, io));
    const errors = checkStaticResources(cfg);
    if (errors.length) {
      printError(io, `invalid bootstrap ${flags.configPath ?? cfg.sourcePath ?? what}: ${formatErrors(errors)}`);
      return 1;
    }
    io.stdout(`configuration '${flags.configPath ?? cfg.sourcePath ?? what}' OK\n`);
    return 0;
  } catch (e) {
    if (e instanceof MeshletError) {
      printError(io, e.message);
      return 1;
    }
    throw e;
  }
}
