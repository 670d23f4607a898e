// test support: Linux network namespaces for interception tests — create namespaces joined by veth pairs, run
// commands and long-lived processes inside them (optionally as another uid), and tear everything down. Every name
// is prefixed `ml-<pid>-` so parallel runs never collide; namespaces get no route outside themselves.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why namespace tests cannot run here, or null when they can (root, `ip`, `iptables`, namespaces allowed). */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (platform ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (network namespaces and iptables need root)';
  for (const tool of ['ip', 'iptables', 'iptables-restore', 'setpriv']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed (run test/setup.sh as root)`;
    }
  }
  const probe = `ml-${process.pid}-probe`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-L', '-n']);
  } catch (err) {
    return `cannot create a network namespace with a nat table: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await run('ip', ['netns', 'del', probe]).catch(() => {});
  }
  return null;
}

export interface ExecOptions {
  /** Run as this uid/gid (via setpriv, groups cleared). */
  readonly uid?: number;
  readonly gid?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

function wrap(ns: string, argv: readonly string[], o: ExecOptions = {}): string[] {
  const user = o.uid === undefined ? [] : ['setpriv', `--reuid=${o.uid}`, `--regid=${o.gid ?? o.uid}`, '--clear-groups'];
  return ['netns', 'exec', ns, ...user, ...argv];
}

/** A set of namespaces and the processes started in them; destroy() removes all of it. */
export class NetnsLab {
  readonly prefix = `ml-${process.pid}-`;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();

  /** Creates namespace `ml-<pid>-<name>` with loopback up. Returns its full name. */
  async addNamespace(name: string): Promise<string> {
    const ns = `${this.prefix}${name}`;
    await run('ip', ['netns', 'del', ns]).catch(() => {});
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * Joins two namespaces with a veth pair and addresses ('10.0.0.1/24'); interface names are short (IFNAMSIZ).
   * No default route is added: each namespace only reaches the other's subnet.
   */
  async link(a: string, aAddr: string, b: string, bAddr: string): Promise<{ aIf: string; bIf: string }> {
    const id = `${process.pid % 100000}${this.namespaces.length}`;
    const aIf = `mla${id}`.slice(0, 15);
    const bIf = `mlb${id}`.slice(0, 15);
    await run('ip', ['link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf]);
    await run('ip', ['link', 'set', aIf, 'netns', a]);
    await run('ip', ['link', 'set', bIf, 'netns', b]);
    await this.exec(a, ['ip', 'addr', 'add', aAddr, 'dev', aIf]);
    await this.exec(b, ['ip', 'addr', 'add', bAddr, 'dev', bIf]);
    await this.exec(a, ['ip', 'link', 'set', aIf, 'up']);
    await this.exec(b, ['ip', 'link', 'set', bIf, 'up']);
    return { aIf, bIf };
  }

  /** Runs a command in a namespace to completion; rejects on a non-zero exit. */
  async exec(ns: string, argv: readonly string[], o: ExecOptions = {}): Promise<{ stdout: string; stderr: string }> {
    return run('ip', wrap(ns, argv, o), { timeout: o.timeoutMs ?? 30_000, env: o.env ?? process.env });
  }

  /** Starts a long-lived process in a namespace; it is killed by destroy(). Its stdout/stderr are piped (stdin is closed). */
  spawn(ns: string, argv: readonly string[], o: ExecOptions = {}): ChildProcess {
    const child = spawn('ip', wrap(ns, argv, o), { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills every process started here and deletes every namespace (which removes their veths and rules). */
  async destroy(): Promise<void> {
    const exits = [...this.children].map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const t = setTimeout(() => { c.kill('SIGKILL'); }, 2000);
      c.once('exit', () => { clearTimeout(t); resolve(); });
      c.kill('SIGTERM');
    }));
    await Promise.all(exits);
    for (const ns of this.namespaces.splice(0)) {
      // Any process still holding the namespace would keep it alive: kill by namespace, then delete.
      await run('ip', ['netns', 'pids', ns]).then(({ stdout }) => {
        for (const pid of stdout.split('\n').filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
      }).catch(() => {});
      await run('ip', ['netns', 'del', ns]).catch(() => {});
    }
  }
}
