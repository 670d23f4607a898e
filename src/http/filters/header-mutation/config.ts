// http/filters/header-mutation: translates envoy.extensions.filters.http.header_mutation.v3.HeaderMutation and
// HeaderMutationPerRoute once into ordered, compiled request/response mutation lists.
import type { Issues } from '../../../common/validation.js';
import { asObj, compileHeaderValueOption, rejectUnknown } from '../common/matchers.js';
import type { HeaderToAdd } from '../common/matchers.js';
import { compileFormat } from './formatter.js';
import type { CompiledFormat } from './formatter.js';

export const HEADER_MUTATION_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation';
export const HEADER_MUTATION_PER_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute';

export type Mutation =
  | { readonly kind: 'remove'; readonly name: string }
  | { readonly kind: 'append'; readonly header: HeaderToAdd; readonly value: CompiledFormat };

export interface Mutations {
  readonly request: readonly Mutation[];
  readonly response: readonly Mutation[];
}

export interface HeaderMutationConfig {
  readonly mutations: Mutations;
  readonly mostSpecificWins: boolean;
}

function compileList(raw: unknown, issues: Issues): Mutation[] {
  const l = Array.isArray(raw) ? raw : [];
  const out: Mutation[] = [];
  l.forEach((m, i) => {
    const mi = issues.at(i);
    const o = asObj(m) ?? {};
    rejectUnknown(o, ['remove', 'append'], mi);
    if (typeof o.remove === 'string') {
      const name = o.remove.toLowerCase();
      if (!name || name.startsWith(':') || name === 'host') mi.error(`cannot remove header ${JSON.stringify(o.remove)}`, 'remove');
      else out.push({ kind: 'remove', name });
    } else if (o.append !== undefined) {
      const h = compileHeaderValueOption(o.append, mi.at('append'));
      if (h) {
        if (h.key.startsWith(':') || h.key === 'host') mi.at('append').error(`cannot modify header ${h.key}`, 'header');
        out.push({ kind: 'append', header: h, value: compileFormat(h.value, mi.at('append').at('header').at('value')) });
      }
    } else mi.error('one of remove or append is required');
  });
  return out;
}

export function translateMutations(raw: unknown, issues: Issues): Mutations {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['request_mutations', 'response_mutations'], issues);
  return Object.freeze({
    request: compileList(o.request_mutations, issues.at('request_mutations')),
    response: compileList(o.response_mutations, issues.at('response_mutations')),
  });
}

export function translateHeaderMutation(raw: Readonly<Record<string, unknown>>, issues: Issues): HeaderMutationConfig {
  rejectUnknown(raw, ['mutations', 'most_specific_header_mutations_wins'], issues);
  return Object.freeze({ mutations: translateMutations(raw.mutations, issues.at('mutations')), mostSpecificWins: raw.most_specific_header_mutations_wins === true });
}

export function translateHeaderMutationPerRoute(raw: Readonly<Record<string, unknown>>, issues: Issues): Mutations {
  rejectUnknown(raw, ['mutations'], issues);
  return translateMutations(raw.mutations, issues.at('mutations'));
}
