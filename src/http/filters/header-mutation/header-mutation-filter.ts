// http/filters/header-mutation: envoy.filters.http.header_mutation runtime. Applies request mutations in
// decodeHeaders and response mutations in encodeHeaders; the per-route (most specific) mutations run before the
// filter's own unless most_specific_header_mutations_wins, in which case they run last and win.
import type { HeaderMap } from '../../../common/headers.js';
import type {
  FilterCallbacks, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { applyHeaderToAdd } from '../common/matchers.js';
import {
  HEADER_MUTATION_PER_ROUTE_TYPE_URL, HEADER_MUTATION_TYPE_URL, translateHeaderMutation, translateHeaderMutationPerRoute,
} from './config.js';
import type { HeaderMutationConfig, Mutation, Mutations } from './config.js';
import type { FormatInput } from './formatter.js';

function apply(list: readonly Mutation[], headers: HeaderMap, input: FormatInput): void {
  for (const m of list) {
    if (m.kind === 'remove') delete headers[m.name];
    else applyHeaderToAdd(headers, m.header, m.value(input));
  }
}

class HeaderMutationFilter implements HttpFilter {
  private route: Mutations | undefined;
  constructor(private readonly cfg: HeaderMutationConfig) {}

  private order(pick: (m: Mutations) => readonly Mutation[]): (readonly Mutation[])[] {
    const own = pick(this.cfg.mutations);
    if (!this.route) return [own];
    const r = pick(this.route);
    return this.cfg.mostSpecificWins ? [own, r] : [r, own];
  }

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    this.route = cb.perRouteConfig<Mutations>();
    const input = { req };
    for (const l of this.order((m) => m.request)) apply(l, req.head.headers, input);
    return 'continue';
  }

  encodeHeaders(_status: number, headers: HeaderMap, req: FilterRequest): FilterStatus {
    const input = { req, responseHeaders: headers };
    for (const l of this.order((m) => m.response)) apply(l, headers, input);
    return 'continue';
  }
}

export const headerMutationFilterType: HttpFilterType<HeaderMutationConfig, Mutations> = {
  typeUrl: HEADER_MUTATION_TYPE_URL,
  perRouteTypeUrls: [HEADER_MUTATION_PER_ROUTE_TYPE_URL],
  translate: (c, issues) => translateHeaderMutation(c, issues),
  translatePerRoute: (c, _u, issues) => translateHeaderMutationPerRoute(c, issues),
  createFactory(name: string, config: HeaderMutationConfig): HttpFilterFactory {
    return { name, create: () => new HeaderMutationFilter(config) };
  },
};
