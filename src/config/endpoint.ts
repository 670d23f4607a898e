// config/: internal, readonly form of envoy.config.endpoint.v3.ClusterLoadAssignment (filled in by
// xds/resource-types/cluster-load-assignment.ts). OWNER: cluster slice. Plain data.

export interface EndpointsConfig {
  readonly clusterName: string;
}
