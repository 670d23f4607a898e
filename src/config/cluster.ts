// config/: internal, readonly form of envoy.config.cluster.v3.Cluster (filled in by xds/resource-types/cluster.ts).
// OWNER: cluster slice. Plain data; upstream/ builds runtime clusters from it.

export interface ClusterConfig {
  readonly name: string;
}
