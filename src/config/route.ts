// config/: internal, readonly form of envoy.config.route.v3.RouteConfiguration (filled in by
// xds/resource-types/route-configuration.ts). OWNER: route slice. Plain data; router/ compiles it into lookups.

export interface RouteConfig {
  readonly name: string;
}
