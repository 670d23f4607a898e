// config/: the immutable, versioned view of all accepted and warmed xDS resources. The xDS layer builds a new
// snapshot for every accepted change and swaps it by reference; consumers (listener manager, cluster manager,
// admin) read snapshots and never mutate them. Streams pin the objects they started with.
import type { ListenerConfig } from './listener.js';
import type { RouteConfig } from './route.js';
import type { ClusterConfig } from './cluster.js';
import type { EndpointsConfig } from './endpoint.js';

/** One accepted resource with the facts config_dump and the xDS history show. */
export interface ResourceEntry<T> {
  readonly name: string;
  /** version_info (SotW) or the resource's own version (Delta) it was accepted with; 'static' for bootstrap ones. */
  readonly version: string;
  readonly value: T;
  /** The canonical resource as received (for /config_dump), without '@type'. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Epoch ms of acceptance. */
  readonly lastUpdated: number;
  /** True for bootstrap static_resources. */
  readonly isStatic: boolean;
}

export interface ConfigSnapshot {
  /** Increases by one with every published snapshot. */
  readonly generation: number;
  readonly listeners: ReadonlyMap<string, ResourceEntry<ListenerConfig>>;
  readonly routes: ReadonlyMap<string, ResourceEntry<RouteConfig>>;
  readonly clusters: ReadonlyMap<string, ResourceEntry<ClusterConfig>>;
  readonly endpoints: ReadonlyMap<string, ResourceEntry<EndpointsConfig>>;
  /** Last accepted version_info per type URL (for config_dump and ACKs). */
  readonly versions: Readonly<Record<string, string>>;
}

export const EMPTY_SNAPSHOT: ConfigSnapshot = Object.freeze({
  generation: 0,
  listeners: new Map(),
  routes: new Map(),
  clusters: new Map(),
  endpoints: new Map(),
  versions: Object.freeze({}),
});
