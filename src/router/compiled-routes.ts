// router/: the route tables the HTTP connection managers read — one compiled RouteTable per RouteConfiguration
// version, compiled once when a snapshot brings a new version (never per request) and swapped by reference.
// Inline route_configs of HCMs are compiled once per translated object (memoised by identity).
import type { ResourceEntry } from '../config/snapshot.js';
import type { RouteConfig } from '../config/route.js';
import type { RouteTable } from './types.js';
import { compileRouteTable } from './route-table.js';

export class CompiledRoutes {
  private byName = new Map<string, RouteTable>();
  private readonly byConfig = new WeakMap<RouteConfig, RouteTable>();

  /** Applies the snapshot's route configurations; unchanged entries keep their compiled table. */
  update(routes: ReadonlyMap<string, ResourceEntry<RouteConfig>>): void {
    const next = new Map<string, RouteTable>();
    for (const [name, entry] of routes) next.set(name, this.compile(entry.value));
    this.byName = next;
  }

  get(name: string): RouteTable | undefined {
    return this.byName.get(name);
  }

  compile(config: RouteConfig): RouteTable {
    let t = this.byConfig.get(config);
    if (!t) {
      t = compileRouteTable(config);
      this.byConfig.set(config, t);
    }
    return t;
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }
}
