// cli/: `meshlet iptables` — installs (or with --cleanup removes) the traffic-capture rules a sidecar needs, the
// way Istio's istio-iptables does in REDIRECT mode: outbound TCP → 15001 except the proxy's own uid/gid and
// loopback, inbound TCP → 15006 except excluded ports. Idempotent: our chains are removed and recreated, then
// written in one `iptables-restore --noflush` transaction. Usable as an init-container command.
import { spawn } from 'node:child_process';
import { isIP } from 'node:net';

export interface IptablesOptions {
  readonly proxyPort: number;
  readonly inboundCapturePort: number;
  readonly proxyUids: readonly string[];
  readonly proxyGids: readonly string[];
  /** '*' = all, '' = none, else CIDRs. */
  readonly outboundIpRangesInclude: string;
  readonly outboundIpRangesExclude: readonly string[];
  /** '*' = all, '' = none, else ports. */
  readonly inboundPortsInclude: string;
  readonly inboundPortsExclude: readonly number[];
  readonly outboundPortsInclude: readonly number[];
  readonly outboundPortsExclude: readonly number[];
  readonly ipv6: boolean;
  readonly dryRun: boolean;
  readonly cleanup: boolean;
}

/** Ports istio-iptables always leaves uncaptured inbound: Envoy Prometheus, health, agent. */
export const ALWAYS_EXCLUDED_INBOUND_PORTS = [15090, 15021, 15020] as const;
/** HBONE tunnel port, always returned first in ISTIO_INBOUND. */
const HBONE_PORT = 15008;
const CHAINS = ['ISTIO_INBOUND', 'ISTIO_REDIRECT', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT'] as const;
const JUMPS: ReadonlyArray<readonly [string, string]> = [['PREROUTING', 'ISTIO_INBOUND'], ['OUTPUT', 'ISTIO_OUTPUT']];

const USAGE = `usage: meshlet iptables [options]
  -p, --proxy-port PORT                    outbound capture port (default 15001)
  -z, --inbound-capture-port PORT          inbound capture port (default 15006)
  -u, --proxy-uid UID[,UID]                uid(s) whose traffic is not captured (default 1337)
  -g, --proxy-gid GID[,GID]                gid(s) whose traffic is not captured (default 1337)
  -m, --istio-inbound-interception-mode M  only REDIRECT is supported
  -i, --outbound-ip-ranges-include CIDRS   '*' (default) or comma-separated CIDRs; '' disables outbound capture
  -x, --outbound-ip-ranges-exclude CIDRS   comma-separated CIDRs never captured
  -b, --inbound-ports-include PORTS        '*' (default) or comma-separated ports; '' disables inbound capture
  -d, --inbound-ports-exclude PORTS        ports not captured inbound (15090,15021,15020 always)
  -q, --outbound-ports-include PORTS       ports always captured outbound
  -o, --outbound-ports-exclude PORTS       ports never captured outbound
      --ipv6, --enable-ipv6                also program ip6tables
      --dry-run                            print the iptables-restore input instead of applying it
      --cleanup                            remove meshlet's (ISTIO_*) chains and jumps
  -h, --help`;

class UsageError extends Error {}

function ports(v: string, flag: string): number[] {
  if (v.trim() === '') return [];
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${flag}: invalid port '${s}'`);
    return n;
  });
}

function cidrs(v: string, flag: string): string[] {
  if (v.trim() === '') return [];
  return v.split(',').map((raw) => {
    const s = raw.trim();
    const [ip, len, extra] = s.split('/');
    const fam = isIP(ip);
    const max = fam === 6 ? 128 : 32;
    const n = len === undefined ? max : Number(len);
    if (!fam || extra !== undefined || !Number.isInteger(n) || n < 0 || n > max || (len !== undefined && len.trim() === '')) {
      throw new UsageError(`${flag}: invalid CIDR '${s}'`);
    }
    return `${ip}/${n}`;
  });
}

function ids(v: string, flag: string): string[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0 || list.some((s) => !/^\d+$/.test(s))) throw new UsageError(`${flag}: expected numeric id(s), got '${v}'`);
  return list;
}

/** Parses istio-iptables-compatible flags. Throws UsageError on a bad flag. */
export function parseIptablesArgs(argv: readonly string[]): IptablesOptions | 'help' {
  const o = {
    proxyPort: 15001, inboundCapturePort: 15006, proxyUids: ['1337'], proxyGids: ['1337'],
    outboundIpRangesInclude: '*', outboundIpRangesExclude: [] as string[], inboundPortsInclude: '*',
    inboundPortsExclude: [] as number[], outboundPortsInclude: [] as number[], outboundPortsExclude: [] as number[],
    ipv6: false, dryRun: false, cleanup: false,
  };
  const takesValue: Record<string, string> = {
    '-p': 'proxy-port', '-z': 'inbound-capture-port', '-u': 'proxy-uid', '-g': 'proxy-gid', '-m': 'istio-inbound-interception-mode',
    '-i': 'outbound-ip-ranges-include', '-x': 'outbound-ip-ranges-exclude', '-b': 'inbound-ports-include',
    '-d': 'inbound-ports-exclude', '-q': 'outbound-ports-include', '-o': 'outbound-ports-exclude',
  };
  const longNames = new Set(Object.values(takesValue));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--ipv6' || arg === '--enable-ipv6') { o.ipv6 = true; continue; }
    if (arg === '--dry-run' || arg === '-n') { o.dryRun = true; continue; }
    if (arg === '--cleanup') { o.cleanup = true; continue; }
    let name: string | undefined;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq >= 0) value = arg.slice(eq + 1);
      if (!longNames.has(name)) throw new UsageError(`unknown flag ${arg}`);
    } else {
      name = takesValue[arg];
      if (!name) throw new UsageError(`unknown flag ${arg}`);
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      value = argv[++i];
    }
    const flag = `--${name}`;
    switch (name) {
      case 'proxy-port': o.proxyPort = ports(value, flag)[0] ?? NaN; break;
      case 'inbound-capture-port': o.inboundCapturePort = ports(value, flag)[0] ?? NaN; break;
      case 'proxy-uid': o.proxyUids = ids(value, flag); break;
      case 'proxy-gid': o.proxyGids = ids(value, flag); break;
      case 'istio-inbound-interception-mode':
        if (value !== 'REDIRECT') throw new UsageError(`${flag}: only REDIRECT is supported (TPROXY needs IP_TRANSPARENT, which Node.js cannot set)`);
        break;
      case 'outbound-ip-ranges-include': o.outboundIpRangesInclude = value.trim() === '*' ? '*' : cidrs(value, flag).join(','); break;
      case 'outbound-ip-ranges-exclude': o.outboundIpRangesExclude = cidrs(value, flag); break;
      case 'inbound-ports-include': o.inboundPortsInclude = value.trim() === '*' ? '*' : ports(value, flag).join(','); break;
      case 'inbound-ports-exclude': o.inboundPortsExclude = ports(value, flag); break;
      case 'outbound-ports-include': o.outboundPortsInclude = ports(value, flag); break;
      case 'outbound-ports-exclude': o.outboundPortsExclude = ports(value, flag); break;
    }
  }
  if (!Number.isInteger(o.proxyPort) || !Number.isInteger(o.inboundCapturePort)) throw new UsageError('a port value is missing');
  return o;
}

const uniq = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

/** The nat-table iptables-restore input for one address family (4 or 6). */
export function buildRestoreInput(o: IptablesOptions, family: 4 | 6): string {
  const passthroughSrc = family === 4 ? '127.0.0.6/32' : '::6/128';
  const loopback = family === 4 ? '127.0.0.1/32' : '::1/128';
  const ofFamily = (list: readonly string[]): string[] => list.filter((c) => isIP(c.split('/')[0]) === family);
  const lines: string[] = ['*nat'];
  for (const c of CHAINS) lines.push(`:${c} - [0:0]`);
  const A = (rule: string): void => { lines.push(`-A ${rule}`); };

  // Inbound (same order as istio-iptables prints it).
  if (o.inboundPortsInclude !== '') {
    A('PREROUTING -p tcp -j ISTIO_INBOUND');
    A(`ISTIO_INBOUND -p tcp --dport ${HBONE_PORT} -j RETURN`);
    if (o.inboundPortsInclude === '*') {
      for (const p of uniq([...ALWAYS_EXCLUDED_INBOUND_PORTS, ...o.inboundPortsExclude])) A(`ISTIO_INBOUND -p tcp --dport ${p} -j RETURN`);
      A('ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT');
    } else {
      const excluded = new Set<number>([...ALWAYS_EXCLUDED_INBOUND_PORTS, ...o.inboundPortsExclude, HBONE_PORT]);
      for (const p of uniq(o.inboundPortsInclude.split(',').map(Number))) {
        if (!excluded.has(p)) A(`ISTIO_INBOUND -p tcp --dport ${p} -j ISTIO_IN_REDIRECT`);
      }
    }
  }

  A(`ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${o.inboundCapturePort}`);

  // Outbound.
  A('OUTPUT -p tcp -j ISTIO_OUTPUT');
  for (const p of uniq(o.outboundPortsExclude)) A(`ISTIO_OUTPUT -p tcp --dport ${p} -j RETURN`);
  A(`ISTIO_OUTPUT -o lo -s ${passthroughSrc} -j RETURN`);
  for (const [kind, list] of [['uid', o.proxyUids], ['gid', o.proxyGids]] as const) {
    for (const id of list) {
      A(`ISTIO_OUTPUT -o lo ! -d ${loopback} -m owner --${kind}-owner ${id} -j ISTIO_IN_REDIRECT`);
      A(`ISTIO_OUTPUT -o lo -m owner ! --${kind}-owner ${id} -j RETURN`);
      A(`ISTIO_OUTPUT -m owner --${kind}-owner ${id} -j RETURN`);
    }
  }
  A(`ISTIO_OUTPUT -d ${loopback} -j RETURN`);
  for (const p of uniq(o.outboundPortsInclude)) A(`ISTIO_OUTPUT -p tcp --dport ${p} -j ISTIO_REDIRECT`);
  for (const c of uniq(ofFamily(o.outboundIpRangesExclude))) A(`ISTIO_OUTPUT -d ${c} -j RETURN`);
  if (o.outboundIpRangesInclude === '*') {
    A('ISTIO_OUTPUT -j ISTIO_REDIRECT');
  } else if (o.outboundIpRangesInclude !== '') {
    for (const c of uniq(ofFamily(o.outboundIpRangesInclude.split(',')))) A(`ISTIO_OUTPUT -d ${c} -j ISTIO_REDIRECT`);
    A('ISTIO_OUTPUT -j RETURN');
  }
  A(`ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${o.proxyPort}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The commands --cleanup runs (each may fail harmlessly when the rule or chain is absent). */
export function cleanupCommands(): string[][] {
  const cmds: string[][] = [];
  for (const [from, to] of JUMPS) cmds.push(['-t', 'nat', '-D', from, '-p', 'tcp', '-j', to]);
  for (const c of CHAINS) cmds.push(['-t', 'nat', '-F', c]);
  for (const c of CHAINS) cmds.push(['-t', 'nat', '-X', c]);
  return cmds;
}

export interface ExecResult { readonly code: number; readonly stderr: string }
export type Exec = (cmd: string, args: readonly string[], stdin?: string) => Promise<ExecResult>;

export interface IptablesIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly exec: Exec;
}

const defaultExec: Exec = (cmd, args, stdin) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (err) => resolve({ code: 127, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });

const defaultIo: IptablesIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  exec: defaultExec,
};

async function cleanup(bin: string, io: IptablesIo): Promise<void> {
  for (const args of cleanupCommands()) {
    // A jump may have been added more than once by other tools: delete until none is left (bounded).
    const repeat = args[2] === '-D' ? 16 : 1;
    for (let i = 0; i < repeat; i++) if ((await io.exec(bin, args)).code !== 0) break;
  }
}

/** `meshlet iptables` entry point; returns the process exit code (0 ok, 1 failure, 2 usage). */
export async function runIptables(argv: string[], io: IptablesIo = defaultIo): Promise<number> {
  let o: IptablesOptions | 'help';
  try {
    o = parseIptablesArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`meshlet iptables: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (o === 'help') {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const families: Array<4 | 6> = o.ipv6 ? [4, 6] : [4];
  const bins = (f: 4 | 6): { iptables: string; restore: string } => (f === 4 ? { iptables: 'iptables', restore: 'iptables-restore' } : { iptables: 'ip6tables', restore: 'ip6tables-restore' });
  if (o.dryRun) {
    for (const f of families) {
      const b = bins(f);
      if (o.cleanup) {
        for (const args of cleanupCommands()) io.stdout(`${b.iptables} ${args.join(' ')}\n`);
      } else {
        io.stdout(`# ${b.restore} --noflush\n${buildRestoreInput(o, f)}`);
      }
    }
    return 0;
  }
  for (const f of families) {
    const b = bins(f);
    await cleanup(b.iptables, io);
    if (o.cleanup) continue;
    const r = await io.exec(b.restore, ['--noflush'], buildRestoreInput(o, f));
    if (r.code !== 0) {
      io.stderr(`meshlet iptables: ${b.restore} failed (exit ${r.code}): ${r.stderr.trim()}\n`);
      return 1;
    }
  }
  io.stdout(o.cleanup ? 'meshlet iptables: capture rules removed\n' : `meshlet iptables: capture rules installed (outbound → ${o.proxyPort}, inbound → ${o.inboundCapturePort}${o.ipv6 ? ', IPv4 and IPv6' : ''})\n`);
  return 0;
}
