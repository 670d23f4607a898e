// process/: loads the hot-restart addon (native/hot_restart.c: SCM_RIGHTS fd passing over a Unix socket) for the
// hot-restart parent and child. Missing addon (no toolchain at install, non-Linux) is a state, not a crash: only
// --restart-epoch > 0 needs it, and it fails with one line saying why. MESHLET_HOT_RESTART_ADDON overrides the path.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions; every one throws an Error whose `code` is an errno name (ECONNREFUSED, ETIMEDOUT, …). */
export interface HotRestartAddon {
  /** A connected, blocking AF_UNIX stream socket; a name starting with '@' is abstract (Linux). */
  connectUnix(name: string): number;
  /** One frame (u32 BE length + payload) with `fds` attached (SCM_RIGHTS); waits at most timeoutMs for buffer room. */
  sendFds(sockFd: number, fds: readonly number[], payload: Buffer, timeoutMs?: number): void;
  /** Exactly one frame and the fds that came with it; over maxFds or 1 MiB → EMSGSIZE (received fds closed). */
  recvFds(sockFd: number, maxFds: number, timeoutMs: number): { fds: number[]; payload: Buffer };
  /** The connected peer's credentials (SO_PEERCRED). */
  peerCred(sockFd: number): { pid: number; uid: number; gid: number };
  closeFd(fd: number): void;
  readonly MAX_FDS: number;
}

export type HotRestartAddonState =
  | { readonly state: 'loaded'; readonly addon: HotRestartAddon }
  | { readonly state: 'unavailable'; readonly reason: string };

const ADDON = join('native', 'build', 'Release', 'hot_restart.node');
let cached: HotRestartAddonState | null = null;

function locate(): string | null {
  const override = process.env.MESHLET_HOT_RESTART_ADDON;
  if (override !== undefined) return existsSync(override) ? override : null;
  // Works from src/process (ts) and dist*/src/process (compiled): walk up to the repo root holding native/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}

/** Loads the addon once; later calls return the same state. */
export function loadHotRestartAddon(): HotRestartAddonState {
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { state: 'unavailable', reason: `hot restart needs Linux (platform ${process.platform})` });
  const path = locate();
  if (!path) {
    const where = process.env.MESHLET_HOT_RESTART_ADDON ?? ADDON;
    return (cached = { state: 'unavailable', reason: `${where} not built (run node scripts/build-native.mjs)` });
  }
  try {
    const require = createRequire(import.meta.url);
    cached = { state: 'loaded', addon: require(path) as HotRestartAddon };
  } catch (e) {
    cached = { state: 'unavailable', reason: `cannot load ${path}: ${(e as Error).message}` };
  }
  return cached;
}
