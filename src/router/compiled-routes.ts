// router/: the route tables the HTTP connection managers read — one compiled RouteTable per RouteConfiguration
// version, compiled once when a snapshot brings a new version (never per request) and swapped by reference.
// A snapshot's tables are compiled aside (in slices for the chunked apply) and all swapped in at once, so a lookup
// sees the whole old set or the whole new set. Inline route_configs of HCMs are compiled once per translated object
// (memoised by identity).
import type { ResourceEntry } from '../config/snapshot.js';
import type { RouteConfig } from '../config/route.js';
import type { RouteTable } from './types.js';
import { compileRouteTable, compileRouteTableSteps, type CompileSteps, type RouteTableOptions } from './route-table.js';
import { nextSlice } from '../common/next-slice.js';

/** One snapshot's route tables being compiled: step() until it returns true, then they are live. */
export interface RoutesUpdate {
  /** Compiles until done (true: the new tables are now what get() returns) or past `deadline` (performance.now()). */
  step(deadline: number): boolean;
}

export class CompiledRoutes {
  private byName = new Map<string, RouteTable>();
  private readonly byConfig = new WeakMap<RouteConfig, RouteTable>();
  /** The update begun last; an older one still being stepped never commits over it. */
  private latest: RoutesUpdate | null = null;

  /** Applies the snapshot's route configurations at once; unchanged entries keep their compiled table. */
  update(routes: ReadonlyMap<string, ResourceEntry<RouteConfig>>): void {
    this.beginUpdate(routes, {}).step(Infinity);
  }

  /**
   * Like update(), in ≤ chunkMs slices with a loop turn between them (common/next-slice). Tables are compiled whole (no virtual host is
   * left to compile on its first request), aside, and swapped in together at the end.
   */
  async updateAsync(routes: ReadonlyMap<string, ResourceEntry<RouteConfig>>, chunkMs = 8): Promise<void> {
    const u = this.beginUpdate(routes, { lazyThreshold: Infinity });
    while (!u.step(performance.now() + chunkMs)) await nextSlice();
  }

  /** Starts compiling a snapshot's route tables; lookups keep getting the current ones until step() returns true. */
  beginUpdate(routes: ReadonlyMap<string, ResourceEntry<RouteConfig>>, opts: RouteTableOptions = { lazyThreshold: Infinity }): RoutesUpdate {
    const next = new Map<string, RouteTable>();
    const pending: [string, RouteConfig][] = [];
    for (const [name, entry] of routes) {
      const t = this.byConfig.get(entry.value);
      if (t) next.set(name, t);
      else pending.push([name, entry.value]);
    }
    let k = 0;
    let cur: CompileSteps<RouteTable> | null = null;
    let done = false;
    const u: RoutesUpdate = {
      step: (deadline) => {
        if (done) return true;
        while (k < pending.length) {
          const [name, config] = pending[k];
          let t = this.byConfig.get(config);
          if (!t) {
            cur ??= compileRouteTableSteps(config, opts);
            let r = cur.next();
            while (!r.done && performance.now() <= deadline) r = cur.next();
            if (!r.done) return false;
            cur = null;
            t = r.value;
            this.byConfig.set(config, t);
          }
          next.set(name, t);
          k++;
          if (k < pending.length && performance.now() > deadline) return false;
        }
        done = true;
        if (this.latest === u) this.byName = next;
        return true;
      },
    };
    this.latest = u;
    return u;
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
