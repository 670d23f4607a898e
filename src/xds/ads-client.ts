// xds/: the ADS client. One gRPC stream (StreamAggregatedResources or DeltaAggregatedResources) to the management
// server multiplexing LDS/CDS (wildcard) and RDS/EDS (named, from what the config store's listeners and clusters
// reference); every response is handed to the ConfigStore and answered exactly once (ACK or NACK); reconnects with
// jittered backoff while the store keeps serving the last good config.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { ExponentialBackoff, type BackoffOptions } from '../common/backoff.js';
import type { NodeInfo } from '../config/node.js';
import { encodeMessage, type Canonical } from './proto-json.js';
import { mustLookupType } from './protos.js';
import { ShortName, TypeUrl, type XdsTypeUrl } from './resource-type.js';
import { SubscriptionState } from './subscription-state.js';
import { decodeProtoInSlices, peekStringField } from './resource-slices.js';
import { silentLogger, type ConfigStore, type IncomingResource, type XdsLogger } from './config-store.js';
import { nextSlice } from '../common/next-slice.js';

export const ADS_SOTW_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
export const ADS_DELTA_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
export const MESHLET_USER_AGENT = 'meshlet';

export interface AdsClientOptions {
  /** gRPC target, e.g. 'ipv4:127.0.0.1:18000', 'dns:///istiod:15012' or 'unix:///etc/istio/proxy/XDS'. */
  readonly target: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly apiType: 'GRPC' | 'DELTA_GRPC';
  readonly node: NodeInfo;
  /** Send `node` only on the first request of each stream (Envoy's set_node_on_first_message_only). */
  readonly setNodeOnFirstMessageOnly: boolean;
  readonly channelOptions?: grpc.ChannelOptions;
  readonly logger?: XdsLogger;
  /** Subscribe to LDS / CDS over this stream (wildcard). Default true each; false when they come from a file. */
  readonly listeners?: boolean;
  readonly clusters?: boolean;
  /** initial_fetch_timeout of the LDS/CDS subscriptions: ms, 0 = wait forever (default 15 000). */
  readonly initialFetchTimeoutMs?: number;
  /** SotW: a subscribed RDS/EDS name not delivered within this time is treated as absent (default 15 000; 0 = never). */
  readonly doesNotExistTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  readonly userAgentVersion?: string;
  /** node.client_features to advertise; only features meshlet implements (default none). */
  readonly clientFeatures?: readonly string[];
  /** Extra call metadata (e.g. auth headers). */
  readonly metadata?: Readonly<Record<string, string>>;
}

export type AdsState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

const STATE_TRANSITIONS: Record<AdsState, readonly AdsState[]> = {
  idle: ['connecting', 'closed'],
  connecting: ['connected', 'backoff', 'closed'],
  connected: ['backoff', 'closed'],
  backoff: ['connecting', 'closed'],
  closed: [],
};

/** Order requests are sent in on a new stream (Envoy: CDS → EDS → LDS → RDS). */
const TYPE_ORDER: readonly XdsTypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const NAMED_TYPES: readonly XdsTypeUrl[] = [TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration];
const INVALID_ARGUMENT = 3;
/** Responses at least this large are decoded in slices of at most DECODE_CHUNK_MS (smaller ones at once). */
const SLICED_DECODE_BYTES = 64 * 1024;
const DECODE_CHUNK_MS = 8;

interface PbAny { type_url: string; value: Uint8Array }
interface SotwResponse { version_info?: string; resources?: PbAny[]; type_url?: string; nonce?: string }
interface DeltaResponse {
  system_version_info?: string;
  resources?: { name?: string; version?: string; resource?: PbAny }[];
  type_url?: string;
  removed_resources?: string[];
  nonce?: string;
}

/** The envoy.config.core.v3.Node meshlet presents (canonical form). Never sends GENERATOR metadata. */
export function buildNodeMessage(node: NodeInfo, opts: { userAgentVersion?: string; clientFeatures?: readonly string[] } = {}): Canonical {
  const { GENERATOR: _drop, ...metadata } = node.metadata as Record<string, unknown>;
  const locality: Record<string, string> = {};
  if (node.locality.region) locality.region = node.locality.region;
  if (node.locality.zone) locality.zone = node.locality.zone;
  if (node.locality.sub_zone) locality.sub_zone = node.locality.sub_zone;
  const out: Canonical = { id: node.id, cluster: node.cluster, user_agent_name: MESHLET_USER_AGENT, user_agent_version: opts.userAgentVersion ?? '0.1.0' };
  if (Object.keys(metadata).length) out.metadata = metadata;
  if (Object.keys(locality).length) out.locality = locality;
  if (opts.clientFeatures?.length) out.client_features = [...opts.clientFeatures];
  return out;
}

/** ADS over one gRPC stream; `start()` connects and keeps reconnecting until `close()`. */
export class AdsClient {
  private readonly opts: AdsClientOptions;
  private readonly store: ConfigStore;
  private readonly log: XdsLogger;
  private readonly delta: boolean;
  private readonly backoff: ExponentialBackoff;
  private readonly subs = new Map<XdsTypeUrl, SubscriptionState>();
  private readonly nodeMsg: Canonical;
  private readonly reqType: protobuf.Type;
  private readonly resType: protobuf.Type;
  private client: grpc.Client | null = null;
  private call: grpc.ClientDuplexStream<Canonical, unknown> | null = null;
  private streamId = 0;
  private nodeSent = false;
  private gotResponseOnStream = false;
  private consecutiveFailures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private syncScheduled = false;
  /** Per response type_url: the tail of the responses being decoded/handled (arrival order per type). */
  private readonly inbound = new Map<string, Promise<void>>();
  /** Per named type: the store's wanted-names set `subscribed` was last synced from. */
  private readonly syncedWant = new Map<XdsTypeUrl, ReadonlySet<string>>();
  private unsubscribeStore: (() => void) | null = null;
  private stateValue: AdsState = 'idle';
  private readonly stateListeners = new Set<(s: AdsState) => void>();
  /** Counts of messages on the wire (for tests and /debug). */
  readonly counters = { requests: 0, responses: 0, acks: 0, nacks: 0, streams: 0 };

  constructor(opts: AdsClientOptions, deps: { store: ConfigStore }) {
    this.opts = opts;
    this.store = deps.store;
    this.log = opts.logger ?? silentLogger;
    this.delta = opts.apiType === 'DELTA_GRPC';
    this.backoff = new ExponentialBackoff(opts.backoff);
    this.nodeMsg = buildNodeMessage(opts.node, opts);
    this.reqType = mustLookupType(this.delta ? 'envoy.service.discovery.v3.DeltaDiscoveryRequest' : 'envoy.service.discovery.v3.DiscoveryRequest');
    this.resType = mustLookupType(this.delta ? 'envoy.service.discovery.v3.DeltaDiscoveryResponse' : 'envoy.service.discovery.v3.DiscoveryResponse');
    if (opts.clusters !== false) this.subs.set(TypeUrl.Cluster, new SubscriptionState(TypeUrl.Cluster, true));
    this.subs.set(TypeUrl.ClusterLoadAssignment, new SubscriptionState(TypeUrl.ClusterLoadAssignment, false));
    if (opts.listeners !== false) this.subs.set(TypeUrl.Listener, new SubscriptionState(TypeUrl.Listener, true));
    this.subs.set(TypeUrl.RouteConfiguration, new SubscriptionState(TypeUrl.RouteConfiguration, false));
  }

  get state(): AdsState {
    return this.stateValue;
  }

  /** control_plane.connected_state: true while a stream is up and the server has answered. */
  get connected(): boolean {
    return this.stateValue === 'connected';
  }

  onStateChange(fn: (s: AdsState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  subscription(typeUrl: XdsTypeUrl): SubscriptionState | undefined {
    return this.subs.get(typeUrl);
  }

  start(): void {
    if (this.stateValue !== 'idle') return;
    // grpc-js's own subchannel backoff (1 s ×1.6 up to 120 s) would stack on ours and, after a long outage, hold the
    // reconnect for up to two minutes after the server is back; keep it short so ours (Envoy's 500 ms..30 s) paces.
    this.client = new grpc.Client(this.opts.target, this.opts.credentials, {
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 1000,
      // grpc-js caps received messages at 4 MiB; a larger (valid) xDS response would kill the stream and, resent on
      // every reconnect, wedge the subscription. Envoy's ADS client has no limit; the control plane is trusted.
      'grpc.max_receive_message_length': -1,
      ...this.opts.channelOptions,
    });
    this.unsubscribeStore = this.store.onWantedNamesChange(() => this.scheduleSync());
    const timeout = this.opts.initialFetchTimeoutMs ?? 15_000;
    for (const sub of this.subs.values()) {
      if (!sub.wildcard || timeout <= 0) continue;
      sub.initialFetchTimer = setTimeout(() => {
        sub.initialFetchTimer = null;
        if (sub.initialFetch !== 'waiting') return;
        sub.initialFetch = 'timed-out';
        this.store.recordInitFetchTimeout(sub.typeUrl);
        this.log.warn({ type: ShortName[sub.typeUrl], timeoutMs: timeout }, 'xds initial fetch timed out; continuing without it');
      }, timeout);
      sub.initialFetchTimer.unref?.();
    }
    this.connect();
  }

  close(): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.unsubscribeStore?.();
    const call = this.call;
    this.call = null;
    call?.cancel();
    for (const s of this.subs.values()) s.dispose();
    this.client?.close();
    this.client = null;
  }

  // ------------------------------------------------------------------------------------------------ stream lifecycle

  private setState(s: AdsState): void {
    if (s === this.stateValue || !STATE_TRANSITIONS[this.stateValue].includes(s)) return;
    this.stateValue = s;
    for (const fn of this.stateListeners) {
      try {
        fn(s);
      } catch (e) {
        this.log.error({ err: e }, 'ads state listener failed');
      }
    }
  }

  private connect(): void {
    if (this.stateValue === 'closed' || !this.client) return;
    this.reconnectTimer = null;
    this.setState('connecting');
    const id = ++this.streamId;
    this.counters.streams++;
    this.nodeSent = false;
    this.gotResponseOnStream = false;
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.opts.metadata ?? {})) md.set(k, v);
    const reqType = this.reqType;
    const resType = this.resType;
    const call = this.client.makeBidiStreamRequest<Canonical, unknown>(
      this.delta ? ADS_DELTA_METHOD : ADS_SOTW_METHOD,
      (v: Canonical) => Buffer.from(encodeMessage(reqType.fullName.slice(1), v)),
      // Responses are decoded here, not by grpc-js: a mesh-sized one (10,000 resources, megabytes) is decoded in
      // ≤ 8 ms slices so it never blocks the data path; responses are handled strictly in arrival order.
      (b: Buffer) => b,
      md,
    );
    this.call = call;
    call.on('metadata', () => {
      if (id === this.streamId) this.onConnected();
    });
    call.on('data', (bytes: Buffer) => {
      if (id !== this.streamId) return;
      this.onConnected();
      // In arrival order per type (type_url is field 4 of both response messages); a big EDS response being decoded
      // in slices does not hold up the RDS one behind it.
      const key = peekStringField(bytes, 4);
      const next = (this.inbound.get(key) ?? Promise.resolve()).then(() => this.decodeResponse(id, resType, bytes));
      this.inbound.set(key, next);
      void next.then(() => {
        if (this.inbound.get(key) === next) this.inbound.delete(key);
      });
    });
    call.on('error', () => {
      /* the 'status' event carries the outcome */
    });
    call.on('status', (status: grpc.StatusObject) => {
      if (id !== this.streamId) return;
      this.onStreamClosed(status);
    });
    for (const sub of this.subs.values()) sub.resetForStream();
    for (const t of TYPE_ORDER) {
      const sub = this.subs.get(t);
      if (!sub) continue;
      if (sub.wildcard) this.sendInitial(sub);
      else {
        const want = this.store.wantedNames(t);
        sub.subscribed = new Set(want);
        this.syncedWant.set(t, want);
        if (sub.subscribed.size > 0) this.sendInitial(sub);
      }
    }
  }

  private onConnected(): void {
    if (this.stateValue !== 'connecting') return;
    this.consecutiveFailures = 0;
    this.setState('connected');
    this.log.info({ target: this.opts.target, api: this.opts.apiType }, 'xds stream connected');
    if (!this.delta) for (const sub of this.subs.values()) this.armDoesNotExist(sub, sub.subscribed);
  }

  private onStreamClosed(status: grpc.StatusObject): void {
    this.call = null;
    if (this.stateValue === 'closed') return;
    for (const sub of this.subs.values()) {
      if (sub.requestedOnStream) this.store.recordUpdateFailure(sub.typeUrl);
      sub.resetForStream();
    }
    if (this.gotResponseOnStream) this.backoff.reset();
    this.consecutiveFailures++;
    const delay = this.backoff.next();
    const fields = { code: status.code, details: status.details, retryInMs: delay };
    if (this.consecutiveFailures > 3) this.log.warn(fields, 'xds stream closed; keeping the last good config and retrying');
    else this.log.debug(fields, 'xds stream closed; retrying');
    this.setState('backoff');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref?.();
  }

  private write(msg: Canonical): void {
    if (!this.call) return;
    if (!this.nodeSent || !this.opts.setNodeOnFirstMessageOnly) msg.node = this.nodeMsg;
    this.nodeSent = true;
    this.counters.requests++;
    this.call.write(msg);
  }

  // ------------------------------------------------------------------------------------------------ requests

  private sendInitial(sub: SubscriptionState): void {
    sub.requestedOnStream = true;
    const names = [...sub.subscribed];
    for (const n of names) if (sub.resourceState(n) === undefined) sub.transition(n, 'requested');
    if (this.delta) {
      const versions = this.store.resourceVersions(sub.typeUrl);
      const initial: Record<string, string> = {};
      for (const [n, v] of Object.entries(versions)) if (sub.wildcard || sub.subscribed.has(n)) initial[n] = v;
      const msg: Canonical = { type_url: sub.typeUrl };
      if (names.length) msg.resource_names_subscribe = names;
      if (Object.keys(initial).length) msg.initial_resource_versions = initial;
      this.write(msg);
    } else {
      this.write(this.sotwRequest(sub));
      if (this.connected) this.armDoesNotExist(sub, sub.subscribed);
    }
  }

  private sotwRequest(sub: SubscriptionState, errorMessage?: string, nonce = sub.nonce): Canonical {
    const msg: Canonical = { type_url: sub.typeUrl, version_info: sub.acceptedVersion, response_nonce: nonce };
    if (!sub.wildcard) msg.resource_names = [...sub.subscribed];
    if (errorMessage !== undefined) msg.error_detail = { code: INVALID_ARGUMENT, message: errorMessage };
    return msg;
  }

  private armDoesNotExist(sub: SubscriptionState, names: Iterable<string>): void {
    if (this.delta || sub.wildcard) return;
    const ms = this.opts.doesNotExistTimeoutMs ?? 15_000;
    for (const n of names) {
      if (this.store.has(sub.typeUrl, n)) continue;
      sub.armDoesNotExist(n, ms, (name) => {
        this.log.warn({ type: ShortName[sub.typeUrl], name }, 'xds resource does not exist (not delivered in time)');
        this.store.markDoesNotExist(sub.typeUrl, name);
      });
    }
  }

  /** Coalesces subscription changes (after an ACK, or a change from another source) into one request per type. */
  private scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    // Next event-loop turn, not a microtask: after a 10,000-cluster CDS commit the (un)subscribe request for 10,000
    // EDS names is its own turn instead of lengthening the commit's.
    setImmediate(() => {
      this.syncScheduled = false;
      this.syncSubscriptions();
    });
  }

  /** Decodes one response (in slices when large) and hands it to its handler, unless the stream changed meanwhile. */
  private async decodeResponse(id: number, resType: protobuf.Type, bytes: Buffer): Promise<void> {
    let msg: unknown;
    try {
      if (bytes.length < SLICED_DECODE_BYTES) msg = resType.decode(bytes);
      else {
        const steps = decodeProtoInSlices(resType, bytes, 'resources');
        for (;;) {
          const deadline = performance.now() + DECODE_CHUNK_MS;
          let r = steps.next();
          while (!r.done && performance.now() <= deadline) r = steps.next();
          if (r.done) {
            msg = r.value;
            break;
          }
          await nextSlice();
          if (id !== this.streamId) return;
        }
      }
    } catch (e) {
      // What grpc-js did with a response its deserializer could not parse: end the stream (it reconnects).
      if (id !== this.streamId) return;
      this.log.error({ err: e }, 'xds response could not be decoded; restarting the stream');
      this.call?.cancel();
      return;
    }
    if (id !== this.streamId) return;
    try {
      if (this.delta) this.onDeltaResponse(msg as DeltaResponse);
      else this.onSotwResponse(msg as SotwResponse);
    } catch (e) {
      this.log.error({ err: e }, 'xds response handling failed');
    }
  }

  private syncSubscriptions(): void {
    if (!this.call || this.stateValue === 'closed') return;
    for (const t of NAMED_TYPES) {
      const sub = this.subs.get(t)!;
      const want = this.store.wantedNames(t);
      // The store hands out a new set only when the names change: the same set means nothing to add or remove
      // (skips two passes over 10,000 EDS names after every ACK).
      if (want === this.syncedWant.get(t)) continue;
      this.syncedWant.set(t, want);
      const added = [...want].filter((n) => !sub.subscribed.has(n));
      const removed = [...sub.subscribed].filter((n) => !want.has(n));
      if (added.length === 0 && removed.length === 0) continue;
      sub.subscribed = new Set(want);
      for (const n of removed) sub.forget(n);
      for (const n of added) sub.transition(n, 'requested');
      if (!sub.requestedOnStream) {
        if (want.size > 0) this.sendInitial(sub);
        continue;
      }
      if (this.delta) {
        const msg: Canonical = { type_url: t };
        if (added.length) msg.resource_names_subscribe = added;
        if (removed.length) msg.resource_names_unsubscribe = removed;
        this.write(msg);
      } else {
        this.write(this.sotwRequest(sub));
        if (this.connected) this.armDoesNotExist(sub, added);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------ responses

  private onSotwResponse(res: SotwResponse): void {
    this.counters.responses++;
    this.gotResponseOnStream = true;
    const typeUrl = (res.type_url ?? '') as XdsTypeUrl;
    const nonce = res.nonce ?? '';
    const version = res.version_info ?? '';
    const sub = this.subs.get(typeUrl);
    if (!sub) {
      this.counters.nacks++;
      this.write({ type_url: typeUrl, version_info: '', response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: `meshlet did not subscribe to ${typeUrl}` } });
      return;
    }
    if (sub.initialFetch === 'waiting') sub.initialFetch = 'received';
    const resources: IncomingResource[] = (res.resources ?? []).map((a) => ({ type_url: a.type_url, value: a.value }));
    const streamId = this.streamId;
    // Decoded and translated in chunks (the data path keeps serving); answered once the whole response is validated.
    void this.store.applySotwAsync(typeUrl, resources, { source: 'ads-sotw', version, nonce, receivedAt: Date.now() }).then((result) => {
      if (streamId !== this.streamId || this.stateValue === 'closed') return; // the stream it came on is gone
      sub.nonce = nonce;
      const names = this.namesOf(sub, resources.length);
      if (result.accepted) {
        sub.acceptedVersion = version;
        sub.lastRejected = null;
        for (const n of names) sub.transition(n, 'acked');
        this.counters.acks++;
        this.write(this.sotwRequest(sub));
      } else {
        sub.lastRejected = { key: version, message: result.message };
        for (const n of names) sub.transition(n, 'nacked');
        this.counters.nacks++;
        this.write(this.sotwRequest(sub, result.message));
      }
      this.scheduleSync();
    }, (e: unknown) => this.log.error({ err: e }, 'xds response handling failed'));
  }

  private onDeltaResponse(res: DeltaResponse): void {
    this.counters.responses++;
    this.gotResponseOnStream = true;
    const typeUrl = (res.type_url ?? '') as XdsTypeUrl;
    const nonce = res.nonce ?? '';
    const sub = this.subs.get(typeUrl);
    if (!sub) {
      this.counters.nacks++;
      this.write({ type_url: typeUrl, response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: `meshlet did not subscribe to ${typeUrl}` } });
      return;
    }
    sub.nonce = nonce;
    if (sub.initialFetch === 'waiting') sub.initialFetch = 'received';
    const resources = (res.resources ?? []).map((r) => ({
      name: r.name ?? '',
      version: r.version ?? '',
      resource: r.resource ? ({ type_url: r.resource.type_url, value: r.resource.value } as IncomingResource) : undefined,
    }));
    const removed = res.removed_resources ?? [];
    const streamId = this.streamId;
    void this.store.applyDeltaAsync(typeUrl, resources, removed, { source: 'ads-delta', version: res.system_version_info ?? '', nonce, receivedAt: Date.now() }).then((result) => {
      if (streamId !== this.streamId || this.stateValue === 'closed') return;
      if (result.accepted) {
        sub.acceptedVersion = res.system_version_info ?? sub.acceptedVersion;
        for (const r of resources) if (r.name) sub.transition(r.name, 'acked');
        for (const n of removed) {
          if (sub.wildcard) sub.forget(n);
          else sub.transition(n, 'does-not-exist');
        }
        this.counters.acks++;
        this.write({ type_url: typeUrl, response_nonce: nonce });
      } else {
        for (const r of resources) if (r.name) sub.transition(r.name, 'nacked');
        this.counters.nacks++;
        this.write({ type_url: typeUrl, response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: result.message } });
      }
      this.scheduleSync();
    }, (e: unknown) => this.log.error({ err: e }, 'xds response handling failed'));
  }

  /** Names of the resources a SotW response carried, as far as the store accepted them (for per-name state). */
  private namesOf(sub: SubscriptionState, count: number): string[] {
    if (count === 0 || sub.wildcard) return [];
    return [...sub.subscribed].filter((n) => this.store.has(sub.typeUrl, n));
  }
}
