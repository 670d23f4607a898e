// http/filters/header-mutation: a minimal compiled header-value formatter (literal text, %REQ(h)%, %RESP(h)%,
// %DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %PROTOCOL%, %UPSTREAM_CLUSTER%, %%).
// To be replaced by src/common/substitution-format.ts once it exists; unknown commands are config errors.
import type { HeaderMap } from '../../../common/headers.js';
import { joinedHeader } from '../../../common/headers.js';
import type { Issues } from '../../../common/validation.js';
import type { FilterRequest } from '../filter-api.js';

export interface FormatInput {
  readonly req: FilterRequest;
  readonly responseHeaders?: HeaderMap;
}

export type CompiledFormat = (input: FormatInput) => string;

type Part = string | ((i: FormatInput) => string);

function pseudo(req: FilterRequest, name: string): string | undefined {
  switch (name) {
    case ':method': return req.head.method;
    case ':path': return req.head.path;
    case ':authority': return req.head.authority;
    case ':scheme': return req.head.scheme;
    default: return joinedHeader(req.head.headers, name);
  }
}

function headerCommand(arg: string, resp: boolean, maxLen: number | null): (i: FormatInput) => string {
  const [main, alt] = arg.toLowerCase().split('?');
  const cut = (s: string | undefined): string => (s === undefined ? '' : maxLen === null ? s : s.slice(0, maxLen));
  if (resp) return (i) => cut((i.responseHeaders && (joinedHeader(i.responseHeaders, main) ?? (alt ? joinedHeader(i.responseHeaders, alt) : undefined))) ?? undefined);
  return (i) => cut(pseudo(i.req, main) ?? (alt ? pseudo(i.req, alt) : undefined));
}

export function compileFormat(text: string, issues: Issues): CompiledFormat {
  if (!text.includes('%')) return () => text;
  const parts: Part[] = [];
  const re = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%|%%/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[0] === '%%') { parts.push('%'); continue; }
    const cmd = m[1];
    const arg = m[2] ?? '';
    const maxLen = m[3] ? Number(m[3]) : null;
    switch (cmd) {
      case 'REQ': parts.push(headerCommand(arg, false, maxLen)); break;
      case 'RESP': parts.push(headerCommand(arg, true, maxLen)); break;
      case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT': parts.push((i) => i.req.remoteAddress); break;
      case 'DOWNSTREAM_REMOTE_ADDRESS': parts.push((i) => i.req.remoteAddress); break;
      case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT': parts.push((i) => i.req.localAddress); break;
      case 'DOWNSTREAM_LOCAL_PORT': parts.push((i) => String(i.req.localPort)); break;
      case 'REQUESTED_SERVER_NAME': parts.push((i) => i.req.sni); break;
      case 'PROTOCOL': parts.push((i) => i.req.protocol); break;
      case 'UPSTREAM_CLUSTER': parts.push((i) => i.req.upstreamCluster); break;
      case 'HOSTNAME': parts.push(() => process.env.HOSTNAME ?? ''); break;
      default: issues.error(`unsupported formatter command %${cmd}% in ${JSON.stringify(text)}`);
    }
  }
  if (last < text.length) {
    const rest = text.slice(last);
    if (rest.includes('%')) issues.error(`unterminated formatter in ${JSON.stringify(text)}`);
    parts.push(rest);
  }
  return (i) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(i);
    return s;
  };
}
