// Bench harness: launches every child process (peers, backends, load generators), pinned with taskset when asked,
// and kills exactly those PIDs (and their descendants) on stop, exit or signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { processTree } from './proc-stats.js';

export interface LaunchOptions {
  /** taskset CPU list (e.g. "1"); ignored when taskset is unavailable */
  readonly cpus?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export class ManagedProcess {
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;
  private out = '';
  private err = '';
  constructor(readonly label: string, readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { this.out = (this.out + d).slice(-1_000_000); });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.err = (this.err + d).slice(-20_000); });
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => { this.err += `\nspawn error: ${e.message}`; this.exitCode = null; resolve(null); });
      child.once('exit', (code, signal) => { this.exitCode = code ?? (signal ? -1 : null); resolve(this.exitCode); });
    });
  }
  get pid(): number { return this.child.pid ?? -1; }
  get running(): boolean { return this.exitCode === undefined && this.pid > 0; }
  get stdout(): string { return this.out; }
  get stderr(): string { return this.err; }
  /** Last lines of stderr+stdout, for "unavailable (reason)" messages. */
  tail(chars = 400): string {
    const text = this.err.trim() || this.out.trim();
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const key = lines.find((l) => /\b(error|alert|emerg|fatal|cannot|failed)\b/i.test(l));
    return (key ?? lines[lines.length - 1] ?? '').slice(0, chars);
  }
}

/** Owns every process the harness starts. */
export class ProcessRegistry {
  private readonly live = new Set<ManagedProcess>();
  private readonly known = new Set<number>();
  constructor(private readonly taskset: string | null) {}

  start(label: string, cmd: string, args: readonly string[], opts: LaunchOptions = {}): ManagedProcess {
    const pin = opts.cpus && this.taskset ? [this.taskset, '-c', opts.cpus] : [];
    const argv = [...pin, cmd, ...args];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    const p = new ManagedProcess(label, child);
    this.live.add(p);
    if (child.pid) this.known.add(child.pid);
    void p.exited.then(() => this.live.delete(p));
    return p;
  }

  /** Runs a command to completion (bounded by timeoutMs) and returns its exit code and output. */
  async run(label: string, cmd: string, args: readonly string[], timeoutMs: number, opts: LaunchOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const p = this.start(label, cmd, args, opts);
    const timer = setTimeout(() => this.signalTree(p, 'SIGKILL'), timeoutMs);
    const code = await p.exited;
    clearTimeout(timer);
    return { code, stdout: p.stdout, stderr: p.stderr };
  }

  /** SIGTERM the process and its descendants, SIGKILL whatever is left after graceMs. */
  async stop(p: ManagedProcess, graceMs = 2000): Promise<void> {
    if (!p.running) return;
    const tree = this.signalTree(p, 'SIGTERM');
    const t = setTimeout(() => { for (const pid of tree) this.kill(pid, 'SIGKILL'); }, graceMs);
    await p.exited;
    clearTimeout(t);
    // descendants (nginx workers) may outlive the root briefly
    for (const pid of tree) this.kill(pid, 'SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((p) => this.stop(p)));
  }

  /** Synchronous last resort for process exit: SIGKILL every live child and its descendants. */
  killAllSync(): void {
    for (const p of this.live) this.signalTree(p, 'SIGKILL');
  }

  /** Kills children when the harness exits or is interrupted. */
  installExitHandlers(): void {
    process.once('exit', () => this.killAllSync());
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => { this.killAllSync(); process.exit(130); });
    }
  }

  private signalTree(p: ManagedProcess, sig: NodeJS.Signals): number[] {
    if (!p.running) return [];
    let tree: number[] = [p.pid];
    try { tree = processTree(p.pid); } catch { /* no /proc */ }
    for (const pid of tree) this.kill(pid, sig);
    return tree;
  }

  private kill(pid: number, sig: NodeJS.Signals): void {
    try { process.kill(pid, sig); } catch { /* already gone */ }
  }
}
