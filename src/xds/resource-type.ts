// xds/: the contract between the xDS transport (ADS / filesystem / static) and the per-type translators in
// resource-types/. A ResourceType turns one canonical resource (see proto-json.ts) into a readonly internal
// config value, reporting every problem with its field path. It is the only code that reads protos' shapes.
import type { ValidationResult } from '../common/validation.js';
import type { Canonical } from './proto-json.js';
import type { NodeInfo } from '../config/node.js';

export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;
export type XdsTypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

export const ShortName: Record<XdsTypeUrl, 'LDS' | 'RDS' | 'CDS' | 'EDS'> = {
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.RouteConfiguration]: 'RDS',
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.ClusterLoadAssignment]: 'EDS',
};

/** What translators may consult (never mutable runtime state). */
export interface TranslateContext {
  readonly node: NodeInfo;
}

/** Resources a translated value needs before it may serve (warming): RDS names of a listener, EDS name of a cluster. */
export interface Dependencies {
  readonly routeConfigs?: readonly string[];
  readonly endpoints?: readonly string[];
}

export interface ResourceType<T> {
  readonly typeUrl: XdsTypeUrl;
  /** Protobuf full name of the message, e.g. 'envoy.config.cluster.v3.Cluster'. */
  readonly messageName: string;
  /** The resource's name (the key it is subscribed and stored under). */
  name(resource: Canonical): string;
  /** Validate and translate; never throws. `resource` is canonical, without '@type'. */
  translate(resource: Canonical, ctx: TranslateContext): ValidationResult<T>;
  dependencies(value: T): Dependencies;
}
