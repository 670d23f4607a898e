// Entry point: argv → subcommand. `meshlet [run]` starts the proxy, `validate` checks a bootstrap, `wait` blocks
// until the admin says LIVE; `route-check` and `iptables` are loaded on demand from their own modules.
import { MeshletError } from './common/errors.js';
import { buildInfo } from './bootstrap/version.js';
import { parseArgs, usageText, type CliFlags } from './cli/parse-args.js';
import { processIo, printError, type CliIo } from './cli/cli-io.js';
import { runValidate } from './cli/validate.js';
import { runWait } from './cli/wait.js';
import { importOptional, runServe } from './cli/run.js';

type SubcommandModule = Record<string, unknown>;

async function runModule(spec: string, fn: string, what: string, argv: readonly string[], io: CliIo): Promise<number> {
  const mod = await importOptional<SubcommandModule>(spec, what);
  if (typeof mod === 'string') {
    printError(io, mod);
    return 1;
  }
  const f = mod[fn];
  if (typeof f !== 'function') {
    printError(io, `${spec} does not export ${fn}()`);
    return 1;
  }
  const r = await (f as (a: string[]) => unknown)([...argv]);
  return typeof r === 'number' ? r : (process.exitCode as number | undefined) ?? 0;
}

/** Runs one meshlet command; resolves with the process exit code (the proxy keeps running after `run` returns 0). */
export async function runMain(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  try {
    switch (first) {
      case 'route-check':
        return await runModule('./cli/route-check.js', 'runRouteCheck', 'meshlet route-check', rest, io);
      case 'iptables':
        return await runModule('./cli/iptables.js', 'runIptables', 'meshlet iptables', rest, io);
      case 'wait':
        return await runWait(rest, io);
      case 'version':
        io.stdout(`meshlet version: ${buildInfo().full}\n`);
        return 0;
      case 'help':
        io.stdout(usageText());
        return 0;
    }
    let flags: CliFlags;
    if (first === 'validate') flags = { ...parseArgs(rest), mode: 'validate' };
    else if (first === 'run') flags = parseArgs(rest);
    else if (first !== undefined && !first.startsWith('-')) {
      printError(io, `unknown command "${first}" (commands: run, validate, route-check, iptables, wait; see meshlet --help)`);
      return 2;
    } else flags = parseArgs(argv);
    if (flags.help) {
      io.stdout(usageText());
      return 0;
    }
    if (flags.version) {
      io.stdout(`meshlet version: ${buildInfo().full}\n`);
      return 0;
    }
    if (flags.mode === 'validate') return runValidate(flags, io);
    return await runServe(flags, io);
  } catch (e) {
    if (e instanceof MeshletError) {
      printError(io, e.message);
      return e.code === 'CLI_USAGE' ? 2 : 1;
    }
    printError(io, `unexpected error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

/** bin/meshlet.js calls this with process.argv.slice(2). */
export async function main(argv: string[]): Promise<void> {
  const code = await runMain(argv, processIo());
  process.exitCode = code;
}
