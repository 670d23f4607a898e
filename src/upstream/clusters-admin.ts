// upstream/: Envoy's GET /clusters output (text: one `cluster::host::stat::value` fact per line; JSON: the
// envoy.admin.v3.Clusters shape in proto3 JSON) rendered from the live cluster runtimes. Read-only.
import type { ClusterRuntime } from './upstream-cluster.js';
import type { UpstreamHost } from './upstream-host.js';
import type { HealthFlag } from './types.js';

export interface ClusterView {
  readonly runtime: ClusterRuntime;
  readonly addedViaApi: boolean;
}

const FLAG_ORDER: readonly HealthFlag[] = ['failed_active_hc', 'failed_outlier_check', 'failed_eds_health', 'degraded_active_hc', 'degraded_eds_health', 'pending_dynamic_removal'];

/** Envoy's health_flags text: `healthy`, or each set flag prefixed with '/'. */
export function healthFlagsText(h: UpstreamHost): string {
  let s = '';
  for (const f of FLAG_ORDER) if (h.healthFlags.has(f)) s += `/${f}`;
  return s || 'healthy';
}

function hostLines(c: string, h: UpstreamHost, out: string[]): void {
  const p = `${c}::${h.key}::`;
  const st = h.stats;
  out.push(
    `${p}cx_active::${st.cxActive}`, `${p}cx_connect_fail::${st.cxConnectFail}`, `${p}cx_total::${st.cxTotal}`,
    `${p}rq_active::${h.activeRequests}`, `${p}rq_error::${st.rqError}`, `${p}rq_success::${st.rqSuccess}`,
    `${p}rq_timeout::${st.rqTimeout}`, `${p}rq_total::${st.rqTotal}`, `${p}hostname::${h.hostname}`,
    `${p}health_flags::${healthFlagsText(h)}`, `${p}weight::${h.weight}`, `${p}region::${h.locality.region ?? ''}`,
    `${p}zone::${h.locality.zone ?? ''}`, `${p}sub_zone::${h.locality.sub_zone ?? ''}`, `${p}canary::${h.canary}`,
    `${p}priority::${h.priority}`, `${p}success_rate::${h.successRate}`, `${p}local_origin_success_rate::${h.localOriginSuccessRate}`,
  );
}

export function renderClustersText(versionInfo: string, clusters: readonly ClusterView[]): string {
  const out: string[] = [`version_info::${versionInfo || 'static'}`];
  for (const { runtime, addedViaApi } of clusters) {
    const c = runtime.name;
    const cfg = runtime.config;
    out.push(`${c}::observability_name::${cfg.altStatName || c}`);
    if (runtime.outlier) {
      out.push(`${c}::outlier::success_rate_average::-1`, `${c}::outlier::success_rate_ejection_threshold::-1`,
        `${c}::outlier::local_origin_success_rate_average::-1`, `${c}::outlier::local_origin_success_rate_ejection_threshold::-1`);
    }
    for (const b of runtime.breakerObjects()) {
      const pfx = `${c}::${b.config.priority === 'HIGH' ? 'high' : 'default'}_priority::`;
      out.push(`${pfx}max_connections::${b.config.maxConnections}`, `${pfx}max_pending_requests::${b.config.maxPendingRequests}`,
        `${pfx}max_requests::${b.config.maxRequests}`, `${pfx}max_retries::${b.config.maxRetries}`);
    }
    out.push(`${c}::added_via_api::${addedViaApi}`);
    if (cfg.type === 'EDS') out.push(`${c}::eds_service_name::${cfg.edsServiceName}`);
    for (const h of runtime.hosts()) hostLines(c, h, out);
  }
  return out.join('\n') + '\n';
}

export interface ClustersJson {
  readonly cluster_statuses: readonly Record<string, unknown>[];
}

function stat(name: string, value: number, type: 'COUNTER' | 'GAUGE'): Record<string, unknown> {
  return value ? { name, value: String(value), ...(type === 'GAUGE' ? { type } : {}) } : { name, ...(type === 'GAUGE' ? { type } : {}) };
}

export function renderClustersJson(clusters: readonly ClusterView[]): ClustersJson {
  return {
    cluster_statuses: clusters.map(({ runtime, addedViaApi }) => {
      const cfg = runtime.config;
      const hostStatuses = runtime.hosts().map((h) => {
        const health: Record<string, unknown> = { eds_health_status: h.edsHealth };
        if (h.healthFlags.has('failed_active_hc')) health.failed_active_health_check = true;
        if (h.healthFlags.has('failed_outlier_check')) health.failed_outlier_check = true;
        if (h.healthFlags.has('degraded_active_hc')) health.failed_active_degraded_check = true;
        if (h.healthFlags.has('pending_dynamic_removal')) health.pending_dynamic_removal = true;
        const st = h.stats;
        const locality: Record<string, string> = {};
        if (h.locality.region) locality.region = h.locality.region;
        if (h.locality.zone) locality.zone = h.locality.zone;
        if (h.locality.sub_zone) locality.sub_zone = h.locality.sub_zone;
        return {
          address: h.pipe ? { pipe: { path: h.pipe } } : { socket_address: { address: h.address, port_value: h.port } },
          stats: [
            stat('cx_connect_fail', st.cxConnectFail, 'COUNTER'), stat('cx_total', st.cxTotal, 'COUNTER'), stat('rq_error', st.rqError, 'COUNTER'),
            stat('rq_success', st.rqSuccess, 'COUNTER'), stat('rq_timeout', st.rqTimeout, 'COUNTER'), stat('rq_total', st.rqTotal, 'COUNTER'),
            stat('cx_active', st.cxActive, 'GAUGE'), stat('rq_active', h.activeRequests, 'GAUGE'),
          ],
          health_status: health,
          ...(h.successRate >= 0 ? { success_rate: { value: h.successRate } } : {}),
          weight: h.weight,
          ...(h.hostname ? { hostname: h.hostname } : {}),
          ...(h.priority ? { priority: h.priority } : {}),
          ...(Object.keys(locality).length ? { locality } : {}),
          ...(h.localOriginSuccessRate >= 0 ? { local_origin_success_rate: { value: h.localOriginSuccessRate } } : {}),
        };
      });
      return {
        name: runtime.name,
        ...(addedViaApi ? { added_via_api: true } : {}),
        host_statuses: hostStatuses,
        circuit_breakers: {
          thresholds: runtime.breakerObjects().map((b) => ({
            ...(b.config.priority === 'HIGH' ? { priority: 'HIGH' } : {}),
            max_connections: b.config.maxConnections, max_pending_requests: b.config.maxPendingRequests,
            max_requests: b.config.maxRequests, max_retries: b.config.maxRetries,
          })),
        },
        observability_name: cfg.altStatName || runtime.name,
        ...(cfg.type === 'EDS' ? { eds_service_name: cfg.edsServiceName } : {}),
      };
    }),
  };
}
