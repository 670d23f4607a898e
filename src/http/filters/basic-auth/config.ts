// http/filters/basic-auth: translates envoy.extensions.filters.http.basic_auth.v3.BasicAuth / BasicAuthPerRoute
// once: the htpasswd user list ({SHA} entries only, as Envoy) becomes a map user → SHA-1 digest.
import { readFileSync } from 'node:fs';
import type { Issues } from '../../../common/validation.js';
import { asObj, rejectUnknown } from '../common/matchers.js';

export const BASIC_AUTH_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth';
export const BASIC_AUTH_PER_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute';

export interface BasicAuthConfig {
  /** user → SHA-1 digest of the password. */
  readonly users: ReadonlyMap<string, Buffer>;
  /** Request header that receives the authenticated username ('' = none). */
  readonly forwardUsernameHeader: string;
}

/** envoy.config.core.v3.DataSource as text (read once at config time). */
export function readDataSource(raw: unknown, issues: Issues): string | null {
  const o = asObj(raw);
  if (!o) {
    issues.error('a data source is required');
    return null;
  }
  rejectUnknown(o, ['inline_string', 'inline_bytes', 'filename', 'environment_variable', 'watched_directory'], issues);
  if (o.watched_directory !== undefined) issues.unsupported('watched_directory');
  if (typeof o.inline_string === 'string') return o.inline_string;
  if (Buffer.isBuffer(o.inline_bytes)) return o.inline_bytes.toString('utf8');
  if (typeof o.filename === 'string') {
    try {
      return readFileSync(o.filename, 'utf8');
    } catch (e) {
      issues.error(`cannot read ${o.filename}: ${(e as Error).message}`, 'filename');
      return null;
    }
  }
  if (typeof o.environment_variable === 'string') {
    const v = process.env[o.environment_variable];
    if (v === undefined) issues.error(`environment variable ${o.environment_variable} is not set`, 'environment_variable');
    return v ?? null;
  }
  issues.error('one of inline_string, inline_bytes, filename, environment_variable is required');
  return null;
}

export function parseHtpasswd(text: string, issues: Issues): Map<string, Buffer> {
  const users = new Map<string, Buffer>();
  text.split('\n').forEach((line0, i) => {
    const line = line0.trim();
    if (!line) return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      issues.error(`line ${i + 1}: invalid htpasswd format, username:password is expected`);
      return;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!hash.startsWith('{SHA}')) {
      const kind = hash.startsWith('$apr1$') ? 'MD5 ($apr1$)' : /^\$2[aby]\$/.test(hash) ? 'bcrypt' : hash.startsWith('$') ? 'crypt' : 'plain/crypt';
      issues.error(`line ${i + 1}: unsupported htpasswd format ${kind} for user ${user}: please use {SHA}`);
      return;
    }
    const digest = Buffer.from(hash.slice(5), 'base64');
    if (digest.length !== 20) {
      issues.error(`line ${i + 1}: invalid {SHA} hash for user ${user}`);
      return;
    }
    if (users.has(user)) {
      issues.error(`line ${i + 1}: duplicate user ${user}`);
      return;
    }
    users.set(user, digest);
  });
  return users;
}

export function translateBasicAuth(raw: Readonly<Record<string, unknown>>, issues: Issues): BasicAuthConfig {
  rejectUnknown(raw, ['users', 'forward_username_header', 'authentication_header'], issues);
  if (raw.authentication_header !== undefined) issues.unsupported('authentication_header');
  const text = readDataSource(raw.users, issues.at('users'));
  const users = text === null ? new Map<string, Buffer>() : parseHtpasswd(text, issues.at('users'));
  const fwd = typeof raw.forward_username_header === 'string' ? raw.forward_username_header.toLowerCase() : '';
  return Object.freeze({ users, forwardUsernameHeader: fwd });
}

/** BasicAuthPerRoute: replaces the user list; the listener's forward_username_header stays. */
export function translateBasicAuthPerRoute(raw: Readonly<Record<string, unknown>>, issues: Issues): BasicAuthConfig {
  rejectUnknown(raw, ['users'], issues);
  const text = readDataSource(raw.users, issues.at('users'));
  const users = text === null ? new Map<string, Buffer>() : parseHtpasswd(text, issues.at('users'));
  return Object.freeze({ users, forwardUsernameHeader: '' });
}
