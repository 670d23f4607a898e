// xds/resource-types/: EDS — envoy.config.endpoint.v3.ClusterLoadAssignment (canonical) → EndpointsConfig.
// The same code translates a cluster's inline load_assignment (STATIC / DNS clusters) via translateLoadAssignment.
import { Issues } from '../../common/validation.js';
import type { ValidationResult } from '../../common/validation.js';
import type { Canonical } from '../proto-json.js';
import type { ResourceType } from '../resource-type.js';
import { TypeUrl } from '../resource-type.js';
import type { DropOverload, EdsHealthStatus, EndpointAddress, EndpointsConfig, LbEndpointConfig, LocalityEndpointsConfig } from '../../config/endpoint.js';
import type { Locality } from '../../config/node.js';

const HEALTH: ReadonlySet<string> = new Set(['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED']);
const DENOMINATOR_PPM: Record<string, number> = { HUNDRED: 10000, TEN_THOUSAND: 100, MILLION: 1 };

export interface LoadAssignmentOptions {
  /** DNS clusters accept host names in socket_address.address; STATIC/EDS require IPs. */
  readonly allowHostnames: boolean;
}

function obj(v: unknown): Canonical {
  return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Canonical) : {};
}
function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Keys of `o` that are set and not in `known` become "not supported" errors (behaviour-changing fields never ignored). */
export function rejectUnknownKeys(o: Canonical, known: ReadonlySet<string>, issues: Issues): void {
  for (const k of Object.keys(o)) if (!known.has(k)) issues.unsupported(k);
}

// Built once, not per endpoint (100,000 endpoints built 200,000 Sets).
const SOCKET_ADDRESS_KEYS: ReadonlySet<string> = new Set(['address', 'port_value', 'protocol', 'ipv4_compat', 'resolver_name', 'named_port']);
const HEALTH_CHECK_CONFIG_KEYS: ReadonlySet<string> = new Set(['port_value', 'hostname', 'disable_active_health_check', 'address']);
const NO_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
export function isIp(s: string): boolean {
  return IPV4.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
}

/** core.v3.Address → EndpointAddress (socket_address TCP or pipe). */
export function translateAddress(a: Canonical, issues: Issues, allowHostnames: boolean): EndpointAddress | null {
  if (a.socket_address) {
    const sa = obj(a.socket_address);
    const si = issues.at('socket_address');
    rejectUnknownKeys(sa, SOCKET_ADDRESS_KEYS, si);
    if (sa.protocol !== undefined && sa.protocol !== 'TCP') si.error('only TCP endpoints are supported', 'protocol');
    if (sa.resolver_name) si.unsupported('resolver_name');
    if (sa.named_port) si.unsupported('named_port');
    const address = typeof sa.address === 'string' ? sa.address : '';
    if (!address) si.error('address is required', 'address');
    else if (!allowHostnames && !isIp(address)) si.error(`"${address}" is not an IP address (only DNS clusters resolve names)`, 'address');
    const port = typeof sa.port_value === 'number' ? sa.port_value : 0;
    if (port < 0 || port > 65535) si.error(`port ${port} out of range`, 'port_value');
    return { address, port };
  }
  if (a.pipe) {
    const p = obj(a.pipe);
    if (typeof p.path !== 'string' || !p.path) issues.at('pipe').error('path is required', 'path');
    return { address: '', port: 0, pipe: String(p.path ?? '') };
  }
  if (a.envoy_internal_address) {
    issues.unsupported('envoy_internal_address');
    return null;
  }
  issues.error('address must set socket_address or pipe');
  return null;
}

function translateLocality(l: Canonical): Locality {
  const out: { region?: string; zone?: string; sub_zone?: string } = {};
  if (typeof l.region === 'string' && l.region) out.region = l.region;
  if (typeof l.zone === 'string' && l.zone) out.zone = l.zone;
  if (typeof l.sub_zone === 'string' && l.sub_zone) out.sub_zone = l.sub_zone;
  return Object.freeze(out);
}

function filterMetadata(m: unknown): Readonly<Record<string, unknown>> {
  if (m === undefined) return NO_METADATA; // most endpoints: one shared frozen object, not one each
  const md = obj(m);
  return Object.freeze({ ...obj(md.filter_metadata) });
}

const LB_ENDPOINT_KEYS = new Set(['endpoint', 'health_status', 'metadata', 'load_balancing_weight', 'endpoint_name']);
/** Shared by every assignment without drop_overloads (one empty array per EDS resource otherwise). */
const NO_DROP_OVERLOADS: readonly DropOverload[] = Object.freeze([]);
const ENDPOINT_KEYS = new Set(['address', 'health_check_config', 'hostname', 'additional_addresses']);
const LOCALITY_KEYS = new Set(['locality', 'metadata', 'lb_endpoints', 'load_balancing_weight', 'priority', 'proximity']);

function translateLbEndpoint(e: Canonical, issues: Issues, opts: LoadAssignmentOptions): LbEndpointConfig | null {
  rejectUnknownKeys(e, LB_ENDPOINT_KEYS, issues);
  if (e.endpoint_name !== undefined) issues.unsupported('endpoint_name', 'named endpoints are not supported by meshlet');
  const ep = obj(e.endpoint);
  const ei = issues.at('endpoint');
  rejectUnknownKeys(ep, ENDPOINT_KEYS, ei);
  if (ep.additional_addresses !== undefined) ei.unsupported('additional_addresses');
  if (!e.endpoint || !ep.address) {
    ei.error('address is required', 'address');
    return null;
  }
  const address = translateAddress(obj(ep.address), ei.at('address'), opts.allowHostnames);
  const hs = e.health_status === undefined ? 'UNKNOWN' : String(e.health_status);
  if (!HEALTH.has(hs)) issues.error(`unknown health_status ${hs}`, 'health_status');
  const weight = e.load_balancing_weight === undefined ? 1 : Number(e.load_balancing_weight);
  if (!(weight >= 1)) issues.error('load_balancing_weight must be at least 1', 'load_balancing_weight');
  const hcc = obj(ep.health_check_config);
  const hci = ei.at('health_check_config');
  rejectUnknownKeys(hcc, HEALTH_CHECK_CONFIG_KEYS, hci);
  if (hcc.address !== undefined) hci.unsupported('address');
  if (hcc.disable_active_health_check === true) hci.unsupported('disable_active_health_check');
  if (!address) return null;
  return Object.freeze({
    address,
    hostname: typeof ep.hostname === 'string' ? ep.hostname : '',
    healthStatus: hs as EdsHealthStatus,
    weight,
    healthCheckPort: typeof hcc.port_value === 'number' ? hcc.port_value : 0,
    healthCheckHostname: typeof hcc.hostname === 'string' ? hcc.hostname : '',
    metadata: filterMetadata(e.metadata),
  });
}

/** Translates a canonical ClusterLoadAssignment (EDS resource or a cluster's load_assignment) into EndpointsConfig. */
export function translateLoadAssignment(la: Canonical, issues: Issues, opts: LoadAssignmentOptions): EndpointsConfig {
  rejectUnknownKeys(la, new Set(['cluster_name', 'endpoints', 'named_endpoints', 'policy']), issues);
  if (la.named_endpoints !== undefined) issues.unsupported('named_endpoints');
  const localities: LocalityEndpointsConfig[] = [];
  const seenPriorities = new Set<number>();
  arr(la.endpoints).forEach((raw, i) => {
    const le = obj(raw);
    const li = issues.at('endpoints').at(i);
    rejectUnknownKeys(le, LOCALITY_KEYS, li);
    if (le.proximity !== undefined) li.unsupported('proximity');
    const priority = typeof le.priority === 'number' ? le.priority : 0;
    seenPriorities.add(priority);
    const weight = le.load_balancing_weight === undefined ? 0 : Number(le.load_balancing_weight);
    const endpoints: LbEndpointConfig[] = [];
    arr(le.lb_endpoints).forEach((e, j) => {
      const t = translateLbEndpoint(obj(e), li.at('lb_endpoints').at(j), opts);
      if (t) endpoints.push(t);
    });
    localities.push(Object.freeze({ locality: translateLocality(obj(le.locality)), weight, priority, endpoints: Object.freeze(endpoints) }));
  });
  // Envoy requires priorities to be contiguous from 0.
  const maxP = seenPriorities.size ? Math.max(...seenPriorities) : 0;
  for (let p = 0; p <= maxP && seenPriorities.size; p++) {
    if (!seenPriorities.has(p)) {
      issues.error(`priorities must be contiguous from 0 (priority ${p} is missing)`, 'endpoints');
      break;
    }
  }
  const policy = obj(la.policy);
  const pi = issues.at('policy');
  rejectUnknownKeys(policy, new Set(['drop_overloads', 'overprovisioning_factor', 'endpoint_stale_after', 'weighted_priority_health']), pi);
  const overprovisioningFactor = policy.overprovisioning_factor === undefined ? 140 : Number(policy.overprovisioning_factor);
  if (!(overprovisioningFactor > 0)) pi.error('overprovisioning_factor must be greater than 0', 'overprovisioning_factor');
  const dropOverloads: DropOverload[] = [];
  arr(policy.drop_overloads).forEach((d, i) => {
    const dd = obj(d);
    const di = pi.at('drop_overloads').at(i);
    const pct = obj(dd.drop_percentage);
    const denom = pct.denominator === undefined ? 'HUNDRED' : String(pct.denominator);
    const mult = DENOMINATOR_PPM[denom];
    if (!mult) di.error(`unknown denominator ${denom}`, 'drop_percentage');
    const numerator = Number(pct.numerator ?? 0);
    dropOverloads.push({ category: String(dd.category ?? ''), ppm: Math.min(1_000_000, numerator * (mult ?? 0)) });
  });
  if (dropOverloads.length > 1) pi.error('at most one drop_overloads category is supported (as in Envoy)', 'drop_overloads');
  return Object.freeze({
    clusterName: typeof la.cluster_name === 'string' ? la.cluster_name : '',
    localities: Object.freeze(localities),
    overprovisioningFactor,
    dropOverloads: dropOverloads.length > 0 ? Object.freeze(dropOverloads) : NO_DROP_OVERLOADS,
    endpointStaleAfterMs: typeof policy.endpoint_stale_after === 'number' ? policy.endpoint_stale_after : 0,
    weightedPriorityHealth: policy.weighted_priority_health === true,
  });
}

export const clusterLoadAssignmentResourceType: ResourceType<EndpointsConfig> = {
  typeUrl: TypeUrl.ClusterLoadAssignment,
  messageName: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  name(resource: Canonical): string {
    return typeof resource.cluster_name === 'string' ? resource.cluster_name : '';
  },
  translate(resource: Canonical): ValidationResult<EndpointsConfig> {
    const issues = new Issues();
    if (!resource.cluster_name) issues.error('cluster_name is required', 'cluster_name');
    const value = translateLoadAssignment(resource, issues, { allowHostnames: false });
    return issues.result(value);
  },
  dependencies(): Record<string, never> {
    return {};
  },
};
