// Bench harness: finds the external programs (wrk, h2load, haproxy, nginx + its stream module, taskset, openssl)
// and, when root and allowed, installs the missing ones from Debian packages.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Tools {
  readonly wrk: string | null;
  readonly h2load: string | null;
  readonly haproxy: string | null;
  readonly nginx: string | null;
  /** path of ngx_stream_module.so when nginx's stream module is dynamic; '' when built in; null when missing */
  readonly nginxStreamModule: string | null;
  readonly taskset: string | null;
  readonly openssl: string | null;
  readonly versions: Readonly<Record<string, string>>;
  /** what could not be installed and why */
  readonly notes: readonly string[];
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    const p = `${dir}/${cmd}`;
    if (dir && existsSync(p)) return p;
  }
  return null;
}

function version(cmd: string | null, args: string[], re: RegExp): string | null {
  if (!cmd) return null;
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  const m = re.exec(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  return m ? m[1] : null;
}

const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

function nginxStream(nginx: string | null): string | null {
  if (!nginx) return null;
  const r = spawnSync(nginx, ['-V'], { encoding: 'utf8', timeout: 5000 });
  const conf = `${r.stdout}${r.stderr}`;
  if (/--with-stream(\s|$)/.test(conf)) return '';
  if (/--with-stream=dynamic/.test(conf) && existsSync(STREAM_MODULE)) return STREAM_MODULE;
  return null;
}

/** apt-get install; `apt-get update` only when the first attempt fails. Returns an error text or null. */
function aptInstall(pkgs: string[], timeoutMs: number): string | null {
  if (pkgs.length === 0) return null;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return `not root, cannot install ${pkgs.join(' ')}`;
  if (!which('apt-get')) return `no apt-get, cannot install ${pkgs.join(' ')}`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { env, stdio: 'ignore', timeout: timeoutMs }).status === 0;
  if (install()) return null;
  spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: timeoutMs });
  return install() ? null : `apt-get install ${pkgs.join(' ')} failed`;
}

/** Detects tools; installs missing ones first when `install` is true. */
export function detectTools(install: boolean, log: (s: string) => void): Tools {
  const notes: string[] = [];
  if (install) {
    const want: string[] = [];
    if (!which('wrk')) want.push('wrk');
    if (!which('h2load')) want.push('nghttp2-client');
    if (!which('haproxy')) want.push('haproxy');
    if (!which('nginx')) want.push('nginx');
    if (!which('openssl')) want.push('openssl');
    if (nginxStream(which('nginx')) === null) want.push('libnginx-mod-stream');
    if (want.length > 0) {
      log(`installing ${want.join(' ')} …`);
      const err = aptInstall(want, 300_000);
      if (err) {
        // retry one by one so one missing package does not block the others
        for (const p of want) { const e = aptInstall([p], 300_000); if (e) notes.push(e); }
      }
    }
  }
  const wrk = which('wrk');
  const h2load = which('h2load');
  const haproxy = which('haproxy');
  const nginx = which('nginx');
  const versions: Record<string, string> = {};
  const set = (k: string, v: string | null): void => { if (v) versions[k] = v; };
  set('wrk', version(wrk, ['-v'], /wrk (\S+)/));
  set('h2load', version(h2load, ['--version'], /nghttp2\/(\S+)/));
  set('haproxy', version(haproxy, ['-v'], /HA-?Proxy version (\S+)/i));
  set('nginx', version(nginx, ['-v'], /nginx\/(\S+)/));
  set('node', process.versions.node);
  return {
    wrk, h2load, haproxy, nginx,
    nginxStreamModule: nginxStream(nginx),
    taskset: which('taskset'),
    openssl: which('openssl'),
    versions,
    notes,
  };
}
