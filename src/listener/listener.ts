// listener/: one listener version at runtime. Built once per accepted ListenerConfig: a filter-chain matcher over
// per-chain runtimes (TLS context + HCM or tcp_proxy). For each accepted socket it runs the listener filters,
// selects the chain, terminates TLS (ALPN) when the chain has a DownstreamTlsContext, and hands the connection to
// the chain's network filter. A connection pins the ActiveListener (and so the config) it was accepted with.
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { FilterChainConfig, ListenerConfig, DownstreamTlsConfig } from '../config/listener.js';
import { HttpConnectionManager } from '../http/connection-manager.js';
import type { HttpDeps } from '../http/connection-manager.js';
import type { ConnectionInfo } from '../http/downstream.js';
import { TcpProxy, type TcpSessionResult } from '../network/tcp-proxy/tcp-proxy.js';
import { FilterChainMatcher } from './filter-chain-matcher.js';
import { inspectConnection } from './tls-inspector.js';
import { certificateSans } from '../upstream/transport/tls-options.js';
import { ReplaySocket } from '../http/replay-socket.js';

export type ListenerState = 'active' | 'draining' | 'closed';

export interface ListenerDeps extends HttpDeps {
  /** Called when a connection matched no filter chain (flag NR) or failed its TLS handshake. */
  readonly onConnectionRejected?: (listener: string, reason: string) => void;
  /** Called when a tcp_proxy session ends (access logs, TCP stats). */
  readonly onTcpSessionEnd?: (session: TcpSessionEnd) => void;
}

/** A finished tcp_proxy session with the connection facts access logs need. */
export interface TcpSessionEnd extends TcpSessionResult {
  readonly statPrefix: string;
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly requestedServerName: string;
}

/** Per filter chain runtime. */
export interface ChainRuntime {
  readonly config: FilterChainConfig;
  readonly secureContext: tls.SecureContext | null;
  /** A never-listening tls.Server that terminates TLS for this chain (handshake, ALPN, client certificates). */
  readonly tlsServer: tls.Server | null;
  readonly alpn: string[];
  readonly hcm: HttpConnectionManager | null;
  readonly tcp: TcpProxy | null;
  readonly sniCluster: boolean;
}

/** Where a connection is really going (original destination restored by original_dst). */
export interface AcceptedConnection {
  readonly socket: Socket;
  readonly localAddress: string;
  readonly localPort: number;
  readonly originalDestination?: string;
}

export class ActiveListener {
  state: ListenerState = 'active';
  /** Connections accepted by this listener version and still open. */
  connections = 0;
  totalConnections = 0;
  noFilterChainMatch = 0;
  private readonly chains: ChainRuntime[];
  private readonly defaultChain: ChainRuntime | null;
  private readonly matcher: FilterChainMatcher<ChainRuntime>;
  private readonly tlsInspector: boolean;
  private readonly httpInspector: boolean;
  /** original_dst listener filter present, or use_original_dst (which implies it in Envoy). */
  readonly restoresOriginalDst: boolean;
  private readonly sockets = new Set<Socket>();
  private drainWaiters: (() => void)[] = [];

  constructor(readonly config: ListenerConfig, private readonly deps: ListenerDeps) {
    const port = config.address.port;
    this.chains = config.filterChains.map((c) => buildChain(c, deps, port, config.trafficDirection));
    this.defaultChain = config.defaultFilterChain ? buildChain(config.defaultFilterChain, deps, port, config.trafficDirection) : null;
    this.matcher = new FilterChainMatcher<ChainRuntime>(
      this.chains.map((c) => ({ match: c.config.match, value: c })),
      this.defaultChain ?? undefined,
    );
    this.tlsInspector = config.listenerFilters.some((f) => f.kind === 'tls_inspector');
    this.httpInspector = config.listenerFilters.some((f) => f.kind === 'http_inspector');
    this.restoresOriginalDst = config.useOriginalDst || config.listenerFilters.some((f) => f.kind === 'original_dst');
  }

  get name(): string {
    return this.config.name;
  }

  /** Takes ownership of an accepted socket. */
  handle(conn: AcceptedConnection): void {
    const socket = conn.socket;
    if (this.state !== 'active') {
      socket.destroy();
      return;
    }
    this.connections++;
    this.totalConnections++;
    this.sockets.add(socket);
    socket.once('close', () => {
      this.connections--;
      this.sockets.delete(socket);
      this.checkDrained();
    });
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    void inspectConnection(socket, {
      tlsInspector: this.tlsInspector,
      httpInspector: this.httpInspector,
      timeoutMs: this.config.listenerFiltersTimeoutMs,
    }).then((info) => {
      if (socket.destroyed) return;
      if (info.timedOut && !this.config.continueOnListenerFiltersTimeout) {
        socket.destroy();
        return;
      }
      const sel = this.matcher.select({
        localAddress: conn.localAddress,
        localPort: conn.localPort,
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        serverName: info.serverName,
        transportProtocol: info.transportProtocol,
        applicationProtocols: info.applicationProtocols,
      });
      if (!sel) {
        this.noFilterChainMatch++;
        this.deps.onConnectionRejected?.(this.config.name, 'no matching filter chain');
        socket.destroy();
        return;
      }
      this.dispatch(sel.value, conn, info.peeked, info.ended, info.serverName);
    });
  }

  private dispatch(chain: ChainRuntime, conn: AcceptedConnection, peeked: Buffer, ended: boolean, sni: string): void {
    const socket = conn.socket;
    if (chain.tcp) {
      const startTimeMs = Date.now();
      const remoteAddress = socket.remoteAddress ?? '';
      const remotePort = socket.remotePort ?? 0;
      const session = chain.tcp.handle({
        socket,
        peeked,
        ended,
        originalDestination: conn.originalDestination,
        clusterOverride: chain.sniCluster && sni ? sni : undefined,
      });
      const onEnd = this.deps.onTcpSessionEnd;
      if (onEnd) {
        const statPrefix = chain.tcp.config.statPrefix;
        void session.done.then((r) => onEnd({
          ...r, statPrefix, startTimeMs, durationMs: Date.now() - startTimeMs, remoteAddress, remotePort,
          localAddress: conn.localAddress, localPort: conn.localPort, requestedServerName: sni,
        }));
      }
      return;
    }
    const hcm = chain.hcm;
    if (!hcm) {
      socket.destroy();
      return;
    }
    const info = {
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      localAddress: conn.localAddress,
      localPort: conn.localPort,
      tls: chain.secureContext !== null,
      sni,
    };
    if (!chain.secureContext) {
      if (peeked.length > 0) socket.unshift(peeked);
      hcm.handleConnection(socket, '', info);
      return;
    }
    // node:tls reads a net.Socket's handle directly; bytes the inspectors read must be replayed through JS.
    const carrier = peeked.length > 0 ? new ReplaySocket(socket, peeked) : socket;
    pendingTls.set(carrier, { hcm, info });
    chain.tlsServer!.emit('connection', carrier);
    socket.resume();
  }

  /** Stop taking connections; existing ones finish (HTTP: idle closed, GOAWAY), bounded by `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'draining';
    const all = [...this.chains, ...(this.defaultChain ? [this.defaultChain] : [])];
    const hcmDrains = all.filter((c) => c.hcm).map((c) => c.hcm!.drain(timeoutMs));
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.destroy();
        resolve();
      }, timeoutMs);
      t.unref();
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      void Promise.all(hcmDrains).then(() => this.checkDrained());
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    if (this.state !== 'draining' || this.sockets.size > 0) return;
    this.state = 'closed';
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  destroy(): void {
    this.state = 'closed';
    for (const c of [...this.chains, ...(this.defaultChain ? [this.defaultChain] : [])]) c.hcm?.destroy();
    for (const s of this.sockets) s.destroy();
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}

function buildChain(c: FilterChainConfig, deps: ListenerDeps, port: number, trafficDirection: ListenerConfig['trafficDirection']): ChainRuntime {
  let hcm: HttpConnectionManager | null = null;
  let tcp: TcpProxy | null = null;
  let sniCluster = false;
  for (const f of c.filters) {
    if (f.kind === 'http_connection_manager') hcm = new HttpConnectionManager(f.config, deps, port, { trafficDirection });
    else if (f.kind === 'tcp_proxy') tcp = new TcpProxy(f.config, { clusters: deps.clusters, random: deps.random });
    else if (f.kind === 'sni_cluster') sniCluster = true;
  }
  let secureContext: tls.SecureContext | null = null;
  let tlsServer: tls.Server | null = null;
  let alpn: string[] = [];
  if (c.tls) {
    const t = c.tls;
    const cert = t.certificates[0];
    const ctxOptions: tls.SecureContextOptions = {
      cert: cert?.certChain,
      key: cert?.privateKey,
      ca: t.trustedCa ?? undefined,
      minVersion: (t.minVersion ?? 'TLSv1.2') as tls.SecureVersion,
      maxVersion: (t.maxVersion ?? undefined) as tls.SecureVersion | undefined,
      ciphers: t.cipherSuites.length ? t.cipherSuites.join(':') : undefined,
    };
    secureContext = tls.createSecureContext(ctxOptions);
    alpn = t.alpn.length ? [...t.alpn] : hcm ? (hcm.config.codecType === 'HTTP1' ? ['http/1.1'] : hcm.config.codecType === 'HTTP2' ? ['h2'] : ['h2', 'http/1.1']) : [];
    tlsServer = tls.createServer({
      ...ctxOptions,
      ALPNProtocols: alpn.length ? alpn : undefined,
      requestCert: t.requireClientCertificate || t.trustedCa !== null,
      rejectUnauthorized: t.requireClientCertificate,
      handshakeTimeout: 10_000,
    });
    tlsServer.on('tlsClientError', (_e: Error, s: tls.TLSSocket) => s.destroy());
    tlsServer.on('secureConnection', (ts: tls.TLSSocket) => onSecure(ts, t));
  }
  return { config: c, secureContext, tlsServer, alpn, hcm, tcp, sniCluster };
}

/** Connections handed to a chain's tls.Server, waiting for their handshake (keyed by the object emitted). */
const pendingTls = new WeakMap<object, { hcm: HttpConnectionManager; info: ConnectionInfo }>();

function onSecure(ts: tls.TLSSocket, t: DownstreamTlsConfig): void {
  const parent = (ts as tls.TLSSocket & { _parent?: object })._parent;
  const p = parent ? pendingTls.get(parent) : undefined;
  if (!p) {
    ts.destroy();
    return;
  }
  pendingTls.delete(parent!);
  if (t.matchSubjectAltNames.length > 0) {
    const cert = ts.getPeerCertificate();
    const sans = cert && Object.keys(cert).length ? certificateSans(cert) : [];
    if (!t.matchSubjectAltNames.some((s) => sans.includes(s))) {
      ts.destroy();
      return;
    }
  }
  const servername = (ts as tls.TLSSocket & { servername?: string | false }).servername;
  const sni = typeof servername === 'string' ? servername : p.info.sni;
  p.hcm.handleConnection(ts, typeof ts.alpnProtocol === 'string' ? ts.alpnProtocol : '', { ...p.info, sni });
}
