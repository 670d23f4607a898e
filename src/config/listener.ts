// config/: internal, readonly form of envoy.config.listener.v3.Listener (filled in by xds/resource-types/listener.ts).
// OWNER: data-plane slice (listener + HCM + tcp_proxy). Extend freely; keep it plain data (no behaviour).

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
  /** Unix socket path when the address is a pipe. */
  readonly pipe?: string;
}

export interface ListenerConfig {
  readonly name: string;
  readonly address: SocketAddress;
}
