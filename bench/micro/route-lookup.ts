// bench/micro/: cost of one route() lookup on a large RouteConfiguration (10,000 virtual hosts × N routes),
// compiled once as the proxy does. Prints the median µs per lookup per scenario (printed, not asserted).
// Usage: node dist/bench/micro/route-lookup.js [--vhosts N] [--routes N]
import { pathToFileURL } from 'node:url';
import { Issues, formatErrors } from '../../src/common/validation.js';
import type { RequestHead } from '../../src/common/headers.js';
import { compileRouteTable } from '../../src/router/route-table.js';
import type { RouteLookupInput } from '../../src/router/types.js';
import { jsonToCanonical } from '../../src/xds/proto-json.js';
import { translateRouteConfiguration } from '../../src/xds/resource-types/route-configuration.js';

export interface RouteLookupResult {
  readonly scenario: string;
  readonly medianUs: number;
  readonly compileMs: number;
}

function buildConfig(vhosts: number, routes: number): object {
  const vh = [];
  for (let v = 0; v < vhosts; v++) {
    const rs: object[] = [];
    for (let r = 0; r < routes - 3; r++) rs.push({ match: { prefix: `/svc${r}/` }, route: { cluster: `c${v}-${r}` } });
    rs.push({ match: { prefix: '/h', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }, route: { cluster: `canary${v}` } });
    rs.push({ match: { safe_regex: { regex: '/users/[0-9]+/profile' } }, route: { cluster: `users${v}`, prefix_rewrite: '/p' } });
    rs.push({ match: { prefix: '/' }, route: { cluster: `default${v}` } });
    const domains = v % 10 === 0 ? [`*.wild${v}.example.com`] : [`svc${v}.example.com`, `svc${v}.example.com:80`];
    vh.push({ name: `vh${v}`, domains, routes: rs });
  }
  vh.push({ name: 'fallback', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'fallback' } }] });
  return { name: 'bench', virtual_hosts: vh };
}

function input(authority: string, path: string, headers: RequestHead['headers'] = {}): RouteLookupInput {
  const head: RequestHead = { method: 'GET', scheme: 'http', authority, path, headers };
  return { head, randomValue: 0, format: { remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, protocol: 'HTTP/1.1', startTimeMs: 0 } };
}

export function runRouteLookupBench(vhosts = 10_000, routes = 10, batches = 41, perBatch = 2_000): RouteLookupResult[] {
  const t0 = process.hrtime.bigint();
  const issues = new Issues();
  const cfg = translateRouteConfiguration(jsonToCanonical('envoy.config.route.v3.RouteConfiguration', buildConfig(vhosts, routes)), issues);
  if (issues.hasErrors) throw new Error(formatErrors(issues.allErrors()));
  const table = compileRouteTable(cfg);
  const compileMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const mid = Math.floor(vhosts / 2) + 1;
  const scenarios: [string, RouteLookupInput][] = [
    ['exact host, first route', input(`svc${mid}.example.com`, '/svc0/x')],
    ['exact host, Mixed-Case, last prefix route', input(`SVC${mid}.Example.com`, '/zzz?q=1')],
    ['exact host, header-matched route', input(`svc${mid}.example.com`, '/h', { 'x-canary': 'yes' })],
    ['exact host, regex route', input(`svc${mid}.example.com`, '/users/123/profile')],
    ['suffix wildcard host', input(`a.wild${vhosts - 10}.example.com`, '/svc1/x')],
    ['no vhost match → *', input('unknown.example.org', '/')],
  ];
  const out: RouteLookupResult[] = [];
  for (const [name, inp] of scenarios) {
    for (let i = 0; i < 5_000; i++) table.route(inp); // warm up
    const samples: number[] = [];
    for (let b = 0; b < batches; b++) {
      const s = process.hrtime.bigint();
      for (let i = 0; i < perBatch; i++) table.route(inp);
      samples.push(Number(process.hrtime.bigint() - s) / perBatch / 1000);
    }
    samples.sort((a, b) => a - b);
    out.push({ scenario: name, medianUs: Math.round(samples[samples.length >> 1] * 1000) / 1000, compileMs: Math.round(compileMs) });
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (n: string, d: number): number => {
    const i = process.argv.indexOf(n);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const vhosts = arg('--vhosts', 10_000);
  const routes = arg('--routes', 10);
  const results = runRouteLookupBench(vhosts, routes);
  console.log(`route table: ${vhosts} virtual hosts × ${routes} routes, compiled in ${results[0]?.compileMs} ms (translate + compile)`);
  console.log('scenario                                    median µs/lookup');
  for (const r of results) console.log(`${r.scenario.padEnd(44)} ${String(r.medianUs).padStart(8)}`);
}
