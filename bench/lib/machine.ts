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
 * generator's core on a 2-core machine and gets the remaining cores on bigger ones.
 */
export function cpuPlan(nproc: number, tasksetAvailable: boolean): CpuPlan {
  if (!tasksetAvailable || nproc < 2) return { loadgen: null, proxy: null, backend: null, backendWorkers: 1 };
  if (nproc < 4) return { loadgen: '0', proxy: '1', backend: '0', backendWorkers: 1 };
  const rest = nproc - 2;
  const backendWorkers = Math.min(rest, 4);
  return { loadgen: '0', proxy: '1', backend: `2-${1 + backendWorkers}`, backendWorkers };
}
