// http/filters/basic-auth: envoy.filters.http.basic_auth runtime. Checks Authorization: Basic against the
// htpasswd users ({SHA}); a failure is 401 with www-authenticate: Basic realm="http://<host>" and Envoy's body.
import { createHash, timingSafeEqual } from 'node:crypto';
import { firstHeader } from '../../../common/headers.js';
import type {
  FilterCallbacks, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { BASIC_AUTH_PER_ROUTE_TYPE_URL, BASIC_AUTH_TYPE_URL, translateBasicAuth, translateBasicAuthPerRoute } from './config.js';
import type { BasicAuthConfig } from './config.js';

export const BASIC_AUTH_METADATA_NAMESPACE = 'envoy.filters.http.basic_auth';

class BasicAuthFilter implements HttpFilter {
  constructor(private readonly base: BasicAuthConfig) {}

  private deny(req: FilterRequest, cb: FilterCallbacks, missing: boolean): FilterStatus {
    cb.sendLocalReply({
      status: 401,
      body: missing ? 'User authentication failed. Missing username and password.' : 'User authentication failed. Invalid username/password combination.',
      headers: { 'www-authenticate': `Basic realm="http://${req.head.authority}"` },
      details: missing ? 'no_credential_for_basic_auth' : 'invalid_credential_for_basic_auth',
    });
    return 'stop';
  }

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const route = cb.perRouteConfig<BasicAuthConfig>();
    const users = (route ?? this.base).users;
    const auth = firstHeader(req.head.headers, 'authorization');
    if (!auth) return this.deny(req, cb, true);
    const m = /^basic\s+(\S+)\s*$/i.exec(auth);
    if (!m) return this.deny(req, cb, true);
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return this.deny(req, cb, false);
    const user = decoded.slice(0, colon);
    const want = users.get(user);
    const got = createHash('sha1').update(decoded.slice(colon + 1)).digest();
    if (!want || !timingSafeEqual(want, got)) return this.deny(req, cb, false);
    if (this.base.forwardUsernameHeader) req.head.headers[this.base.forwardUsernameHeader] = user;
    cb.setDynamicMetadata(BASIC_AUTH_METADATA_NAMESPACE, 'username', user);
    return 'continue';
  }
}

export const basicAuthFilterType: HttpFilterType<BasicAuthConfig, BasicAuthConfig> = {
  typeUrl: BASIC_AUTH_TYPE_URL,
  perRouteTypeUrls: [BASIC_AUTH_PER_ROUTE_TYPE_URL],
  translate: (c, issues) => translateBasicAuth(c, issues),
  translatePerRoute: (c, _u, issues) => translateBasicAuthPerRoute(c, issues),
  createFactory(name: string, config: BasicAuthConfig): HttpFilterFactory {
    const instance = new BasicAuthFilter(config);
    return { name, create: () => instance };
  },
};
