// listener/: recovers an accepted connection's original destination after an iptables REDIRECT (the
// envoy.filters.listener.original_dst listener filter) through the native SO_ORIGINAL_DST addon in native/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';

export interface OriginalDst {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

interface Addon {
  getOriginalDst(fd: number): OriginalDst | null;
}

type LoadState = { state: 'unloaded' } | { state: 'loaded'; addon: Addon } | { state: 'unavailable'; reason: string };
let load: LoadState = { state: 'unloaded' };

const ADDON = join('native', 'build', 'Release', 'original_dst.node');

function ensureLoaded(): LoadState {
  if (load.state !== 'unloaded') return load;
  // Works from src/listener (ts) and dist*/src/listener (compiled): walk up to the repo root holding native/.
  let dir = dirname(fileURLToPath(import.meta.url));
  let path: string | null = null;
  for (let i = 0; i < 6 && !path; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) path = candidate;
    dir = dirname(dir);
  }
  if (!path) {
    load = { state: 'unavailable', reason: `${ADDON} not built (run node scripts/build-native.mjs)` };
    return load;
  }
  try {
    const require = createRequire(import.meta.url);
    load = { state: 'loaded', addon: require(path) as Addon };
  } catch (err) {
    load = { state: 'unavailable', reason: `cannot load ${path}: ${(err as Error).message}` };
  }
  return load;
}

/** True when the native addon is loaded (Linux, built). */
export function originalDstAvailable(): boolean {
  return ensureLoaded().state === 'loaded';
}

/** Why original destination is unavailable, or null when it is available. */
export function originalDstUnavailableReason(): string | null {
  const s = ensureLoaded();
  return s.state === 'unavailable' ? s.reason : null;
}

/**
 * The destination the client originally dialled before iptables REDIRECT, or null when the connection was not
 * redirected (no conntrack NAT entry), the socket has no fd yet or the addon is unavailable.
 */
export function getOriginalDst(socket: Socket): OriginalDst | null {
  const s = ensureLoaded();
  if (s.state !== 'loaded') return null;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  const r = s.addon.getOriginalDst(fd);
  if (!r) return null;
  return { address: r.address, port: r.port, family: r.family === 6 ? 6 : 4 };
}
