// process/: the IPC shapes of `--concurrency N` shared health: host states the primary's health authority broadcasts
// to the workers (active health check and outlier results), and the request outcomes workers batch back to it.
// Plain JSON arrays, small enough for the node:cluster channel.
import type { SharedHostHealth } from '../upstream/upstream-cluster.js';

const FAILED_ACTIVE_HC = 1;
const EJECTED = 2;
const DEGRADED_ACTIVE_HC = 4;

/** One host: key, flag bits (1 failed_active_hc, 2 failed_outlier_check, 4 degraded_active_hc), success rates. */
export type WireHostHealth = readonly [key: string, bits: number, successRate: number, localOriginSuccessRate: number];

/** One cluster's changes: hosts with a new state, and keys that left the authority's set (null: the whole cluster went). */
export type WireClusterHealth = readonly [cluster: string, hosts: readonly WireHostHealth[], removed: readonly string[] | null];

/** A broadcast: `full` replaces everything the worker holds (sent before the snapshot to a starting worker). */
export interface WireHealthUpdate {
  readonly full: boolean;
  readonly clusters: readonly WireClusterHealth[];
}

/** Worker → primary: per cluster, per host, outcome runs [code, count, code, count, …] in the order seen. */
export type WireOutcomeBatch = readonly (readonly [cluster: string, hosts: readonly (readonly [key: string, runs: readonly number[]])[]])[];

export function encodeHostHealth(key: string, s: SharedHostHealth): WireHostHealth {
  const bits = (s.failedActiveHc ? FAILED_ACTIVE_HC : 0) | (s.ejected ? EJECTED : 0) | (s.degradedActiveHc ? DEGRADED_ACTIVE_HC : 0);
  return [key, bits, s.successRate, s.localOriginSuccessRate];
}

export function decodeHostHealth(w: WireHostHealth): SharedHostHealth {
  const bits = w[1];
  return {
    failedActiveHc: (bits & FAILED_ACTIVE_HC) !== 0,
    ejected: (bits & EJECTED) !== 0,
    degradedActiveHc: (bits & DEGRADED_ACTIVE_HC) !== 0,
    successRate: w[2],
    localOriginSuccessRate: w[3],
  };
}

export function sameHostHealth(a: WireHostHealth, b: WireHostHealth): boolean {
  return a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
