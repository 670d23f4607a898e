// bootstrap/: meshlet's build identity for `--version`, /server_info and node.user_agent_build_version, in Envoy's
// `<sha>/<version>/<Clean|Modified>/<RELEASE|DEBUG>/<ssl>` shape (the last part names the TLS stack: nodejs).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  readonly version: string;
  readonly sha: string;
  /** Envoy-style full version string, e.g. `4d288a5…/0.1.0/Clean/RELEASE/nodejs`. */
  readonly full: string;
}

let cached: BuildInfo | null = null;

function findRepoRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return null;
}

function readSha(root: string): string {
  if (process.env.MESHLET_BUILD_SHA) return process.env.MESHLET_BUILD_SHA;
  try {
    const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    const refFile = join(root, '.git', ref);
    if (existsSync(refFile)) return readFileSync(refFile, 'utf8').trim();
    const packed = readFileSync(join(root, '.git', 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line) return line.split(' ')[0];
  } catch {
    // not a git checkout (installed package, container image)
  }
  return '0000000000000000000000000000000000000000';
}

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const root = findRepoRoot();
  let version = '0.0.0';
  let sha = '0000000000000000000000000000000000000000';
  if (root) {
    try {
      version = String(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version ?? version);
    } catch {
      // keep the default
    }
    sha = readSha(root);
  }
  cached = Object.freeze({ version, sha, full: `${sha}/${version}/Clean/RELEASE/nodejs` });
  return cached;
}
