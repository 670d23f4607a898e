// Bench harness: describes the machine (nproc, CPU model, node version) and decides which cores the load generator,
// the proxy under test and the backend are pinned to.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly kernel: string;
}

export interface CpuPlan {
  /** taskset CPU lists, or null when not pinning */
  readonly loadgen: string | null;
  readonly proxy: string | null;
  /** CPUs of a two-worker proxy (h1-50-c2's `*-t2`, `*-x2`, `*-c2` targets): the proxy's CPU plus one more */
  readonly proxy2: string | null;
  /** true when proxy2 includes the load generator's CPU (a 2- or 3-CPU machine): the second worker competes with the
   *  load generator and the backend, so the scaling factor is a lower bound of what a free core would give */
  readonly proxy2SharesLoadgen: boolean;
  readonly backend: string | null;
  /** nginx backend worker count */
  readonly backendWorkers: number;
}

export function machineInfo(): MachineInfo {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch { /* not Linux */ }
  const nproc = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return { nproc, cpuModel: model, node: process.version, kernel: `${os.type()} ${os.release()}` };
}

/**
 * Load generator and proxy always get different cores when there are at least two; the backend shares the load
 * generator's core on a 2- or 3-core machine and gets the remaining cores on bigger ones. A two-worker proxy gets the
 * proxy's core plus core 2 when there are at least 4 (the backend then starts at core 3), else cores 0-1, shared with
 * the load generator and the backend.
 */
export function cpuPlan(nproc: number, tasksetAvailable: boolean): CpuPlan {
  if (!tasksetAvailable || nproc < 2) return { loadgen: null, proxy: null, proxy2: null, proxy2SharesLoadgen: false, backend: null, backendWorkers: 1 };
  if (nproc < 4) return { loadgen: '0', proxy: '1', proxy2: '0-1', proxy2SharesLoadgen: true, backend: '0', backendWorkers: 1 };
  const backendWorkers = Math.min(nproc - 3, 4);
  return { loadgen: '0', proxy: '1', proxy2: '1-2', proxy2SharesLoadgen: false, backend: `3-${2 + backendWorkers}`, backendWorkers };
}
