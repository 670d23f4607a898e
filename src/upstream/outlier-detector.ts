// upstream/: passive health (Envoy outlier detection) for one cluster: per-host consecutive 5xx / gateway-failure /
// local-origin-failure counters, per-interval success-rate and failure-percentage analysis, ejection with
// base_ejection_time × ejections (capped by max_ejection_time), max_ejection_percent (at least one host),
// enforcing_* percentages, un-ejection on the interval timer. Flag changes call `onChange` so the host set is rebuilt.
import type { OutlierDetectionConfig } from '../config/cluster.js';
import type { HostOutcome } from './types.js';
import type { UpstreamHost } from './upstream-host.js';
import type { TimerSource, UpstreamLogger } from './timer-source.js';

export type EjectionReason = 'consecutive_5xx' | 'consecutive_gateway_failure' | 'consecutive_local_origin_failure'
  | 'success_rate' | 'local_origin_success_rate' | 'failure_percentage' | 'local_origin_failure_percentage';

class HostMonitor {
  consecutive5xx = 0;
  consecutiveGateway = 0;
  consecutiveLocal = 0;
  /** Current-interval buckets: external (HTTP) and local-origin results. */
  extSuccess = 0;
  extTotal = 0;
  localSuccess = 0;
  localTotal = 0;
  numEjections = 0;
  ejectedAt = -1;
  unejectedAt = 0;
  ejectionDurationMs = 0;
}

export interface OutlierStats {
  ejectionsActive: number;
  ejectionsTotal: number;
  ejectionsEnforced: Record<EjectionReason, number>;
  ejectionsOverflow: number;
}

export class OutlierDetector {
  private readonly monitors = new Map<UpstreamHost, HostMonitor>();
  private timer: unknown = null;
  readonly stats: OutlierStats = {
    ejectionsActive: 0, ejectionsTotal: 0, ejectionsOverflow: 0,
    ejectionsEnforced: { consecutive_5xx: 0, consecutive_gateway_failure: 0, consecutive_local_origin_failure: 0, success_rate: 0, local_origin_success_rate: 0, failure_percentage: 0, local_origin_failure_percentage: 0 },
  };

  constructor(
    readonly config: OutlierDetectionConfig,
    private readonly deps: { readonly timers: TimerSource; readonly logger: UpstreamLogger; readonly random: () => number; readonly clusterName: string; readonly onChange: () => void },
  ) {}

  start(): void {
    if (this.timer === null) this.timer = this.deps.timers.setTimeout(() => this.onInterval(), this.config.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) this.deps.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sync the monitored hosts with the cluster's membership (state of kept hosts survives). */
  setHosts(hosts: readonly UpstreamHost[]): void {
    const keep = new Set(hosts);
    for (const [h, m] of this.monitors) {
      if (!keep.has(h)) {
        if (m.ejectedAt >= 0) this.stats.ejectionsActive--;
        this.monitors.delete(h);
      }
    }
    for (const h of hosts) if (!this.monitors.has(h)) this.monitors.set(h, new HostMonitor());
  }

  isEjected(h: UpstreamHost): boolean {
    return (this.monitors.get(h)?.ejectedAt ?? -1) >= 0;
  }

  numEjections(h: UpstreamHost): number {
    return this.monitors.get(h)?.numEjections ?? 0;
  }

  /**
   * One outcome, as Envoy's router and tcp_proxy put results (DetectorHostMonitorImpl::putResult):
   * - `http`: the response code at headers (putHttpResponseCode). With split_external_local_origin_errors it also
   *   stands for the connection success Envoy's router reports when the stream gets its connection
   *   (LocalOriginConnectSuccess at onPoolReady, which precedes every response), so it resets the local-origin count.
   * - `reset`: a stream reset before headers on an established connection — that connection success, then
   *   LocalOriginConnectFailed. `reset_after_response`: the same failure for a reset after the headers were
   *   reported (mid-body; the connection success went with the `http` result).
   * - `connect_failure` (LocalOriginConnectFailed) and `timeout` (LocalOriginTimeout): local-origin failures.
   * - `success_local`: tcp_proxy's connect success (LocalOriginConnectSuccessFinal).
   * Not split, local-origin results count as the codes Envoy maps them to: failures as 503 (504 for a timeout), a
   * final connect success as 200; the router's plain connect success maps to nothing.
   */
  report(host: UpstreamHost, outcome: HostOutcome): void {
    const m = this.monitors.get(host);
    if (!m) return;
    const c = this.config;
    if (!c.splitExternalLocalOriginErrors) {
      switch (outcome.kind) {
        case 'http': return this.httpResult(host, m, outcome.status);
        case 'success_local': return this.httpResult(host, m, 200);
        case 'timeout': return this.httpResult(host, m, 504);
        default: return this.httpResult(host, m, 503);
      }
    }
    switch (outcome.kind) {
      case 'http':
        this.localSuccess(m);
        return this.httpResult(host, m, outcome.status);
      case 'success_local':
        return this.localSuccess(m);
      case 'reset':
        this.localSuccess(m);
        return this.localFailure(host, m);
      default:
        return this.localFailure(host, m);
    }
  }

  private localSuccess(m: HostMonitor): void {
    m.localTotal++;
    m.localSuccess++;
    m.consecutiveLocal = 0;
  }

  private localFailure(host: UpstreamHost, m: HostMonitor): void {
    const c = this.config;
    m.localTotal++;
    m.consecutiveLocal++;
    if (m.consecutiveLocal >= c.consecutiveLocalOriginFailure && c.consecutiveLocalOriginFailure > 0) {
      m.consecutiveLocal = 0;
      this.maybeEject(host, m, 'consecutive_local_origin_failure', c.enforcingConsecutiveLocalOriginFailure);
    }
  }

  private httpResult(host: UpstreamHost, m: HostMonitor, status: number): void {
    const c = this.config;
    m.extTotal++;
    if (status < 500) {
      m.extSuccess++;
      m.consecutive5xx = 0;
      m.consecutiveGateway = 0;
      return;
    }
    m.consecutive5xx++;
    if (status === 502 || status === 503 || status === 504) m.consecutiveGateway++;
    else m.consecutiveGateway = 0;
    if (c.consecutiveGatewayFailure > 0 && m.consecutiveGateway >= c.consecutiveGatewayFailure) {
      m.consecutiveGateway = 0;
      if (this.maybeEject(host, m, 'consecutive_gateway_failure', c.enforcingConsecutiveGatewayFailure)) {
        m.consecutive5xx = 0;
        return;
      }
    }
    if (c.consecutive5xx > 0 && m.consecutive5xx >= c.consecutive5xx) {
      m.consecutive5xx = 0;
      this.maybeEject(host, m, 'consecutive_5xx', c.enforcingConsecutive5xx);
    }
  }

  /**
   * --concurrency N worker: the primary's detector ejected or un-ejected a host (workers report their outcomes to it
   * and run no analysis of their own). Flag, counters and onChange as for a local ejection.
   */
  applyExternal(host: UpstreamHost, ejected: boolean): void {
    const m = this.monitors.get(host);
    if (!m || (m.ejectedAt >= 0) === ejected) return;
    if (!ejected) {
      this.uneject(host, m, false);
      return;
    }
    m.numEjections++;
    m.ejectedAt = this.deps.timers.now();
    host.healthFlags.add('failed_outlier_check');
    this.stats.ejectionsActive++;
    this.stats.ejectionsTotal++;
    this.deps.onChange();
  }

  /** Active health check succeeded: un-eject when successful_active_health_check_uneject_host (default true). */
  onActiveHealthCheckSuccess(host: UpstreamHost): void {
    const m = this.monitors.get(host);
    if (m && m.ejectedAt >= 0 && this.config.successfulActiveHealthCheckUnejectHost) this.uneject(host, m);
  }

  private maybeEject(host: UpstreamHost, m: HostMonitor, reason: EjectionReason, enforcing: number): boolean {
    if (m.ejectedAt >= 0) return false;
    if (!(this.deps.random() * 100 < enforcing)) return false;
    const total = this.monitors.size;
    const active = this.stats.ejectionsActive;
    const pct = (100 * (active + 1)) / total;
    if (pct > this.config.maxEjectionPercent && active > 0) {
      this.stats.ejectionsOverflow++;
      return false;
    }
    const c = this.config;
    m.numEjections++;
    const jitter = c.maxEjectionTimeJitterMs > 0 ? Math.floor(this.deps.random() * c.maxEjectionTimeJitterMs) : 0;
    m.ejectionDurationMs = Math.min(c.baseEjectionTimeMs * m.numEjections, Math.max(c.maxEjectionTimeMs, c.baseEjectionTimeMs)) + jitter;
    m.ejectedAt = this.deps.timers.now();
    m.consecutive5xx = 0;
    m.consecutiveGateway = 0;
    m.consecutiveLocal = 0;
    host.healthFlags.add('failed_outlier_check');
    this.stats.ejectionsActive++;
    this.stats.ejectionsTotal++;
    this.stats.ejectionsEnforced[reason]++;
    this.deps.logger.info({ cluster: this.deps.clusterName, host: host.key, reason, ejections: m.numEjections, ejectionMs: m.ejectionDurationMs }, 'outlier detection: host ejected');
    this.deps.onChange();
    return true;
  }

  private uneject(host: UpstreamHost, m: HostMonitor, log = true): void {
    m.ejectedAt = -1;
    m.unejectedAt = this.deps.timers.now();
    host.healthFlags.delete('failed_outlier_check');
    this.stats.ejectionsActive--;
    if (log) this.deps.logger.info({ cluster: this.deps.clusterName, host: host.key }, 'outlier detection: host un-ejected');
    this.deps.onChange();
  }

  /** Interval timer: un-eject expired hosts, decay ejection counts, run success-rate / failure-percentage analysis. */
  onInterval(): void {
    this.timer = null;
    const now = this.deps.timers.now();
    const c = this.config;
    for (const [h, m] of this.monitors) {
      if (m.ejectedAt >= 0) {
        if (now - m.ejectedAt >= m.ejectionDurationMs) this.uneject(h, m);
      } else if (m.numEjections > 0 && now - m.unejectedAt >= c.baseEjectionTimeMs) {
        // Envoy lowers the ejection multiplier by one per interval once a host has stayed un-ejected for base_ejection_time.
        m.numEjections--;
      }
    }
    this.analyse(false);
    if (c.splitExternalLocalOriginErrors) this.analyse(true);
    for (const [h, m] of this.monitors) {
      h.successRate = m.extTotal >= c.successRateRequestVolume ? (100 * m.extSuccess) / m.extTotal : -1;
      h.localOriginSuccessRate = m.localTotal >= c.successRateRequestVolume ? (100 * m.localSuccess) / m.localTotal : -1;
      m.extSuccess = m.extTotal = m.localSuccess = m.localTotal = 0;
    }
    this.start();
  }

  private analyse(local: boolean): void {
    const c = this.config;
    const srHosts: [UpstreamHost, HostMonitor, number][] = [];
    const fpHosts: [UpstreamHost, HostMonitor, number][] = [];
    for (const [h, m] of this.monitors) {
      if (m.ejectedAt >= 0) continue;
      const total = local ? m.localTotal : m.extTotal;
      const success = local ? m.localSuccess : m.extSuccess;
      if (total === 0) continue;
      const rate = (100 * success) / total;
      if (total >= c.successRateRequestVolume) srHosts.push([h, m, rate]);
      if (total >= c.failurePercentageRequestVolume) fpHosts.push([h, m, 100 - rate]);
    }
    if (srHosts.length >= c.successRateMinimumHosts && srHosts.length > 0) {
      const mean = srHosts.reduce((s, x) => s + x[2], 0) / srHosts.length;
      const variance = srHosts.reduce((s, x) => s + (x[2] - mean) ** 2, 0) / srHosts.length;
      const threshold = mean - Math.sqrt(variance) * (c.successRateStdevFactor / 1000);
      for (const [h, m, rate] of srHosts) {
        if (rate < threshold) this.maybeEject(h, m, local ? 'local_origin_success_rate' : 'success_rate', local ? c.enforcingLocalOriginSuccessRate : c.enforcingSuccessRate);
      }
    }
    if (fpHosts.length >= c.failurePercentageMinimumHosts && fpHosts.length > 0) {
      for (const [h, m, failPct] of fpHosts) {
        if (failPct >= c.failurePercentageThreshold) {
          this.maybeEject(h, m, local ? 'local_origin_failure_percentage' : 'failure_percentage', local ? c.enforcingFailurePercentageLocalOrigin : c.enforcingFailurePercentage);
        }
      }
    }
  }
}
