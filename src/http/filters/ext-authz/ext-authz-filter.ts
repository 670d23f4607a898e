// http/filters/ext-authz: envoy.filters.http.ext_authz runtime. Pauses the request, asks the HTTP service (through
// the data plane's injected sender, or server_uri directly) or the gRPC envoy.service.auth.v3.Authorization/Check,
// then continues with the allowed upstream headers, or answers with the service's denial (flag UAEX), or applies
// failure_mode_allow / status_on_error when the service cannot be reached.
import { createRequire } from 'node:module';
import type { Client } from '@grpc/grpc-js';
import { ResponseFlag } from '../../../common/errors.js';
import { joinedHeader } from '../../../common/headers.js';
import type { HeaderMap } from '../../../common/headers.js';
import { decodeMessage, encodeMessage } from '../../../xds/proto-json.js';
import type {
  AuthRequest, AuthResponse, FilterCallbacks, FilterDeps, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { applyHeaderToAdd, asObj, compileHeaderValueOption } from '../common/matchers.js';
import { httpStatusCode } from '../common/http-status.js';
import { Issues } from '../../../common/validation.js';
import { EXT_AUTHZ_PER_ROUTE_TYPE_URL, EXT_AUTHZ_TYPE_URL, translateExtAuthz, translateExtAuthzPerRoute } from './config.js';
import type { ExtAuthzConfig, ExtAuthzPerRoute, GrpcAuthService, HttpAuthService } from './config.js';

/** Request headers always sent to an HTTP authorization service (Envoy). */
const ALWAYS_SENT = new Set(['host', 'authorization', 'content-length']);
/** Auth-response headers never copied to a client denial unless listed (hop-by-hop and framing). */
const NEVER_COPIED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'upgrade', 'te', 'trailer', 'proxy-connection']);
const ALWAYS_ON_DENIAL = new Set(['www-authenticate', 'location']);

type GrpcJs = typeof import('@grpc/grpc-js');
type Undici = typeof import('undici');
let grpcJsModule: GrpcJs | null = null;
let undiciModule: Undici | null = null;
/**
 * @grpc/grpc-js and undici are loaded on the first authorization call that needs them (CommonJS, synchronously), not
 * when this filter module is imported: every config imports the filter registry, few configure ext_authz.
 */
function grpcJs(): GrpcJs {
  return grpcJsModule ??= createRequire(import.meta.url)('@grpc/grpc-js') as GrpcJs;
}
function undici(): Undici {
  return undiciModule ??= createRequire(import.meta.url)('undici') as Undici;
}

type Decision =
  | { kind: 'ok'; upstreamSet: [string, string][]; upstreamAppend: [string, string][]; remove: string[]; client: [string, string][] }
  | { kind: 'denied'; status: number; headers: HeaderMap; body: string }
  | { kind: 'error'; reason: string };

/** The default HTTP sender when the data plane injects none: server_uri.uri directly with undici. */
async function directSend(_cluster: string, uri: string, req: AuthRequest): Promise<AuthResponse> {
  const base = /^https?:\/\//.test(uri) ? uri : `http://${uri}`;
  const url = new URL(base);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'host') headers[k] = typeof v === 'string' ? v : v.join(',');
  const res = await undici().request(new URL(req.path, url.origin), {
    method: req.method as 'GET', headers, body: req.body ?? undefined, signal: AbortSignal.timeout(req.timeoutMs),
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(res.headers)) out[k] = v;
  return { status: res.statusCode, headers: out, body };
}

function pairsOf(headers: HeaderMap, allow: ((n: string) => boolean) | null, always?: ReadonlySet<string>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (allow ? allow(k) || (always?.has(k) ?? false) : !NEVER_COPIED.has(k)) {
      for (const x of typeof v === 'string' ? [v] : v) out.push([k, x]);
    }
  }
  return out;
}

class ExtAuthzShared {
  private grpc: Client | null = null;
  constructor(readonly cfg: ExtAuthzConfig, readonly deps: FilterDeps) {}

  async checkHttp(svc: HttpAuthService, req: FilterRequest, body: Buffer | null): Promise<Decision> {
    const headers: HeaderMap = {};
    const cfg = this.cfg;
    for (const [k, v] of Object.entries(req.head.headers)) {
      if (v === undefined) continue;
      const allowed = ALWAYS_SENT.has(k) || (svc.allowedHeaders?.(k) ?? false) || (cfg.allowedHeaders?.(k) ?? false);
      if (allowed && !(cfg.disallowedHeaders?.(k) ?? false)) headers[k] = v;
    }
    headers.host = req.head.authority;
    for (const [k, v] of svc.headersToAdd) headers[k] = v;
    if (body) headers['content-length'] = String(body.length);
    else delete headers['content-length'];
    const send = this.deps.sendAuthRequest ?? directSend;
    let res: AuthResponse;
    try {
      res = await send(svc.cluster, svc.uri, { method: req.head.method, path: svc.pathPrefix + req.head.path, headers, body, timeoutMs: svc.timeoutMs });
    } catch (e) {
      return { kind: 'error', reason: (e as Error).message };
    }
    if (res.status === 200) {
      return {
        kind: 'ok',
        upstreamSet: svc.allowedUpstreamHeaders ? pairsOf(res.headers, svc.allowedUpstreamHeaders) : [],
        upstreamAppend: svc.allowedUpstreamHeadersToAppend ? pairsOf(res.headers, svc.allowedUpstreamHeadersToAppend) : [],
        remove: [],
        client: svc.allowedClientHeadersOnSuccess ? pairsOf(res.headers, svc.allowedClientHeadersOnSuccess) : [],
      };
    }
    const dh: HeaderMap = {};
    for (const [k, v] of pairsOf(res.headers, svc.allowedClientHeaders, ALWAYS_ON_DENIAL)) {
      const cur = dh[k];
      dh[k] = cur === undefined ? v : typeof cur === 'string' ? [cur, v] : [...cur, v];
    }
    return { kind: 'denied', status: res.status, headers: dh, body: res.body.toString('utf8') };
  }

  private client(svc: GrpcAuthService): Client {
    if (!this.grpc) {
      const target = this.deps.resolveGrpcTarget?.(svc.cluster) ?? svc.cluster;
      const { Client: GrpcClient, credentials } = grpcJs();
      this.grpc = new GrpcClient(target, credentials.createInsecure(), { 'grpc.default_authority': svc.authority });
    }
    return this.grpc;
  }

  checkGrpc(svc: GrpcAuthService, req: FilterRequest, body: Buffer | null, route: ExtAuthzPerRoute | undefined): Promise<Decision> {
    const headers: Record<string, string> = {};
    const cfg = this.cfg;
    for (const [k, v] of Object.entries(req.head.headers)) {
      if (v === undefined) continue;
      if (cfg.allowedHeaders && !cfg.allowedHeaders(k)) continue;
      if (cfg.disallowedHeaders?.(k)) continue;
      headers[k] = typeof v === 'string' ? v : v.join(',');
    }
    headers[':method'] = req.head.method;
    headers[':path'] = req.head.path;
    headers[':authority'] = req.head.authority;
    const q = req.head.path.indexOf('?');
    const http: Record<string, unknown> = {
      method: req.head.method, headers, path: req.head.path, host: req.head.authority, scheme: req.head.scheme,
      protocol: req.protocol, query: q >= 0 ? req.head.path.slice(q + 1) : '',
      id: joinedHeader(req.head.headers, 'x-request-id') ?? '',
    };
    if (body) {
      if (cfg.withRequestBody?.packAsBytes) http.raw_body = body;
      else http.body = body.toString('utf8');
      http.size = body.length;
    }
    const check = {
      attributes: {
        source: { address: { socket_address: { address: req.remoteAddress, port_value: 0 } } },
        destination: { address: { socket_address: { address: req.localAddress, port_value: req.localPort } } },
        request: { http },
        ...(route && Object.keys(route.contextExtensions).length ? { context_extensions: route.contextExtensions } : {}),
      },
    };
    const md = new (grpcJs().Metadata)();
    for (const [k, v] of svc.initialMetadata) md.add(k, v);
    return new Promise((resolve) => {
      this.client(svc).makeUnaryRequest(
        '/envoy.service.auth.v3.Authorization/Check',
        (v: Record<string, unknown>) => Buffer.from(encodeMessage('envoy.service.auth.v3.CheckRequest', v)),
        (b: Buffer) => decodeMessage('envoy.service.auth.v3.CheckResponse', b),
        check, md, { deadline: Date.now() + svc.timeoutMs },
        (err, res) => {
          if (err || !res) {
            resolve({ kind: 'error', reason: err ? `${grpcJs().status[err.code] ?? err.code}: ${err.details}` : 'empty response' });
            return;
          }
          resolve(grpcDecision(res));
        },
      );
    });
  }

  dispose(): void {
    this.grpc?.close();
    this.grpc = null;
  }
}

function hvo(list: unknown): { key: string; value: string; append: boolean }[] {
  const out: { key: string; value: string; append: boolean }[] = [];
  for (const h of Array.isArray(list) ? list : []) {
    const c = compileHeaderValueOption(h, new Issues(), 'OVERWRITE_IF_EXISTS_OR_ADD');
    if (c && c.key) out.push({ key: c.key, value: c.value, append: c.action === 'APPEND_IF_EXISTS_OR_ADD' });
  }
  return out;
}

function grpcDecision(res: Record<string, unknown>): Decision {
  const st = asObj(res.status);
  const code = typeof st?.code === 'number' ? st.code : 0;
  if (code === 0) {
    const ok = asObj(res.ok_response) ?? {};
    const hs = hvo(ok.headers);
    return {
      kind: 'ok',
      upstreamSet: hs.filter((h) => !h.append).map((h) => [h.key, h.value]),
      upstreamAppend: hs.filter((h) => h.append).map((h) => [h.key, h.value]),
      remove: (Array.isArray(ok.headers_to_remove) ? ok.headers_to_remove : []).map((x) => String(x).toLowerCase()),
      client: hvo(ok.response_headers_to_add).map((h) => [h.key, h.value]),
    };
  }
  const d = asObj(res.denied_response) ?? {};
  const status = httpStatusCode(asObj(d.status)?.code) ?? 403;
  const headers: HeaderMap = {};
  for (const h of hvo(d.headers)) headers[h.key] = h.value;
  return { kind: 'denied', status, headers, body: typeof d.body === 'string' ? d.body : '' };
}

class ExtAuthzFilter implements HttpFilter {
  private client: [string, string][] = [];
  private destroyed = false;
  constructor(private readonly shared: ExtAuthzShared, private readonly random: () => number) {}

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const cfg = this.shared.cfg;
    const route = cb.perRouteConfig<ExtAuthzPerRoute>();
    if (route?.disabled) return 'continue';
    if (cfg.filterEnabled < 1 && !(this.random() < cfg.filterEnabled)) return 'continue';
    const bodyCfg = route?.disableRequestBodyBuffering ? null : route?.withRequestBody ?? cfg.withRequestBody;
    let body: Buffer | null = null;
    if (bodyCfg && cb.bufferedRequestBody) {
      body = cb.bufferedRequestBody;
      if (body.length > bodyCfg.maxRequestBytes || cb.requestBodyTruncated) {
        if (!bodyCfg.allowPartialMessage) {
          cb.sendLocalReply({ status: 413, body: 'Payload Too Large', details: 'request_payload_too_large' });
          return 'stop';
        }
        body = body.subarray(0, bodyCfg.maxRequestBytes);
      }
    }
    const svc = cfg.service;
    const p = svc.kind === 'http' ? this.shared.checkHttp(svc, req, body) : this.shared.checkGrpc(svc, req, body, route);
    p.then((d) => this.onDecision(d, req, cb), (e: Error) => this.onDecision({ kind: 'error', reason: e.message }, req, cb));
    return 'stop';
  }

  private onDecision(d: Decision, req: FilterRequest, cb: FilterCallbacks): void {
    if (this.destroyed) return;
    const cfg = this.shared.cfg;
    if (d.kind === 'ok') {
      const h = req.head.headers;
      for (const k of d.remove) if (!k.startsWith(':') && k !== 'host') delete h[k];
      for (const [k, v] of d.upstreamSet) h[k] = v;
      for (const [k, v] of d.upstreamAppend) applyHeaderToAdd(h, { key: k, value: v, action: 'APPEND_IF_EXISTS_OR_ADD', keepEmptyValue: true });
      this.client = d.client;
      cb.continueDecoding();
      return;
    }
    if (d.kind === 'denied') {
      cb.sendLocalReply({ status: d.status, headers: d.headers, body: d.body, flag: ResponseFlag.UnauthorizedExternalService, details: 'ext_authz_denied' });
      return;
    }
    if (cfg.failureModeAllow) {
      if (cfg.failureModeAllowHeaderAdd) req.head.headers['x-envoy-auth-failure-mode-allowed'] = 'true';
      cb.continueDecoding();
      return;
    }
    cb.sendLocalReply({ status: cfg.statusOnError, body: '', flag: ResponseFlag.UnauthorizedExternalService, details: 'ext_authz_error' });
  }

  encodeHeaders(_s: number, headers: HeaderMap): FilterStatus {
    for (const [k, v] of this.client) headers[k] = v;
    return 'continue';
  }

  onDestroy(): void {
    this.destroyed = true;
  }
}

export const extAuthzFilterType: HttpFilterType<ExtAuthzConfig, ExtAuthzPerRoute> = {
  typeUrl: EXT_AUTHZ_TYPE_URL,
  perRouteTypeUrls: [EXT_AUTHZ_PER_ROUTE_TYPE_URL],
  translate: (c, issues) => translateExtAuthz(c, issues),
  translatePerRoute: (c, _u, issues) => translateExtAuthzPerRoute(c, issues),
  createFactory(name: string, config: ExtAuthzConfig, deps: FilterDeps): HttpFilterFactory {
    const shared = new ExtAuthzShared(config, deps);
    const random = deps.random ?? Math.random;
    return {
      name,
      bufferRequestBodyBytes: config.withRequestBody?.maxRequestBytes ?? 0,
      create: () => new ExtAuthzFilter(shared, random),
      dispose: () => shared.dispose(),
    };
  },
};
