// cli/: `meshlet [run]`: sets up logging from the flags, loads the bootstrap, and hands RunOptions to startProxy()
// from src/proxy.ts (imported dynamically so a missing runtime gives a clear error instead of a stack trace).
import { MeshletError } from '../common/errors.js';
import { loadBootstrap } from '../bootstrap/load-bootstrap.js';
import { createLogManager } from '../observability/logger.js';
import { commandLineOptionsJson, type CliFlags } from './parse-args.js';
import { bootstrapOptions, type RunOptions, type StartProxy } from './run-options.js';
import { printError, type CliIo } from './cli-io.js';

/** Imports a sibling module by a specifier TypeScript does not resolve (it may not be built yet). */
export async function importOptional<T>(spec: string, what: string): Promise<T | string> {
  try {
    return (await import(spec)) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(spec.replace(/^\.+\//, ''))) {
      return `${what} is not available in this build (${spec} not found)`;
    }
    throw e;
  }
}

export async function runServe(flags: CliFlags, io: CliIo): Promise<number> {
  const startTime = Date.now();
  const logs = createLogManager({
    level: flags.logLevel,
    componentLevels: flags.componentLogLevel,
    ...(flags.logFormat !== undefined ? { format: flags.logFormat } : {}),
    ...(flags.logPath !== undefined ? { path: flags.logPath } : {}),
  });
  const logger = logs.child('main');
  let bootstrap;
  try {
    bootstrap = loadBootstrap(bootstrapOptions(flags, io));
  } catch (e) {
    if (e instanceof MeshletError) {
      printError(io, e.message);
      return 1;
    }
    throw e;
  }
  const config = logs.child('config');
  for (const f of bootstrap.unknownFields) config.debug({ field: f }, 'unknown bootstrap field ignored');
  for (const w of bootstrap.warnings) config.warn(w);
  config.info({ dialect: bootstrap.dialect, node: bootstrap.node.id, source: bootstrap.sourcePath ?? '--config-yaml' }, 'bootstrap loaded');

  const mod = await importOptional<{ startProxy?: StartProxy }>('../proxy.js', 'the proxy runtime (src/proxy.ts)');
  if (typeof mod === 'string' || typeof mod.startProxy !== 'function') {
    printError(io, typeof mod === 'string' ? mod : 'src/proxy.ts does not export startProxy()');
    return 1;
  }
  const options: RunOptions = { flags, bootstrap, logs, logger, commandLineOptions: commandLineOptionsJson(flags), startTime };
  try {
    await mod.startProxy(options);
  } catch (e) {
    printError(io, `cannot start: ${(e as Error).message}`);
    logs.flush();
    return 1;
  }
  printDemoHint(options, io);
  return 0;
}

/** For bootstraps that carry node.metadata.MESHLET_DEMO_HINT (bootstrap/demo.yaml): say what to curl. */
function printDemoHint(o: RunOptions, io: CliIo): void {
  const hint = o.bootstrap.node.metadata.MESHLET_DEMO_HINT;
  if (typeof hint !== 'string') return;
  const a = o.bootstrap.admin;
  const lines = ['meshlet is running.'];
  if (a) lines.push(`  admin:    ${a.kind === 'socket' ? `http://${a.address}:${a.port}/` : a.path}`);
  for (const l of o.bootstrap.staticResources.listeners) {
    const sa = (l.address as { socket_address?: { address?: string; port_value?: number } } | undefined)?.socket_address;
    if (sa) lines.push(`  listener: ${String(l.name ?? '')} on http://${sa.address}:${sa.port_value ?? 0}/`);
  }
  lines.push(`  ${hint.trim()}`);
  io.stdout(`${lines.join('\n')}\n`);
}
