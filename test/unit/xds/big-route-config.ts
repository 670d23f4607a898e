// Test helper: a generated RouteConfiguration of vhosts × perHost routes (prefix/path/regex matches, header matchers,
// redirects, direct responses, weighted clusters, retries, header mutations) for the sliced-translation tests.
/** 2,000 routes (by default) over 200 virtual hosts with most route kinds, plus optional knobs. */
export function bigRouteConfig(vhosts = 200, perHost = 10, oneHugeVhost = false): Record<string, unknown> {
  const vh: Record<string, unknown>[] = [];
  const hosts = oneHugeVhost ? 1 : vhosts;
  const routesPer = oneHugeVhost ? vhosts * perHost : perHost;
  for (let v = 0; v < hosts; v++) {
    const routes: Record<string, unknown>[] = [];
    for (let r = 0; r < routesPer; r++) {
      const k = (v * routesPer + r) % 7;
      const match = k === 0 ? { safe_regex: { regex: `/api/v${v % 50}/items/[0-9]+` } }
        : k === 1 ? { path: `/exact/${r}`, headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }
          : { prefix: `/s${r}/`, case_sensitive: r % 2 === 0 };
      const action = k === 2 ? { redirect: { host_redirect: `h${v}.example.com`, response_code: 'FOUND' } }
        : k === 3 ? { direct_response: { status: 200, body: { inline_string: `v${v}r${r}` } } }
          : k === 4 ? { route: { weighted_clusters: { clusters: [{ name: `c${r}`, weight: 30 }, { name: `d${r}`, weight: 70 }] }, timeout: '3s' } }
            : { route: { cluster: `c${v}-${r}`, timeout: '15s', retry_policy: { retry_on: '5xx,reset', num_retries: 2 }, prefix_rewrite: k === 5 ? '/p' : undefined } };
      routes.push({ name: `r${r}`, match, ...action, request_headers_to_add: r === 0 ? [{ header: { key: 'x-vh', value: `${v}` } }] : undefined });
    }
    vh.push({ name: `vh${v}`, domains: [`svc${v}.ns.svc.cluster.local`, `svc${v}.ns.svc.cluster.local:80`], routes, response_headers_to_remove: ['x-internal'] });
  }
  vh.push({ name: 'default', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] });
  return { name: 'big', virtual_hosts: vh, internal_only_headers: ['x-internal'], response_headers_to_add: [{ header: { key: 'x-rc', value: 'big' } }] };
}
