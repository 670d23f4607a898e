// test program (L4): a stand-in for meshlet's outbound capture listener, built only from the L4 runtime pieces —
// original_dst (SO_ORIGINAL_DST), tls_inspector + http_inspector, the filter-chain matcher, sni_cluster and
// tcp_proxy over a static ClusterManagerView. Runs inside a network namespace as uid 1337 behind
// `meshlet iptables`; prints one JSON line per event on stdout. argv[2] = JSON SidecarSpec.
import net from 'node:net';
import { Issues, formatErrors } from '../../../src/common/validation.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { translateFilterChainMatch } from '../../../src/xds/resource-types/filter-chain-match.js';
import { translateTcpProxy } from '../../../src/xds/resource-types/tcp-proxy.js';
import { FilterChainMatcher } from '../../../src/listener/filter-chain-matcher.js';
import { getOriginalDst, originalDstUnavailableReason } from '../../../src/listener/original-dst.js';
import { inspectConnection } from '../../../src/listener/tls-inspector.js';
import { TcpProxy, type DownstreamConnection } from '../../../src/network/tcp-proxy/tcp-proxy.js';
import { applySniCluster } from '../../../src/network/sni-cluster.js';
import { StaticClusters, type StaticClusterSpec } from './static-clusters.js';

export interface SidecarChain {
  readonly name: string;
  /** Envoy JSON FilterChainMatch. */
  readonly match?: Record<string, unknown>;
  /** Envoy JSON TcpProxy. */
  readonly tcpProxy: Record<string, unknown>;
  readonly sniCluster?: boolean;
}

export interface SidecarSpec {
  readonly port: number;
  readonly chains: readonly SidecarChain[];
  readonly defaultChain?: SidecarChain;
  readonly clusters: readonly StaticClusterSpec[];
}

interface CompiledChain { readonly name: string; readonly proxy: TcpProxy; readonly sniCluster: boolean }

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function main(): void {
  const spec = JSON.parse(process.argv[2]) as SidecarSpec;
  const unavailable = originalDstUnavailableReason();
  if (unavailable) {
    emit({ event: 'fatal', error: `original_dst unavailable: ${unavailable}` });
    process.exit(3);
  }
  const clusters = new StaticClusters(spec.clusters);
  const issues = new Issues('chains');
  const compile = (c: SidecarChain, i: Issues): CompiledChain => ({
    name: c.name,
    sniCluster: c.sniCluster === true,
    proxy: new TcpProxy(translateTcpProxy(jsonToCanonical('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', c.tcpProxy), i.at('tcp_proxy')), { clusters }),
  });
  const entries = spec.chains.map((c, n) => ({
    match: translateFilterChainMatch(c.match && jsonToCanonical('envoy.config.listener.v3.FilterChainMatch', c.match), issues.at(n).at('filter_chain_match')),
    value: compile(c, issues.at(n)),
  }));
  const dflt = spec.defaultChain ? compile(spec.defaultChain, issues.at('default')) : undefined;
  if (issues.hasErrors) {
    emit({ event: 'fatal', error: formatErrors(issues.allErrors()) });
    process.exit(3);
  }
  const matcher = new FilterChainMatcher(entries, dflt);

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    void onConnection(socket);
  });
  async function onConnection(socket: net.Socket): Promise<void> {
    socket.on('error', () => {});
    const od = getOriginalDst(socket);
    const local = od ?? { address: socket.localAddress ?? '', port: socket.localPort ?? 0, family: 4 };
    const seen = await inspectConnection(socket, { tlsInspector: true, httpInspector: true, timeoutMs: 5000 });
    const sel = matcher.select({
      localAddress: local.address, localPort: local.port,
      remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0,
      serverName: seen.serverName, transportProtocol: seen.transportProtocol, applicationProtocols: seen.applicationProtocols,
    });
    emit({
      event: 'accept', originalDst: od, remote: `${socket.remoteAddress}:${socket.remotePort}`,
      serverName: seen.serverName, transportProtocol: seen.transportProtocol, applicationProtocols: seen.applicationProtocols,
      chain: sel ? sel.value.name : null,
    });
    if (!sel) {
      emit({ event: 'done', responseFlags: ['NR'], reason: 'no filter chain matched' });
      socket.destroy();
      return;
    }
    const host = local.address.includes(':') ? `[${local.address}]` : local.address;
    let conn: DownstreamConnection = { socket, peeked: seen.peeked, ended: seen.ended, originalDestination: `${host}:${local.port}` };
    if (sel.value.sniCluster) conn = applySniCluster(conn, seen.serverName);
    const result = await sel.value.proxy.handle(conn).done;
    emit({ event: 'done', chain: sel.value.name, ...result });
  }
  server.listen({ port: spec.port, host: '::', ipv6Only: false }, () => emit({ event: 'listening', port: spec.port }));
  process.on('SIGTERM', () => { server.close(); process.exit(0); });
}

main();
