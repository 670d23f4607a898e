// cli/: `meshlet route-check` — Envoy's router_check_tool on meshlet's own route engine. Loads a RouteConfiguration
// and a test file (route-check-format.md), synthesizes each case's request, routes and finalizes it with the same
// RouteTable the proxy uses, compares the `validate` fields and reports results, coverage and the exit code.
import { readFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import protobuf from 'protobufjs';
import type { HeaderMap, RequestHead } from '../common/headers.js';
import { appendHeader, firstHeader, joinedHeader } from '../common/headers.js';
import { formatErrors, Issues } from '../common/validation.js';
import type { HeaderMatcherConfig } from '../config/matchers.js';
import type { RouteConfig } from '../config/route.js';
import { HeaderMatcher } from '../router/matchers.js';
import { compileRouteTable } from '../router/route-table.js';
import type { FormatContext, RouteDecision, RouteTable } from '../router/types.js';
import { decodeMessage, jsonToCanonical, parseDurationMs } from '../xds/proto-json.js';
import { lookupType } from '../xds/protos.js';
import { translateHeaderMatcher, translateRouteConfiguration } from '../xds/resource-types/route-configuration.js';

export interface RouteCheckIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

const ROUTE_CONFIG = 'envoy.config.route.v3.RouteConfiguration';
const USAGE = `USAGE: meshlet route-check -c <path> -t <path> [-d] [--only-show-failures] [-f <percent>] [--covall] [--detailed-coverage] [--disable-deprecation-check]

  -c, --config-path <path>       RouteConfiguration (.yaml, .yml, .json, .pb)
  -t, --test-path <path>         test file (Envoy RouterCheckToolSchema.Validation, YAML or JSON)
  -d, --details                  print every test name, and failure lines
  --only-show-failures           print only failing tests
  -f, --fail-under <percent>     fail if route coverage is below this
  --covall                       comprehensive coverage (every assertable field per route)
  --detailed-coverage            list routes without tests
  --disable-deprecation-check    allow deprecated RouteConfiguration fields
`;

class LoadError extends Error {
  readonly code = 'ROUTE_CHECK_LOAD';
}

interface Flags {
  configPath?: string;
  testPath?: string;
  details: boolean;
  onlyShowFailures: boolean;
  failUnder?: number;
  covall: boolean;
  detailedCoverage: boolean;
  disableDeprecationCheck: boolean;
  outputPath?: string;
  help: boolean;
  version: boolean;
}

function parseArgs(argv: readonly string[]): Flags {
  const f: Flags = { details: false, onlyShowFailures: false, covall: false, detailedCoverage: false, disableDeprecationCheck: false, help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new LoadError(`PARSE ERROR: Argument: ${a}\n             Missing a value for this argument!`);
      return v;
    };
    switch (a) {
      case '-c': case '--config-path': f.configPath = value(); break;
      case '-t': case '--test-path': f.testPath = value(); break;
      case '-o': case '--output-path': f.outputPath = value(); break;
      case '-d': case '--details': f.details = true; break;
      case '--only-show-failures': f.onlyShowFailures = true; break;
      case '-f': case '--fail-under': {
        const v = value();
        const n = Number(v);
        if (!Number.isFinite(n)) throw new LoadError(`PARSE ERROR: Argument: ${a}\n             Couldn't read argument value from string '${v}'`);
        f.failUnder = n;
        break;
      }
      case '--covall': f.covall = true; break;
      case '--detailed-coverage': f.detailedCoverage = true; break;
      case '--disable-deprecation-check': f.disableDeprecationCheck = true; break;
      case '-h': case '--help': f.help = true; break;
      case '--version': f.version = true; break;
      default:
        if (a.startsWith('-') && a !== '-' && a !== '--') throw new LoadError(`PARSE ERROR: Argument: ${a}\n             Couldn't find match for argument`);
      // unlabelled trailing arguments are accepted and ignored (TCLAP UnlabeledMultiArg)
    }
  }
  return f;
}

function readStructured(path: string): unknown {
  const ext = extname(path).toLowerCase();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LoadError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (ext === '.pb_text') throw new LoadError(`${path}: proto text format (.pb_text) is not supported by meshlet; use YAML or JSON`);
  try {
    // YAML 1.2 also reads JSON, leniently (Envoy's own test files have trailing commas).
    return parseYaml(text);
  } catch (e) {
    throw new LoadError(`unable to parse ${path}: ${(e as Error).message}`);
  }
}

/** Paths of set fields marked `deprecated` in the proto schema (canonical snake_case object). */
export function deprecatedFields(typeName: string, value: unknown, path = ''): string[] {
  const out: string[] = [];
  const t = lookupType(typeName);
  if (!t || value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const f = t.fields[k];
    if (!f) continue;
    const p = path ? `${path}.${k}` : k;
    if (f.options?.deprecated === true) out.push(p);
    f.resolve();
    const rt = f.resolvedType;
    if (!(rt instanceof protobuf.Type)) continue;
    const name = rt.fullName.replace(/^\./, '');
    if (name.startsWith('google.protobuf.') || f.map) continue;
    if (Array.isArray(v)) v.forEach((item, i) => out.push(...deprecatedFields(name, item, `${p}[${i}]`)));
    else out.push(...deprecatedFields(name, v, p));
  }
  return out;
}

function loadConfig(path: string, flags: Flags): RouteConfig {
  let canonical: Record<string, unknown>;
  try {
    if (extname(path).toLowerCase() === '.pb') canonical = decodeMessage(ROUTE_CONFIG, readFileSync(path));
    else canonical = jsonToCanonical(ROUTE_CONFIG, readStructured(path) ?? {}, '', { rejectUnknown: true });
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(`Unable to parse ${path} as ${ROUTE_CONFIG}: ${(e as Error).message}`);
  }
  if (!flags.disableDeprecationCheck) {
    const dep = deprecatedFields(ROUTE_CONFIG, canonical);
    if (dep.length) throw new LoadError(`Using deprecated option(s) ${dep.map((d) => `'${d}'`).join(', ')} from file ${path} (use --disable-deprecation-check to allow)`);
  }
  const issues = new Issues();
  const cfg = translateRouteConfiguration(canonical, issues, { baseDir: dirname(path) });
  if (issues.hasErrors) throw new LoadError(`invalid RouteConfiguration ${path}: ${formatErrors(issues.allErrors(), 50)}`);
  return cfg;
}

// ------------------------------------------------------------------------------------------------------------------
// Test file (envoy.RouterCheckToolSchema.Validation)
// ------------------------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const camel = (s: string): string => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Rejects unknown keys (snake_case or lowerCamelCase accepted) and returns a snake_case view. */
function fields(o: unknown, type: string, allowed: readonly string[], path: string): Obj {
  if (o === null || o === undefined) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new LoadError(`${path || type}: expected an object for ${type}`);
  const out: Obj = {};
  for (const [k, v] of Object.entries(o as Obj)) {
    const name = allowed.find((a) => a === k || camel(a) === k);
    if (!name) throw new LoadError(`Protobuf message (type ${type}) has unknown field "${k}" at ${path ? path + '.' : ''}${k}`);
    out[name] = v;
  }
  return out;
}

const unwrap = (v: unknown): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v) && 'value' in (v as Obj) ? (v as Obj).value : v);

interface KeyValue { readonly key: string; readonly value: string }

interface CaseInput {
  readonly authority: string;
  readonly path: string;
  readonly method: string;
  readonly ssl: boolean;
  readonly internal: boolean;
  readonly randomValue: number;
  readonly runtime: string;
  readonly requestHeaders: readonly KeyValue[];
  readonly responseHeaders: readonly KeyValue[];
}

interface ExpectedMatcher { readonly raw: HeaderMatcherConfig; readonly matcher: HeaderMatcher }

interface CaseValidate {
  readonly cluster_name?: string;
  readonly virtual_cluster_name?: string;
  readonly virtual_host_name?: string;
  readonly path_rewrite?: string;
  readonly host_rewrite?: string;
  readonly path_redirect?: string;
  readonly code_redirect?: number;
  readonly timeoutMs?: number;
  readonly requestHeaderFields: readonly KeyValue[];
  readonly responseHeaderFields: readonly KeyValue[];
  readonly requestHeaderMatches: readonly ExpectedMatcher[];
  readonly responseHeaderMatches: readonly ExpectedMatcher[];
}

interface TestCase { readonly name: string; readonly input: CaseInput; readonly validate: CaseValidate }

function keyValues(v: unknown, type: string, path: string): KeyValue[] {
  if (v === undefined || v === null) return [];
  const items = Array.isArray(v) ? v : [v];
  return items.map((item, i) => {
    const o = fields(item, type, ['key', 'value', 'raw_value'], `${path}[${i}]`);
    return { key: String(o.key ?? '').toLowerCase(), value: o.value !== undefined ? String(o.value) : o.raw_value !== undefined ? Buffer.from(String(o.raw_value), 'base64').toString('latin1') : '' };
  });
}

function headerMatchers(v: unknown, path: string): ExpectedMatcher[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((item, i) => {
    const p = `${path}[${i}]`;
    let canonical: Obj;
    try {
      canonical = jsonToCanonical('envoy.config.route.v3.HeaderMatcher', item, p, { rejectUnknown: true });
    } catch (e) {
      throw new LoadError((e as Error).message);
    }
    const issues = new Issues(p);
    const raw = translateHeaderMatcher(canonical, issues);
    if (issues.hasErrors) throw new LoadError(formatErrors(issues.allErrors()));
    return { raw, matcher: new HeaderMatcher(raw) };
  });
}

const INPUT_FIELDS = ['authority', 'path', 'method', 'ssl', 'internal', 'random_value', 'runtime', 'additional_request_headers', 'additional_response_headers', 'dynamic_metadata'];
const VALIDATE_FIELDS = ['cluster_name', 'virtual_cluster_name', 'virtual_host_name', 'host_rewrite', 'path_rewrite', 'path_redirect', 'code_redirect',
  'request_header_matches', 'response_header_matches', 'request_header_fields', 'response_header_fields', 'timeout'];

function loadTests(path: string): TestCase[] {
  const ext = extname(path).toLowerCase();
  if (ext === '.pb') throw new LoadError(`${path}: binary test files (.pb) are not supported by meshlet; use YAML or JSON`);
  const top = fields(readStructured(path), 'envoy.RouterCheckToolSchema.Validation', ['tests'], '');
  const tests = Array.isArray(top.tests) ? top.tests : top.tests === undefined ? [] : [top.tests];
  if (tests.length < 1) throw new LoadError('Proto constraint validation failed (ValidationValidationError.Tests: value must contain at least 1 item(s))');
  return tests.map((t, i) => {
    const p = `tests[${i}]`;
    const o = fields(t, 'envoy.RouterCheckToolSchema.ValidationItem', ['test_name', 'input', 'validate'], p);
    const name = o.test_name === undefined ? '' : String(o.test_name);
    if (!name) throw new LoadError(`Proto constraint validation failed (ValidationItemValidationError.TestName: value length must be at least 1 characters) at ${p}`);
    if (o.input === undefined) throw new LoadError(`Proto constraint validation failed (ValidationItemValidationError.Input: value is required) at ${p}`);
    if (o.validate === undefined) throw new LoadError(`Proto constraint validation failed (ValidationItemValidationError.Validate: value is required) at ${p}`);
    const inp = fields(o.input, 'envoy.RouterCheckToolSchema.ValidationInput', INPUT_FIELDS, `${p}.input`);
    const authority = String(inp.authority ?? '');
    const reqPath = String(inp.path ?? '');
    const method = String(inp.method ?? '');
    if (!authority) throw new LoadError(`Proto constraint validation failed (ValidationInputValidationError.Authority: value length must be at least 1 characters) at ${p}.input`);
    if (!reqPath) throw new LoadError(`Proto constraint validation failed (ValidationInputValidationError.Path: value length must be at least 1 characters) at ${p}.input`);
    if (method.length < 3) throw new LoadError(`Proto constraint validation failed (ValidationInputValidationError.Method: value length must be at least 3 characters) at ${p}.input`);
    const val = fields(o.validate, 'envoy.RouterCheckToolSchema.ValidationAssert', VALIDATE_FIELDS, `${p}.validate`);
    const s = (k: string): string | undefined => (val[k] === undefined ? undefined : String(unwrap(val[k]) ?? ''));
    let timeoutMs: number | undefined;
    if (val.timeout !== undefined) {
      try {
        timeoutMs = parseDurationMs(val.timeout, `${p}.validate.timeout`);
      } catch (e) {
        throw new LoadError((e as Error).message);
      }
    }
    const validate: CaseValidate = {
      ...(s('cluster_name') !== undefined ? { cluster_name: s('cluster_name') } : {}),
      ...(s('virtual_cluster_name') !== undefined ? { virtual_cluster_name: s('virtual_cluster_name') } : {}),
      ...(s('virtual_host_name') !== undefined ? { virtual_host_name: s('virtual_host_name') } : {}),
      ...(s('path_rewrite') !== undefined ? { path_rewrite: s('path_rewrite') } : {}),
      ...(s('host_rewrite') !== undefined ? { host_rewrite: s('host_rewrite') } : {}),
      ...(s('path_redirect') !== undefined ? { path_redirect: s('path_redirect') } : {}),
      ...(val.code_redirect !== undefined ? { code_redirect: Number(unwrap(val.code_redirect)) } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      requestHeaderFields: keyValues(val.request_header_fields, 'envoy.config.core.v3.HeaderValue', `${p}.validate.request_header_fields`),
      responseHeaderFields: keyValues(val.response_header_fields, 'envoy.config.core.v3.HeaderValue', `${p}.validate.response_header_fields`),
      requestHeaderMatches: headerMatchers(val.request_header_matches, `${p}.validate.request_header_matches`),
      responseHeaderMatches: headerMatchers(val.response_header_matches, `${p}.validate.response_header_matches`),
    };
    const rv = inp.random_value;
    return {
      name,
      input: {
        authority, path: reqPath, method,
        ssl: inp.ssl === true || inp.ssl === 'true',
        internal: inp.internal === true || inp.internal === 'true',
        randomValue: rv === undefined ? 0 : Number(rv),
        runtime: inp.runtime === undefined ? '' : String(inp.runtime),
        requestHeaders: keyValues(inp.additional_request_headers, 'envoy.config.core.v3.HeaderValue', `${p}.input.additional_request_headers`),
        responseHeaders: keyValues(inp.additional_response_headers, 'envoy.config.core.v3.HeaderValue', `${p}.input.additional_response_headers`),
      },
      validate,
    };
  });
}

// ------------------------------------------------------------------------------------------------------------------
// Evaluation
// ------------------------------------------------------------------------------------------------------------------

/** What one case produced, mapped to the tool's fields (route-check-format.md §3.2, §4.4). */
export interface CaseResult {
  readonly decision: RouteDecision;
  readonly cluster: string;
  readonly virtualCluster: string;
  readonly virtualHost: string;
  readonly pathRewrite: string;
  readonly hostRewrite: string;
  readonly pathRedirect: string;
  readonly code: number;
  readonly timeoutMs: number | undefined;
  readonly request: RequestHead;
  readonly response: HeaderMap;
}

/** Synthesizes the case's request (§4.1-4.2), routes it with the check-tool runtime mock and finalizes it once. */
export function evaluateCase(table: RouteTable, input: CaseInput): CaseResult {
  const scheme = input.ssl ? 'https' : 'http';
  const headers: HeaderMap = { 'x-forwarded-proto': scheme };
  if (input.internal) headers['x-envoy-internal'] = 'true';
  const head: RequestHead = { method: input.method, scheme, authority: input.authority, path: input.path, headers };
  for (const h of input.requestHeaders) {
    if (h.key === ':authority') head.authority = h.value;
    else if (h.key === ':path') head.path = h.value;
    else if (h.key === ':method') head.method = h.value;
    else appendHeader(headers, h.key, h.value);
  }
  const response: HeaderMap = {};
  for (const h of input.responseHeaders) appendHeader(response, h.key, h.value);
  const ctx: FormatContext = {
    remoteAddress: '127.0.0.1', remotePort: 0, localAddress: '127.0.0.1', localPort: 0, protocol: 'HTTP/1.1',
    startTimeMs: Date.now(), requestHead: head, responseHeaders: response,
  };
  const decision = table.route({ head, randomValue: input.randomValue, format: ctx, runtimeMode: 'check-tool', runtimeKey: input.runtime });
  if (decision.kind === 'forward') {
    decision.finalizeRequest(head, ctx);
    decision.finalizeResponse(response, ctx);
    return {
      decision, cluster: decision.cluster, virtualCluster: decision.virtualClusterFor ? decision.virtualClusterFor(head) : decision.virtualClusterName,
      virtualHost: decision.vhostName, pathRewrite: head.path, hostRewrite: head.authority, pathRedirect: '', code: 0, timeoutMs: decision.timeoutMs,
      request: head, response,
    };
  }
  if (decision.kind === 'none') {
    return { decision, cluster: '', virtualCluster: '', virtualHost: '', pathRewrite: '', hostRewrite: '', pathRedirect: '', code: 0, timeoutMs: undefined, request: head, response };
  }
  appendHeader(response, ':status', String(decision.status));
  decision.finalizeResponse(response, ctx);
  return { decision, cluster: '', virtualCluster: '', virtualHost: '', pathRewrite: '', hostRewrite: '', pathRedirect: decision.location, code: decision.status, timeoutMs: undefined, request: head, response };
}

function requestHeaderValue(head: RequestHead, name: string): string | undefined {
  switch (name) {
    case ':path': return head.path;
    case ':authority': case 'host': return head.authority;
    case ':method': return head.method;
    case ':scheme': return head.scheme;
    default: return joinedHeader(head.headers, name);
  }
}

function matcherKind(m: HeaderMatcherConfig): string {
  const s = m.spec;
  if (s.kind === 'present') return 'present_match';
  if (s.kind === 'range') return 'range_match';
  return s.field;
}

function checkMatcher(e: ExpectedMatcher, value: string | undefined, type: string, failures: string[]): boolean {
  if (e.matcher.matchValue(value)) return true;
  const m = e.raw;
  const kind = matcherKind(m);
  const t = `${type}.${kind}`;
  if (m.spec.kind === 'present') {
    const want = m.spec.present !== m.invert;
    failures.push(`expected: [has(${m.name}):${want}], actual: [has(${m.name}):${!want}], test type: ${t}`);
  } else if (m.spec.kind === 'string' && m.spec.matcher.kind === 'exact' && (kind === 'string_match.exact' || kind === 'exact_match')) {
    const actual = value ?? '';
    failures.push(m.invert
      ? `expected: [${m.spec.matcher.value}], actual: NOT [${actual}], test type: ${t}`
      : `expected: [${m.spec.matcher.value}], actual: [${actual}], test type: ${t}`);
  } else {
    const first = value === undefined ? 'NULL' : value.split(',')[0];
    failures.push(`actual: [${m.name}: ${first}], test type: ${t}`);
  }
  return false;
}

interface CoverageRoute {
  readonly vhost: string;
  readonly routeName: string;
  readonly match: string;
  readonly forward: boolean;
  /** Assertable fields that matched at least once. */
  readonly fields: Set<string>;
}

class Coverage {
  readonly routes = new Map<string, CoverageRoute>();

  constructor(config: RouteConfig) {
    for (const vh of config.virtualHosts) {
      vh.routes.forEach((r, i) => {
        const match = `${r.match.kind === 'uri_template' ? 'path_match_policy' : r.match.kind}: ${JSON.stringify(r.match.value)}`;
        const routeName = `${r.name}-${randomUUID()}`;
        const forward = r.action.kind === 'route';
        const wc = r.action.kind === 'route' ? r.action.weightedClusters : undefined;
        if (wc) wc.clusters.forEach((c) => this.routes.set(`${vh.name}\0${i}\0${c.name ?? c.clusterHeader}`, { vhost: vh.name, routeName, match, forward, fields: new Set() }));
        else this.routes.set(`${vh.name}\0${i}\0`, { vhost: vh.name, routeName, match, forward, fields: new Set() });
      });
    }
  }

  entryFor(d: RouteDecision, config: RouteConfig): CoverageRoute | undefined {
    if (d.kind === 'none' || d.routeIndex < 0) return undefined;
    let cluster = '';
    if (d.kind === 'forward') {
      const vh = config.virtualHosts.find((v) => v.name === d.vhostName);
      const a = vh?.routes[d.routeIndex]?.action;
      if (a?.kind === 'route' && a.weightedClusters) {
        const e = a.weightedClusters.clusters.find((c) => c.name === d.cluster) ?? a.weightedClusters.clusters.find((c) => c.clusterHeader !== undefined);
        cluster = e ? (e.name ?? e.clusterHeader ?? '') : '';
      }
    }
    return this.routes.get(`${d.vhostName}\0${d.routeIndex}\0${cluster}`);
  }

  percent(covall: boolean): number {
    if (this.routes.size === 0) return 0;
    let sum = 0;
    for (const r of this.routes.values()) {
      if (covall) sum += r.fields.size / (r.forward ? 5 : 2);
      else sum += r.fields.size > 0 ? 1 : 0;
    }
    return (sum / this.routes.size) * 100;
  }
}

const FORWARD_FIELDS = ['cluster_name', 'virtual_cluster_name', 'virtual_host_name', 'path_rewrite', 'host_rewrite'];
const DIRECT_FIELDS = ['path_redirect', 'code_redirect'];

/** C++ ostream default formatting of a double (6 significant digits, no trailing zeros). */
function fmtDouble(n: number): string {
  return String(Number(n.toPrecision(6)));
}

function runCase(tc: TestCase, table: RouteTable, config: RouteConfig, coverage: Coverage): string[] {
  const r = evaluateCase(table, tc.input);
  const v = tc.validate;
  const failures: string[] = [];
  const cov = coverage.entryFor(r.decision, config);
  const scalar = (field: string, expected: string | number | undefined, actual: string | number): void => {
    if (expected === undefined) return;
    if (expected === actual) {
      if (cov && (cov.forward ? FORWARD_FIELDS : DIRECT_FIELDS).includes(field)) cov.fields.add(field);
    }
    else failures.push(`expected: [${expected}], actual: [${actual}], test type: ${field}`);
  };
  scalar('cluster_name', v.cluster_name, r.cluster);
  scalar('virtual_cluster_name', v.virtual_cluster_name, r.virtualCluster);
  scalar('virtual_host_name', v.virtual_host_name, r.virtualHost);
  scalar('path_rewrite', v.path_rewrite, r.pathRewrite);
  scalar('host_rewrite', v.host_rewrite, r.hostRewrite);
  scalar('path_redirect', v.path_redirect, r.pathRedirect);
  scalar('code_redirect', v.code_redirect, r.code);
  for (const f of v.requestHeaderFields) {
    const actual = f.key.startsWith(':') || f.key === 'host' ? requestHeaderValue(r.request, f.key) ?? '' : firstHeader(r.request.headers, f.key) ?? '';
    if (actual !== f.value) failures.push(`expected: [${f.value}], actual: [${actual}], test type: request_header_fields`);
  }
  for (const m of v.requestHeaderMatches) checkMatcher(m, requestHeaderValue(r.request, m.raw.name), 'request_header_matches', failures);
  for (const f of v.responseHeaderFields) {
    const actual = firstHeader(r.response, f.key) ?? '';
    if (actual !== f.value) failures.push(`expected: [${f.value}], actual: [${actual}], test type: response_header_fields`);
  }
  for (const m of v.responseHeaderMatches) checkMatcher(m, joinedHeader(r.response, m.raw.name), 'response_header_matches', failures);
  if (v.timeoutMs !== undefined && v.timeoutMs !== (r.timeoutMs ?? 0)) {
    failures.push(`expected: [${v.timeoutMs}ms], actual: [${r.timeoutMs ?? 0}ms], test type: timeout`);
  }
  return failures;
}

/** `meshlet route-check …`: returns the process exit code (0 all passed and coverage met, 1 otherwise). */
export async function runRouteCheck(argv: string[], io: RouteCheckIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let flags: Flags;
  try {
    flags = parseArgs(argv);
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (flags.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (flags.version) {
    io.stdout.write('meshlet route-check (Envoy router_check_tool compatible)\n');
    return 0;
  }
  if (!flags.configPath || !flags.testPath) {
    io.stderr.write(`PARSE ERROR: Required argument missing: ${!flags.configPath ? 'config-path' : 'test-path'}\n\n${USAGE}`);
    return 1;
  }
  if (flags.outputPath !== undefined) {
    io.stderr.write('--output-path (binary ValidationResult) is not supported by meshlet route-check\n');
    return 1;
  }
  let config: RouteConfig;
  let tests: TestCase[];
  let table: RouteTable;
  try {
    config = loadConfig(flags.configPath, flags);
    tests = loadTests(flags.testPath);
    table = compileRouteTable(config);
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  const coverage = new Coverage(config);
  let allPassed = true;
  for (const tc of tests) {
    const failures = runCase(tc, table, config, coverage);
    const passed = failures.length === 0;
    if (!passed) allPassed = false;
    if (passed) {
      if (flags.details && !flags.onlyShowFailures) io.stdout.write(`${tc.name}\n`);
    } else if (flags.details || flags.onlyShowFailures) {
      io.stderr.write(`${tc.name}\n`);
      for (const f of failures) io.stderr.write(`${f}\n`);
    }
  }
  if (!allPassed) return 1;
  const pct = coverage.percent(flags.covall);
  io.stdout.write(`Current route coverage: ${fmtDouble(pct)}%\n`);
  if (flags.covall || flags.detailedCoverage) {
    for (const r of coverage.routes.values()) {
      if (r.fields.size > 0) continue;
      io.stdout.write(flags.covall ? `Missing test for host: ${r.vhost}, route: ${r.match}\n` : `Missing test for host: ${r.vhost}, route name: ${r.routeName}\n`);
    }
  }
  if (flags.failUnder !== undefined && pct < flags.failUnder) {
    io.stderr.write(`Failed to meet coverage requirement: ${fmtDouble(flags.failUnder)}%\n`);
    return 1;
  }
  return 0;
}
