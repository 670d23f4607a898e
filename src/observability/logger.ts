// observability/: meshlet's application log (pino). Envoy's level names (trace, debug, info, warning, error,
// critical, off) map onto pino's; one child logger per component (admin, config, upstream, …) whose levels change at
// runtime (-l, --component-log-level, POST /logging). Not the access log: that one has its own formats and files.
import pino from 'pino';

export type EnvoyLogLevel = 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off';
export type Logger = pino.Logger;

const TO_PINO: Record<string, pino.LevelWithSilent> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  off: 'silent',
  silent: 'silent',
};
const TO_ENVOY: Record<string, EnvoyLogLevel> = {
  trace: 'trace', debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'critical', silent: 'off',
};
const LEVEL_BY_NUMBER: Record<number, EnvoyLogLevel> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'critical' };

/** Envoy's logger names that always exist (so `--component-log-level misc:error` and POST /logging?misc=… work). */
export const DEFAULT_COMPONENTS: readonly string[] = [
  'admin', 'config', 'connection', 'conn_handler', 'filter', 'grpc', 'hc', 'http', 'http2', 'init', 'main', 'misc',
  'pool', 'rbac', 'router', 'runtime', 'tracing', 'upstream', 'xds',
];

/** Maps an Envoy (or pino) level name to pino's; null when it is not a level. */
export function toPinoLevel(level: string): pino.LevelWithSilent | null {
  return TO_PINO[level.toLowerCase()] ?? null;
}

export function isLogLevel(level: string): boolean {
  return toPinoLevel(level) !== null;
}

/** Parses `--component-log-level a:debug,b:info`; returns null when malformed or a level is unknown. */
export function parseComponentLevels(spec: string): Record<string, EnvoyLogLevel> | null {
  const out: Record<string, EnvoyLogLevel> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf(':');
    if (i <= 0) return null;
    const pinoLevel = toPinoLevel(part.slice(i + 1));
    if (!pinoLevel) return null;
    out[part.slice(0, i)] = TO_ENVOY[pinoLevel];
  }
  return out;
}

export interface LogWriter {
  write(chunk: string): unknown;
}

export interface LoggerOptions {
  /** Envoy level for every component (default info). */
  readonly level?: string;
  /** Per-component levels (`--component-log-level`). */
  readonly componentLevels?: Readonly<Record<string, string>>;
  /**
   * `--log-format`: a format starting with `{` keeps pino's JSON lines; anything else selects a tab-separated text
   * line `<time>\t<level>\tmeshlet <component>\t<msg>` (Envoy's default shape; its %-specifiers are not interpreted).
   * Default: JSON.
   */
  readonly format?: string;
  /** `--log-path`: append to this file instead of stderr. */
  readonly path?: string;
  /** Where lines go (tests); overrides `path`. */
  readonly destination?: LogWriter;
}

class TextWriter implements LogWriter {
  constructor(private readonly out: LogWriter) {}
  write(chunk: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(chunk) as Record<string, unknown>;
    } catch {
      this.out.write(chunk);
      return;
    }
    const { level, time, component, msg, pid: _p, hostname: _h, ...rest } = rec;
    const extra = Object.keys(rest).length ? `\t${JSON.stringify(rest)}` : '';
    const t = typeof time === 'number' ? new Date(time).toISOString() : String(time ?? '');
    this.out.write(`${t}\t${typeof level === 'number' ? (LEVEL_BY_NUMBER[level] ?? String(level)) : String(level)}\tmeshlet ${String(component ?? 'main')}\t${String(msg ?? '')}${extra}\n`);
  }
}

/** The root logger and its per-component children, with runtime level control. */
export class LogManager {
  readonly root: Logger;
  private readonly children = new Map<string, Logger>();
  private readonly overrides = new Map<string, pino.LevelWithSilent>();
  private globalLevel: pino.LevelWithSilent;

  constructor(opts: LoggerOptions = {}) {
    this.globalLevel = toPinoLevel(opts.level ?? 'info') ?? 'info';
    let dest: LogWriter;
    if (opts.destination) dest = opts.destination;
    else if (opts.path) dest = pino.destination({ dest: opts.path, sync: false, mkdir: true });
    else dest = pino.destination({ fd: 2, sync: true });
    if (opts.format !== undefined && !opts.format.trimStart().startsWith('{')) dest = new TextWriter(dest);
    this.root = pino(
      { level: 'trace', base: undefined, timestamp: pino.stdTimeFunctions.epochTime, formatters: { level: (label) => ({ level: TO_ENVOY[label] ?? label }) } },
      dest as pino.DestinationStream,
    );
    for (const [c, l] of Object.entries(opts.componentLevels ?? {})) {
      const p = toPinoLevel(l);
      if (p) this.overrides.set(c, p);
    }
    for (const c of DEFAULT_COMPONENTS) this.child(c);
  }

  /** The logger for one component (created once, cached). Log lines carry `component`. */
  child(component: string): Logger {
    let l = this.children.get(component);
    if (!l) {
      l = this.root.child({ component });
      l.level = this.overrides.get(component) ?? this.globalLevel;
      this.children.set(component, l);
    }
    return l;
  }

  /** Sets every component's level (POST /logging?level=, -l). False when `level` is not a level name. */
  setLevel(level: string): boolean {
    const p = toPinoLevel(level);
    if (!p) return false;
    this.globalLevel = p;
    this.overrides.clear();
    for (const l of this.children.values()) l.level = p;
    return true;
  }

  /** Sets one component's level (POST /logging?upstream=debug). False for an unknown component or level. */
  setComponentLevel(component: string, level: string): boolean {
    const p = toPinoLevel(level);
    const l = this.children.get(component);
    if (!p || !l) return false;
    this.overrides.set(component, p);
    l.level = p;
    return true;
  }

  /** Component → Envoy level name, sorted by component. */
  levels(): Record<string, EnvoyLogLevel> {
    const out: Record<string, EnvoyLogLevel> = {};
    for (const name of [...this.children.keys()].sort()) out[name] = TO_ENVOY[this.children.get(name)!.level] ?? 'info';
    return out;
  }

  flush(): void {
    this.root.flush();
  }
}

export function createLogManager(opts: LoggerOptions = {}): LogManager {
  return new LogManager(opts);
}
