// cli/: `meshlet validate` / `--mode validate`: load and check the bootstrap, print one line, exit 0 or 1 (like
// `envoy --mode validate`). Static listeners/clusters are checked by the bootstrap loader's structural rules.
import { MeshletError } from '../common/errors.js';
import { loadBootstrap } from '../bootstrap/load-bootstrap.js';
import type { CliFlags } from './parse-args.js';
import { printError, type CliIo } from './cli-io.js';

export function runValidate(flags: CliFlags, io: CliIo): number {
  try {
    const cfg = loadBootstrap({
      configPath: flags.configPath,
      configYaml: flags.configYaml,
      serviceNode: flags.serviceNode,
      serviceCluster: flags.serviceCluster,
      serviceZone: flags.serviceZone,
      env: io.env,
      cwd: io.cwd,
    });
    const what = flags.configPath ?? (cfg.sourcePath ? cfg.sourcePath : '--config-yaml');
    io.stdout(`configuration '${what}' OK\n`);
    return 0;
  } catch (e) {
    if (e instanceof MeshletError) {
      printError(io, e.message);
      return 1;
    }
    throw e;
  }
}
