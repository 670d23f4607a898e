// admin/: what the admin server may see and do. proxy.ts builds an AdminDeps from the live subsystems; the admin
// server only reads these views and calls the operator callbacks (quit, drain, health check, log level).
import type { ConfigSnapshot, ResourceEntry } from '../config/snapshot.js';
import type { NodeInfo } from '../config/node.js';
import type { StatsQuery, StatValue } from '../observability/metrics.js';
import type { ServerState } from './server-lifecycle.js';

export type Canonical = Record<string, unknown>;

/** A resource that is not (yet) active: warming, or rejected (for config_dump error_state). */
export interface PendingResource {
  readonly name: string;
  readonly version: string;
  /** Canonical resource without '@type'. */
  readonly raw: Canonical;
  readonly lastUpdated: number;
}

export interface RejectedResource {
  readonly name: string;
  /** Canonical resource that failed, without '@type' (may be {} when it could not be decoded). */
  readonly raw: Canonical;
  readonly lastUpdateAttempt: number;
  readonly details: string;
}

/** State the snapshot does not hold: warming and rejected resources (all optional). */
export interface ConfigDumpExtras {
  readonly warmingClusters?: readonly PendingResource[];
  readonly warmingListeners?: readonly PendingResource[];
  readonly drainingListeners?: readonly PendingResource[];
  readonly rejectedListeners?: readonly RejectedResource[];
  readonly rejectedClusters?: readonly RejectedResource[];
}

export interface ListenerInfo {
  readonly name: string;
  /** Bound address (actual port when configured with 0); a pipe path for Unix sockets. */
  readonly address: string;
  readonly port: number;
  readonly pipe?: string;
  readonly direction?: 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';
}

export interface DrainOptions {
  readonly inboundOnly: boolean;
  readonly graceful: boolean;
  readonly skipExit: boolean;
}

/** The logging control the admin needs (LogManager implements it). */
export interface LogControl {
  levels(): Record<string, string>;
  setLevel(level: string): boolean;
  setComponentLevel(component: string, level: string): boolean;
}

/** What the admin reads from metrics (Metrics implements it; with workers the primary aggregates theirs). */
export interface MetricsView {
  prometheusText(): Promise<string>;
  readonly prometheusContentType: string;
  stats(query?: StatsQuery): Promise<StatValue[]>;
  statsText(query?: StatsQuery): Promise<string>;
}

type MaybeAsync<T> = T | Promise<T>;

export interface AdminDeps {
  snapshot(): ConfigSnapshot;
  configDumpExtras?(): ConfigDumpExtras;
  /** The loaded bootstrap in canonical Bootstrap form, and when it was loaded (epoch ms). */
  bootstrap(): { readonly raw: Canonical; readonly loadedAt: number };
  serverState(): ServerState;
  /** Human explanation when not LIVE (shown in the /ready body's second line); optional. */
  readinessDetail?(): string;
  node(): NodeInfo;
  /** Envoy CommandLineOptions-shaped object for /server_info. */
  commandLineOptions(): Canonical;
  /** Process start (epoch ms). */
  startTime(): number;
  /** Start of the first hot-restart epoch still known (epoch ms; uptime_all_epochs); default startTime(). */
  firstStartTime?(): number;
  /** Envoy's hot restart version string ('disabled' when this process cannot hot restart); default 'disabled'. */
  hotRestartVersion?(): string;
  listeners(): MaybeAsync<readonly ListenerInfo[]>;
  /** `/clusters` (text) and `/clusters?format=json` — written by the cluster manager (with workers: every worker's, merged). */
  clustersText(): MaybeAsync<string>;
  clustersJson(): unknown;
  /** `/debug/xds`: xDS update history; absent → 404. */
  xdsHistory?(): unknown;
  /** `/debug/explain`: routing explanation for the query; absent → 404. */
  explain?(query: URLSearchParams): unknown | Promise<unknown>;
  /** `/debug/workers`: the process model (concurrency, each worker's pid, state, applied generation, restarts). */
  workers?(): unknown | Promise<unknown>;
  readonly metrics: MetricsView;
  readonly logging: LogControl;
  /** POST /quitquitquit: called after the `OK` response was sent. */
  quit(): void;
  drainListeners(opts: DrainOptions): void | Promise<void>;
  healthcheckFail(): void;
  healthcheckOk(): void;
}

export type { ResourceEntry };
