// observability/access-log: translates an HCM's or tcp_proxy's `access_log[]` (canonical AccessLog messages) once
// per config into AccessLoggers — filter + compiled format + shared sink — and logs finished streams/sessions.
import type { Issues } from '../../common/validation.js';
import { compileAccessLogFilter, type AccessLogPredicate, type FilterDeps } from './access-log-filter.js';
import { compileJsonFormat, compileLogFormat, compileTextFormat, type RenderLine } from './access-log-format.js';
import type { AccessLogRecord } from './access-log-record.js';
import type { AccessLogSink } from './access-log-writers.js';

/** Where loggers get their outputs (AccessLogWriters; tests and validation pass their own). */
export interface AccessLogSinkSource {
  get(path: string): AccessLogSink;
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const T = 'type.googleapis.com/envoy.extensions.access_loggers.';
const FILE_TYPE = `${T}file.v3.FileAccessLog`;
const STDOUT_TYPE = `${T}stream.v3.StdoutAccessLog`;
const STDERR_TYPE = `${T}stream.v3.StderrAccessLog`;

export interface AccessLogger {
  readonly name: string;
  readonly path: string;
  log(r: AccessLogRecord): void;
}

class CompiledAccessLogger implements AccessLogger {
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly filter: AccessLogPredicate | null,
    private readonly render: RenderLine,
    private readonly sink: AccessLogSink,
  ) {}

  log(r: AccessLogRecord): void {
    if (this.filter !== null && !this.filter(r)) return;
    this.sink.write(this.render(r));
  }
}

function fileFormat(cfg: Obj, issues: Issues): RenderLine | null {
  const set = ['format', 'json_format', 'typed_json_format', 'log_format'].filter((k) => cfg[k] !== undefined);
  if (set.length > 1) issues.error(`set only one of ${set.join(', ')}`);
  if (typeof cfg.format === 'string') return compileTextFormat(cfg.format, false, issues, 'format');
  if (cfg.json_format !== undefined) return compileJsonFormat(cfg.json_format, false, false, issues, 'json_format');
  if (cfg.typed_json_format !== undefined) return compileJsonFormat(cfg.typed_json_format, true, false, issues, 'typed_json_format');
  return compileLogFormat(isObj(cfg.log_format) ? cfg.log_format : undefined, issues, 'log_format');
}

/**
 * Compiles one canonical `envoy.config.accesslog.v3.AccessLog`. Supported: envoy.access_loggers.file,
 * envoy.access_loggers.stdout, envoy.access_loggers.stderr. Errors are collected in `issues`; null when invalid.
 */
export function compileAccessLog(entry: unknown, issues: Issues, writers: AccessLogSinkSource, deps: FilterDeps = {}): AccessLogger | null {
  if (!isObj(entry)) {
    issues.error('expected an AccessLog');
    return null;
  }
  const before = issues.errorCount;
  const name = typeof entry.name === 'string' ? entry.name : '';
  const cfg = isObj(entry.typed_config) ? entry.typed_config : null;
  if (!cfg) {
    issues.error('typed_config is required', 'typed_config');
    return null;
  }
  const type = cfg['@type'];
  const at = issues.at('typed_config');
  let path: string;
  let render: RenderLine | null;
  if (type === FILE_TYPE) {
    for (const k of Object.keys(cfg)) {
      if (!['@type', 'path', 'format', 'json_format', 'typed_json_format', 'log_format'].includes(k)) at.error(`${k} is not supported`, k);
    }
    path = typeof cfg.path === 'string' ? cfg.path : '';
    if (!path) at.error('path is required', 'path');
    if (path === '/dev/stdout') path = 'stdout';
    if (path === '/dev/stderr') path = 'stderr';
    render = fileFormat(cfg, at);
  } else if (type === STDOUT_TYPE || type === STDERR_TYPE) {
    for (const k of Object.keys(cfg)) if (!['@type', 'log_format'].includes(k)) at.error(`${k} is not supported`, k);
    path = type === STDOUT_TYPE ? 'stdout' : 'stderr';
    render = compileLogFormat(isObj(cfg.log_format) ? cfg.log_format : undefined, at, 'log_format');
  } else {
    issues.error(`access logger ${JSON.stringify(name || type)} (${String(type)}) is not supported: use envoy.access_loggers.file, .stdout or .stderr`, 'typed_config');
    return null;
  }
  const filter = entry.filter === undefined ? null : compileAccessLogFilter(entry.filter, issues.at('filter'), deps);
  if (issues.errorCount > before || !render) return null;
  return new CompiledAccessLogger(name, path, filter, render, writers.get(path));
}

/** The access logs of one HCM / tcp_proxy: logs a record to each, in order. */
export class AccessLogSet {
  constructor(readonly loggers: readonly AccessLogger[]) {}

  get empty(): boolean {
    return this.loggers.length === 0;
  }

  log(r: AccessLogRecord): void {
    const l = this.loggers;
    for (let i = 0; i < l.length; i++) {
      try {
        l[i].log(r);
      } catch { /* a broken logger never breaks the data path */ }
    }
  }
}

/** Compiles `access_log[]` (errors collected in `issues`, invalid entries left out); outputs are opened through `writers`. */
export function compileAccessLogs(entries: readonly unknown[], issues: Issues, writers: AccessLogSinkSource, deps: FilterDeps = {}): AccessLogSet {
  const out: AccessLogger[] = [];
  entries.forEach((e, i) => {
    const l = compileAccessLog(e, issues.at(i), writers, deps);
    if (l) out.push(l);
  });
  return new AccessLogSet(out);
}

const NULL_SINKS: AccessLogSinkSource = { get: () => ({ write: () => undefined }) };

/** Validation only (translators NACK with these errors): compiles `access_log[]` without opening any output. */
export function validateAccessLogs(entries: readonly unknown[], issues: Issues): void {
  compileAccessLogs(entries, issues, NULL_SINKS);
}
