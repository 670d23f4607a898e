// http/filters/header-mutation: header values as Envoy substitution formats, parsed once with
// common/substitution-format.ts and rendered per request against the filter's view of the stream.
import type { HeaderMap } from '../../../common/headers.js';
import { parseSubstitutionFormat } from '../../../common/substitution-format.js';
import type { Issues } from '../../../common/validation.js';
import type { FilterRequest } from '../filter-api.js';

export interface FormatInput {
  readonly req: FilterRequest;
  readonly responseHeaders?: HeaderMap;
}

export type CompiledFormat = (input: FormatInput) => string;

export function compileFormat(text: string, issues: Issues): CompiledFormat {
  const parsed = parseSubstitutionFormat(text);
  if (!parsed.ok) {
    issues.error(parsed.error);
    return () => '';
  }
  const f = parsed.format;
  if (f.constant) {
    const v = f.render(undefined as never);
    return () => v;
  }
  return ({ req, responseHeaders }) => f.render({
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort ?? 0,
    localAddress: req.localAddress,
    localPort: req.localPort,
    protocol: req.protocol,
    startTimeMs: req.startTimeMs ?? 0,
    requestHead: req.head,
    responseHeaders,
    upstreamCluster: req.upstreamCluster,
    requestedServerName: req.sni,
  });
}
