// router/: one level of request/response header mutations (route config, vhost, route or weighted-cluster entry),
// compiled once: removals, then values computed from the pre-level state, then overwrites, then appends
// (Envoy HeaderParser::evaluateHeaders; route-semantics.md bullets 63-70).
import type { HeaderMap, RequestHead } from '../common/headers.js';
import { appendHeader } from '../common/headers.js';
import { parseSubstitutionFormat, type FormatInput, type SubstitutionFormat } from '../common/substitution-format.js';
import type { AppendAction, HeaderMutationsConfig, HeaderValueOptionConfig } from '../config/route.js';

interface CompiledAdd {
  readonly name: string;
  readonly format: SubstitutionFormat;
  readonly action: AppendAction;
  readonly keepEmpty: boolean;
}

/** The mutable render state one Mutations reuses (rendering is synchronous, so one per level suffices). */
interface RenderState {
  request: RequestHead | undefined;
  response: HeaderMap | undefined;
}

const isOverwrite = (a: AppendAction): boolean => a === 'OVERWRITE_IF_EXISTS_OR_ADD' || a === 'OVERWRITE_IF_EXISTS';

class Mutations {
  private readonly adds: readonly CompiledAdd[];
  /**
   * Every add names a distinct header and no value reads headers: applying the adds in place (overwrites pass,
   * then appends pass) gives the same result as evaluating all of them against the pre-level state first.
   */
  private readonly inPlace: boolean;
  private readonly state: RenderState = { request: undefined, response: undefined };

  constructor(adds: readonly HeaderValueOptionConfig[], private readonly removes: readonly string[]) {
    this.adds = adds.map((a) => {
      const f = parseSubstitutionFormat(a.value);
      if (!f.ok) throw new Error(f.error); // validated at translation
      return { name: a.name, format: f.format, action: a.action, keepEmpty: a.keepEmptyValue };
    });
    this.inPlace = new Set(this.adds.map((a) => a.name)).size === this.adds.length && this.adds.every((a) => !a.format.readsHeaders);
  }

  get empty(): boolean {
    return this.adds.length === 0 && this.removes.length === 0;
  }

  apply(headers: HeaderMap, ctx: FormatInput, request: RequestHead | undefined, response: HeaderMap | undefined): void {
    for (let i = 0; i < this.removes.length; i++) delete headers[this.removes[i]];
    const adds = this.adds;
    if (adds.length === 0) return;
    // Values and presence checks read the headers as they stand before this level's additions.
    const state = this.state;
    state.request = request;
    state.response = response;
    try {
      if (this.inPlace) this.applyInPlace(headers, ctx, state);
      else this.applyStaged(headers, ctx, state);
    } finally {
      state.request = undefined;
      state.response = undefined;
    }
  }

  private applyInPlace(headers: HeaderMap, ctx: FormatInput, state: RenderState): void {
    const adds = this.adds;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < adds.length; i++) {
        const a = adds[i];
        if (isOverwrite(a.action) !== (pass === 0)) continue;
        const present = headers[a.name] !== undefined;
        if ((a.action === 'OVERWRITE_IF_EXISTS' && !present) || (a.action === 'ADD_IF_ABSENT' && present)) continue;
        const value = a.format.render(ctx, state);
        if (value === '' && !a.keepEmpty) continue;
        if (pass === 0) delete headers[a.name];
        appendHeader(headers, a.name, value);
      }
    }
  }

  private applyStaged(headers: HeaderMap, ctx: FormatInput, state: RenderState): void {
    const adds = this.adds;
    let overwrites: [string, string][] | null = null;
    let appends: [string, string][] | null = null;
    for (let i = 0; i < adds.length; i++) {
      const a = adds[i];
      const value = a.format.render(ctx, state);
      if (value === '' && !a.keepEmpty) continue;
      const present = headers[a.name] !== undefined;
      switch (a.action) {
        case 'APPEND_IF_EXISTS_OR_ADD':
          (appends ??= []).push([a.name, value]);
          break;
        case 'ADD_IF_ABSENT':
          if (!present) (appends ??= []).push([a.name, value]);
          break;
        case 'OVERWRITE_IF_EXISTS_OR_ADD':
          (overwrites ??= []).push([a.name, value]);
          break;
        case 'OVERWRITE_IF_EXISTS':
          if (present) (overwrites ??= []).push([a.name, value]);
          break;
      }
    }
    if (overwrites !== null) {
      for (const [n] of overwrites) delete headers[n];
      for (const [n, v] of overwrites) appendHeader(headers, n, v);
    }
    if (appends !== null) for (const [n, v] of appends) appendHeader(headers, n, v);
  }
}

/** Request and response mutations of one level; `null` from compileMutationLevel when the level does nothing. */
export class HeaderMutationLevel {
  private readonly request: Mutations;
  private readonly response: Mutations;

  constructor(config: HeaderMutationsConfig) {
    this.request = new Mutations(config.requestHeadersToAdd, config.requestHeadersToRemove);
    this.response = new Mutations(config.responseHeadersToAdd, config.responseHeadersToRemove);
  }

  get hasRequest(): boolean {
    return !this.request.empty;
  }

  get hasResponse(): boolean {
    return !this.response.empty;
  }

  applyRequest(head: RequestHead, ctx: FormatInput): void {
    this.request.apply(head.headers, ctx, head, undefined);
  }

  applyResponse(headers: HeaderMap, ctx: FormatInput, request?: RequestHead): void {
    this.response.apply(headers, ctx, request, headers);
  }
}

export function compileMutationLevel(config: HeaderMutationsConfig): HeaderMutationLevel | null {
  const empty = config.requestHeadersToAdd.length === 0 && config.requestHeadersToRemove.length === 0
    && config.responseHeadersToAdd.length === 0 && config.responseHeadersToRemove.length === 0;
  return empty ? null : new HeaderMutationLevel(config);
}
