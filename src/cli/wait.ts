// cli/: `meshlet wait [--timeout S] [--admin URL]`: blocks until the admin /ready answers 200 LIVE (for an app
// container's postStart hook, like `pilot-agent wait`). Exit 0 when live, 1 on timeout, 2 on bad usage.
import { request } from 'node:http';
import { printError, type CliIo } from './cli-io.js';

export interface WaitOptions {
  readonly timeoutS: number;
  readonly adminUrl: string;
  readonly periodMs: number;
  readonly requestTimeoutMs: number;
}

const ALIASES: Record<string, keyof WaitOptions> = {
  timeout: 'timeoutS',
  timeoutSeconds: 'timeoutS',
  admin: 'adminUrl',
  url: 'adminUrl',
  periodMillis: 'periodMs',
  'period-ms': 'periodMs',
  requestTimeoutMillis: 'requestTimeoutMs',
  'request-timeout-ms': 'requestTimeoutMs',
};

export function parseWaitArgs(argv: readonly string[]): WaitOptions | string {
  const o: Record<string, string | number> = { timeoutS: 60, adminUrl: 'http://127.0.0.1:15000', periodMs: 500, requestTimeoutMs: 500 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) return `unexpected argument "${a}"`;
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const key = ALIASES[name];
    if (!key) return `unknown flag --${name} for wait (use --timeout S, --admin URL)`;
    const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) return `flag --${name} needs a value`;
    if (key === 'adminUrl') {
      const url = /^[a-z]+:\/\//.test(v) ? v : `http://${v}`;
      try { new URL(url); } catch { return `invalid admin URL "${v}"`; }
      o[key] = url;
    } else {
      const n = Number(v.replace(/s$/, ''));
      if (!Number.isFinite(n) || n < 0) return `invalid value "${v}" for --${name}`;
      o[key] = n;
    }
  }
  return o as unknown as WaitOptions;
}

function probe(url: string, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < 4096) body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

export async function runWait(argv: readonly string[], io: CliIo): Promise<number> {
  const opts = parseWaitArgs(argv);
  if (typeof opts === 'string') {
    printError(io, opts);
    return 2;
  }
  const readyUrl = new URL('/ready', opts.adminUrl).toString();
  const deadline = Date.now() + opts.timeoutS * 1000;
  let last = 'no answer';
  for (;;) {
    const r = await probe(readyUrl, opts.requestTimeoutMs);
    if (r && r.status === 200 && r.body.trim() === 'LIVE') {
      io.stdout('meshlet is ready\n');
      return 0;
    }
    last = r ? `${r.status} ${r.body.trim()}` : 'no answer';
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((res) => setTimeout(res, Math.min(opts.periodMs, left)));
  }
  printError(io, `timeout waiting for ${readyUrl} to be LIVE after ${opts.timeoutS}s (last: ${last})`);
  return 1;
}
