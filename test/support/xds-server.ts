// test/support: an in-memory ADS management server (SotW and Delta) over real gRPC, behaving like
// go-control-plane's snapshot cache: full LDS/CDS sets, RDS/EDS filtered by the client's names, Delta diffs with
// removed_resources, one nonce per response. Records every request for ACK/NACK/nonce assertions.
// Also exports minimal ResourceTypes for the four core type URLs so xDS tests do not depend on the translators.
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { decodeMessage, encodeAny, type Canonical } from '../../src/xds/proto-json.js';
import { mustLookupType } from '../../src/xds/protos.js';
import { Issues } from '../../src/common/validation.js';
import { TypeUrl, type ResourceType, type XdsTypeUrl } from '../../src/xds/resource-type.js';

export interface RecordedRequest {
  readonly stream: number;
  readonly kind: 'sotw' | 'delta';
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resourceNames: readonly string[];
  readonly subscribe: readonly string[];
  readonly unsubscribe: readonly string[];
  readonly initialVersions: Readonly<Record<string, string>>;
  readonly errorDetail?: { readonly code?: number; readonly message?: string };
  readonly node?: Canonical;
  readonly at: number;
}

export interface SentResponse {
  readonly stream: number;
  readonly kind: 'sotw' | 'delta';
  readonly typeUrl: string;
  readonly version: string;
  readonly nonce: string;
  readonly names: readonly string[];
  readonly removed: readonly string[];
}

interface StoredResource {
  readonly name: string;
  readonly any: { type_url: string; value: Uint8Array };
  readonly version: string;
}

interface SotwSub { names: string[] | null; lastNonce: string; sentVersion: string }
interface DeltaSub { wildcard: boolean; subscribed: Set<string>; known: Map<string, string> }

interface StreamCtx {
  readonly id: number;
  readonly kind: 'sotw' | 'delta';
  readonly call: grpc.ServerDuplexStream<any, any>;
  readonly sotw: Map<string, SotwSub>;
  readonly delta: Map<string, DeltaSub>;
}

const NAME_OF: Record<string, (r: Canonical) => string> = {
  [TypeUrl.ClusterLoadAssignment]: (r) => String(r.cluster_name ?? ''),
};
const WILDCARD_TYPES = new Set<string>([TypeUrl.Listener, TypeUrl.Cluster]);

const SOTW_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

export class TestXdsServer {
  readonly requests: RecordedRequest[] = [];
  readonly responses: SentResponse[] = [];
  private server: grpc.Server | null = null;
  private portValue = 0;
  private readonly streams = new Set<StreamCtx>();
  private readonly resources = new Map<string, Map<string, StoredResource>>();
  private readonly versions = new Map<string, string>();
  private versionCounter = 0;
  private nonceCounter = 0;
  private streamCounter = 0;
  private readonly waiters = new Set<() => void>();

  /** Starts on 127.0.0.1 (port 0 = pick one). */
  static async start(port = 0): Promise<TestXdsServer> {
    const s = new TestXdsServer();
    await s.listen(port);
    return s;
  }

  get port(): number {
    return this.portValue;
  }

  /** grpc target for AdsClientOptions.target. */
  get target(): string {
    return `ipv4:127.0.0.1:${this.portValue}`;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  private async listen(port: number): Promise<void> {
    const reqSotw = mustLookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const resSotw = mustLookupType('envoy.service.discovery.v3.DiscoveryResponse');
    const reqDelta = mustLookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const resDelta = mustLookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    void reqSotw;
    void reqDelta;
    const server = new grpc.Server();
    const def = (path: string, reqName: string, resType: typeof resSotw): grpc.MethodDefinition<Canonical, any> => ({
      path,
      requestStream: true,
      responseStream: true,
      requestSerialize: () => Buffer.alloc(0),
      requestDeserialize: (b: Buffer) => decodeMessage(reqName, b),
      responseSerialize: (v: any) => Buffer.from(resType.encode(resType.fromObject(v)).finish()),
      responseDeserialize: (b: Buffer) => resType.decode(b),
    });
    server.addService(
      {
        StreamAggregatedResources: def(SOTW_PATH, 'envoy.service.discovery.v3.DiscoveryRequest', resSotw),
        DeltaAggregatedResources: def(DELTA_PATH, 'envoy.service.discovery.v3.DeltaDiscoveryRequest', resDelta),
      },
      {
        StreamAggregatedResources: (call: grpc.ServerDuplexStream<Canonical, any>) => this.onStream(call, 'sotw'),
        DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Canonical, any>) => this.onStream(call, 'delta'),
      },
    );
    this.portValue = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.server = server;
  }

  /** Replaces all resources of a type (a new version; pushed to every subscribed stream). Returns the version. */
  setResources(typeUrl: string, resources: readonly Canonical[] | Readonly<Record<string, Canonical>>, version?: string): string {
    const list = Array.isArray(resources) ? resources : Object.values(resources);
    const m = new Map<string, StoredResource>();
    for (const r of list as Canonical[]) {
      const withType = r['@type'] ? r : { '@type': typeUrl, ...r };
      const name = (NAME_OF[typeUrl] ?? ((x: Canonical) => String(x.name ?? '')))(withType);
      const any = encodeAny(withType);
      m.set(name, { name, any, version: createHash('sha256').update(any.value).digest('hex').slice(0, 16) });
    }
    return this.setStored(typeUrl, m, version);
  }

  /** Adds a resource whose Any is given as raw bytes (e.g. an unknown type_url) under `name`. */
  setRawResources(typeUrl: string, raw: readonly { name: string; type_url: string; value: Uint8Array }[], version?: string): string {
    const m = new Map<string, StoredResource>();
    for (const r of raw) m.set(r.name, { name: r.name, any: { type_url: r.type_url, value: r.value }, version: createHash('sha256').update(r.value).digest('hex').slice(0, 16) });
    return this.setStored(typeUrl, m, version);
  }

  private setStored(typeUrl: string, m: Map<string, StoredResource>, version?: string): string {
    const v = version ?? `v${++this.versionCounter}`;
    this.resources.set(typeUrl, m);
    this.versions.set(typeUrl, v);
    for (const s of this.streams) {
      if (s.kind === 'sotw') {
        const sub = s.sotw.get(typeUrl);
        if (sub) this.sendSotw(s, typeUrl, sub);
      } else {
        const sub = s.delta.get(typeUrl);
        if (sub) this.sendDelta(s, typeUrl, sub, false);
      }
    }
    return v;
  }

  /** A misbehaving server: re-sends the current SotW version of a type to every stream (new nonce each). */
  resend(typeUrl: string): void {
    for (const s of this.streams) {
      const sub = s.sotw.get(typeUrl);
      if (s.kind === 'sotw' && sub) this.sendSotw(s, typeUrl, sub);
    }
  }

  version(typeUrl: string): string | undefined {
    return this.versions.get(typeUrl);
  }

  /** Resolves once `pred()` is true (checked after every request and response); rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred()) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`xds test server: timed out waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 25);
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Waits for a request (after index `from`) matching `pred` and returns it. */
  async waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs = 10_000, from = 0): Promise<RecordedRequest> {
    let found: RecordedRequest | undefined;
    await this.waitFor(() => {
      found = this.requests.slice(from).find(pred);
      return found !== undefined;
    }, timeoutMs, 'a matching request');
    return found!;
  }

  /** Stops accepting and cuts every stream (like a crashed control plane). */
  kill(): void {
    const server = this.server;
    this.server = null;
    for (const s of this.streams) s.call.destroy?.();
    this.streams.clear();
    server?.forceShutdown();
  }

  async stop(): Promise<void> {
    this.kill();
    for (const w of [...this.waiters]) w();
  }

  /** Starts again on the same port (resources and recorded traffic are kept). */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen(this.portValue);
  }

  // ------------------------------------------------------------------------------------------------ streams

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private onStream(call: grpc.ServerDuplexStream<Canonical, any>, kind: 'sotw' | 'delta'): void {
    const ctx: StreamCtx = { id: ++this.streamCounter, kind, call, sotw: new Map(), delta: new Map() };
    this.streams.add(ctx);
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (req: Canonical) => {
      try {
        if (kind === 'sotw') this.onSotwRequest(ctx, req);
        else this.onDeltaRequest(ctx, req);
      } catch (e) {
        call.destroy(e as Error);
      }
      this.notify();
    });
    const done = (): void => {
      this.streams.delete(ctx);
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('close', done);
    call.on('cancelled', done);
  }

  private onSotwRequest(ctx: StreamCtx, req: Canonical): void {
    const typeUrl = String(req.type_url ?? '');
    const rec: RecordedRequest = {
      stream: ctx.id, kind: 'sotw', typeUrl, versionInfo: String(req.version_info ?? ''), nonce: String(req.response_nonce ?? ''),
      resourceNames: (req.resource_names as string[]) ?? [], subscribe: [], unsubscribe: [], initialVersions: {},
      errorDetail: req.error_detail as RecordedRequest['errorDetail'], node: req.node as Canonical | undefined, at: Date.now(),
    };
    this.requests.push(rec);
    let sub = ctx.sotw.get(typeUrl);
    const names = WILDCARD_TYPES.has(typeUrl) && rec.resourceNames.length === 0 ? null : [...rec.resourceNames].sort();
    if (!sub) {
      sub = { names, lastNonce: '', sentVersion: '' };
      ctx.sotw.set(typeUrl, sub);
      this.sendSotw(ctx, typeUrl, sub);
      return;
    }
    if (rec.nonce && rec.nonce !== sub.lastNonce) return; // stale
    const namesChanged = JSON.stringify(names) !== JSON.stringify(sub.names);
    sub.names = names;
    if (rec.errorDetail && !namesChanged) return; // NACK: wait for a new version
    if (!namesChanged && rec.versionInfo === this.versions.get(typeUrl)) return; // ACK of the current version
    this.sendSotw(ctx, typeUrl, sub);
  }

  private sendSotw(ctx: StreamCtx, typeUrl: string, sub: SotwSub): void {
    const version = this.versions.get(typeUrl);
    if (version === undefined) return;
    const all = this.resources.get(typeUrl) ?? new Map<string, StoredResource>();
    const chosen = sub.names === null ? [...all.values()] : sub.names.map((n) => all.get(n)).filter((r): r is StoredResource => r !== undefined);
    const nonce = String(++this.nonceCounter);
    sub.lastNonce = nonce;
    sub.sentVersion = version;
    this.responses.push({ stream: ctx.id, kind: 'sotw', typeUrl, version, nonce, names: chosen.map((r) => r.name), removed: [] });
    ctx.call.write({ version_info: version, resources: chosen.map((r) => r.any), type_url: typeUrl, nonce });
    this.notify();
  }

  private onDeltaRequest(ctx: StreamCtx, req: Canonical): void {
    const typeUrl = String(req.type_url ?? '');
    const rec: RecordedRequest = {
      stream: ctx.id, kind: 'delta', typeUrl, versionInfo: '', nonce: String(req.response_nonce ?? ''), resourceNames: [],
      subscribe: (req.resource_names_subscribe as string[]) ?? [], unsubscribe: (req.resource_names_unsubscribe as string[]) ?? [],
      initialVersions: (req.initial_resource_versions as Record<string, string>) ?? {},
      errorDetail: req.error_detail as RecordedRequest['errorDetail'], node: req.node as Canonical | undefined, at: Date.now(),
    };
    this.requests.push(rec);
    let sub = ctx.delta.get(typeUrl);
    let first = false;
    if (!sub) {
      first = true;
      const wildcard = rec.subscribe.length === 0 || rec.subscribe.includes('*');
      sub = { wildcard, subscribed: new Set(), known: new Map(Object.entries(rec.initialVersions)) };
      ctx.delta.set(typeUrl, sub);
    }
    for (const n of rec.subscribe) if (n !== '*') sub.subscribed.add(n);
    for (const n of rec.unsubscribe) {
      sub.subscribed.delete(n);
      sub.known.delete(n);
    }
    if (rec.errorDetail) return;
    if (!first && rec.subscribe.length === 0) return; // plain ACK
    this.sendDelta(ctx, typeUrl, sub, first);
  }

  private sendDelta(ctx: StreamCtx, typeUrl: string, sub: DeltaSub, _first: boolean): void {
    const version = this.versions.get(typeUrl);
    if (version === undefined) return;
    const all = this.resources.get(typeUrl) ?? new Map<string, StoredResource>();
    const inScope = (n: string): boolean => sub.wildcard || sub.subscribed.has(n);
    const changed: StoredResource[] = [];
    for (const r of all.values()) if (inScope(r.name) && sub.known.get(r.name) !== r.version) changed.push(r);
    const removed: string[] = [];
    for (const n of sub.known.keys()) if (inScope(n) && !all.has(n)) removed.push(n);
    if (changed.length === 0 && removed.length === 0) return;
    for (const r of changed) sub.known.set(r.name, r.version);
    for (const n of removed) sub.known.delete(n);
    const nonce = String(++this.nonceCounter);
    this.responses.push({ stream: ctx.id, kind: 'delta', typeUrl, version, nonce, names: changed.map((r) => r.name), removed });
    ctx.call.write({
      system_version_info: version,
      resources: changed.map((r) => ({ name: r.name, version: r.version, resource: r.any })),
      type_url: typeUrl,
      removed_resources: removed,
      nonce,
    });
    this.notify();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Minimal translators for the four core types (tests of the transport must not depend on the real ones).
// ---------------------------------------------------------------------------------------------------------------

export interface TestListener { readonly name: string; readonly port: number; readonly routeConfigs: readonly string[] }
export interface TestRoute { readonly name: string; readonly vhosts: number }
export interface TestCluster { readonly name: string; readonly edsName?: string }
export interface TestEndpoints { readonly clusterName: string; readonly hosts: readonly string[] }

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export const testListenerType: ResourceType<TestListener> = {
  typeUrl: TypeUrl.Listener,
  messageName: 'envoy.config.listener.v3.Listener',
  name: (r) => String(r.name ?? ''),
  translate(r) {
    const issues = new Issues();
    const sa = (r.address as any)?.socket_address;
    if (!sa) issues.error('is required', 'address');
    const routeConfigs: string[] = [];
    ((r.filter_chains as any[]) ?? []).forEach((fc, i) => {
      ((fc.filters as any[]) ?? []).forEach((f, j) => {
        const tc = f.typed_config;
        if (!tc) issues.at('filter_chains').at(i).at('filters').at(j).error('is required', 'typed_config');
        else if (tc['@type'] === HCM && tc.rds?.route_config_name) routeConfigs.push(tc.rds.route_config_name);
      });
    });
    return issues.result({ name: String(r.name), port: Number(sa?.port_value ?? 0), routeConfigs });
  },
  dependencies: (v) => ({ routeConfigs: v.routeConfigs }),
};

export const testRouteType: ResourceType<TestRoute> = {
  typeUrl: TypeUrl.RouteConfiguration,
  messageName: 'envoy.config.route.v3.RouteConfiguration',
  name: (r) => String(r.name ?? ''),
  translate(r) {
    const issues = new Issues();
    ((r.virtual_hosts as any[]) ?? []).forEach((vh, i) => {
      if (!vh.domains?.length) issues.at('virtual_hosts').at(i).error('must have at least one domain', 'domains');
    });
    return issues.result({ name: String(r.name), vhosts: ((r.virtual_hosts as any[]) ?? []).length });
  },
  dependencies: () => ({}),
};

export const testClusterType: ResourceType<TestCluster> = {
  typeUrl: TypeUrl.Cluster,
  messageName: 'envoy.config.cluster.v3.Cluster',
  name: (r) => String(r.name ?? ''),
  translate(r) {
    const issues = new Issues();
    if (typeof r.connect_timeout === 'number' && r.connect_timeout <= 0) issues.error('must be greater than 0', 'connect_timeout');
    const eds = r.type === 'EDS' ? String((r.eds_cluster_config as any)?.service_name || r.name) : undefined;
    return issues.result({ name: String(r.name), edsName: eds });
  },
  dependencies: (v) => (v.edsName ? { endpoints: [v.edsName] } : {}),
};

export const testEndpointsType: ResourceType<TestEndpoints> = {
  typeUrl: TypeUrl.ClusterLoadAssignment,
  messageName: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  name: (r) => String(r.cluster_name ?? ''),
  translate(r) {
    const hosts: string[] = [];
    for (const le of (r.endpoints as any[]) ?? []) {
      for (const lb of le.lb_endpoints ?? []) {
        const sa = lb.endpoint?.address?.socket_address;
        if (sa) hosts.push(`${sa.address}:${sa.port_value}`);
      }
    }
    return new Issues().result({ clusterName: String(r.cluster_name), hosts });
  },
  dependencies: () => ({}),
};

export function testRegistry(): Map<XdsTypeUrl, ResourceType<any>> {
  return new Map<XdsTypeUrl, ResourceType<any>>([
    [TypeUrl.Listener, testListenerType],
    [TypeUrl.RouteConfiguration, testRouteType],
    [TypeUrl.Cluster, testClusterType],
    [TypeUrl.ClusterLoadAssignment, testEndpointsType],
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// Resource builders (YAML-like canonical objects)
// ---------------------------------------------------------------------------------------------------------------

export function listenerRes(name: string, port: number, routeConfigName?: string): Canonical {
  const filters = routeConfigName
    ? [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: name, rds: { route_config_name: routeConfigName, config_source: { ads: {} } } } }]
    : [];
  return { '@type': TypeUrl.Listener, name, address: { socket_address: { address: '127.0.0.1', port_value: port } }, filter_chains: [{ filters }] };
}

export function routeRes(name: string, domains: string[] = ['*'], cluster = 'c1'): Canonical {
  return { '@type': TypeUrl.RouteConfiguration, name, virtual_hosts: [{ name: 'vh', domains, routes: [{ match: { prefix: '/' }, route: { cluster } }] }] };
}

export function clusterRes(name: string, opts: { eds?: boolean; connectTimeoutMs?: number } = {}): Canonical {
  const c: Canonical = { '@type': TypeUrl.Cluster, name, connect_timeout: opts.connectTimeoutMs ?? 1000 };
  if (opts.eds) {
    c.type = 'EDS';
    c.eds_cluster_config = { eds_config: { ads: {} } };
  } else c.type = 'STATIC';
  return c;
}

export function endpointsRes(clusterName: string, ports: number[]): Canonical {
  return {
    '@type': TypeUrl.ClusterLoadAssignment,
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
  };
}
