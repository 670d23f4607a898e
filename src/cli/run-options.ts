// cli/: what `meshlet run` hands to startProxy() in src/proxy.ts: the parsed flags, the loaded bootstrap and the
// logging set up from the flags. proxy.ts is the composition root that wires everything from these.
import type { BootstrapConfig } from '../bootstrap/bootstrap-config.js';
import type { LoadBootstrapOptions } from '../bootstrap/load-bootstrap.js';
import type { LogManager, Logger } from '../observability/logger.js';
import type { CliFlags } from './parse-args.js';
import type { CliIo } from './cli-io.js';

export interface RunOptions {
  readonly flags: CliFlags;
  readonly bootstrap: BootstrapConfig;
  /** Root of the application log; `logs.child('<component>')` for each subsystem; admin /logging drives it. */
  readonly logs: LogManager;
  /** The `main` component logger. */
  readonly logger: Logger;
  /** Envoy CommandLineOptions shape for /server_info. */
  readonly commandLineOptions: Readonly<Record<string, unknown>>;
  /** Process start time (epoch ms). */
  readonly startTime: number;
}

/** The signature src/proxy.ts exports. It resolves once the proxy is started (admin listening). */
export type StartProxy = (options: RunOptions) => Promise<unknown>;

/** What loadBootstrap() needs from the flags and the process (shared by run and validate). */
export function bootstrapOptions(flags: CliFlags, io: CliIo): LoadBootstrapOptions {
  return {
    configPath: flags.configPath,
    configYaml: flags.configYaml,
    serviceNode: flags.serviceNode,
    serviceCluster: flags.serviceCluster,
    serviceZone: flags.serviceZone,
    env: io.env,
    cwd: io.cwd,
  };
}
