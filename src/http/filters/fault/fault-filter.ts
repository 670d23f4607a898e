// http/filters/fault: envoy.filters.http.fault runtime. Per stream: check conditions (upstream cluster, headers,
// downstream node, max_active_faults), maybe delay (flag DI), maybe abort (flag FI, HTTP or gRPC status), maybe
// throttle the response body (a Transform). Per-route HTTPFault replaces the listener config.
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { ResponseFlag } from '../../../common/errors.js';
import { firstHeader } from '../../../common/headers.js';
import type { Issues } from '../../../common/validation.js';
import type {
  FilterCallbacks, FilterDeps, FilterRequest, FilterStatus, HttpFilter, HttpFilterFactory, HttpFilterType,
} from '../filter-api.js';
import { FAULT_TYPE_URL, translateFault } from './config.js';
import type { FaultConfig, FaultPercent } from './config.js';

export const FaultHeaders = {
  delay: 'x-envoy-fault-delay-request',
  delayPercentage: 'x-envoy-fault-delay-request-percentage',
  abort: 'x-envoy-fault-abort-request',
  abortGrpc: 'x-envoy-fault-abort-grpc-request',
  abortPercentage: 'x-envoy-fault-abort-request-percentage',
  throughput: 'x-envoy-fault-throughput-response',
  throughputPercentage: 'x-envoy-fault-throughput-response-percentage',
  downstreamNode: 'x-envoy-downstream-service-node',
} as const;

/** Shared by every stream of one filter config: the max_active_faults gauge. */
class FaultState {
  active = 0;
}

function headerInt(req: FilterRequest, name: string): number | null {
  const v = firstHeader(req.head.headers, name);
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  return Number(v.trim());
}

class FaultFilter implements HttpFilter {
  private timer: NodeJS.Timeout | null = null;
  private counted = false;
  private throttleKbps: number | null = null;

  constructor(private readonly base: FaultConfig, private readonly state: FaultState, private readonly random: () => number) {}

  private hit(p: FaultPercent, req: FilterRequest, header: string): boolean {
    let fraction = p.fraction;
    const h = headerInt(req, header);
    if (h !== null) fraction = Math.min(h, p.numerator) / p.denominator; // a header may lower, never raise, the percentage
    return fraction > 0 && this.random() < fraction;
  }

  decodeHeaders(req: FilterRequest, _end: boolean, cb: FilterCallbacks): FilterStatus {
    const cfg = cb.perRouteConfig<FaultConfig>() ?? this.base;
    if (cfg.upstreamCluster && cfg.upstreamCluster !== req.upstreamCluster) return 'continue';
    for (const m of cfg.headers) if (!m(req.head.headers, req.head)) return 'continue';
    if (cfg.downstreamNodes.size > 0) {
      const node = firstHeader(req.head.headers, FaultHeaders.downstreamNode);
      if (node === undefined || !cfg.downstreamNodes.has(node)) return 'continue';
    }
    if (cfg.maxActiveFaults !== null && this.state.active >= cfg.maxActiveFaults) return 'continue';

    const rl = cfg.responseRateLimit;
    if (rl) {
      const kbps = rl.kbps ?? headerInt(req, FaultHeaders.throughput);
      if (kbps !== null && kbps > 0 && this.hit(rl.percent, req, FaultHeaders.throughputPercentage)) {
        this.throttleKbps = kbps;
        this.count();
      }
    }
    let delayMs = 0;
    const d = cfg.delay;
    if (d) {
      const ms = d.fixedMs ?? headerInt(req, FaultHeaders.delay);
      if (ms !== null && ms > 0 && this.hit(d.percent, req, FaultHeaders.delayPercentage)) delayMs = ms;
    }
    if (delayMs > 0) {
      this.count();
      cb.setResponseFlag(ResponseFlag.DelayInjected);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.maybeAbort(cfg, req, cb)) cb.continueDecoding();
      }, delayMs);
      return 'stop';
    }
    return this.maybeAbort(cfg, req, cb) ? 'stop' : 'continue';
  }

  /** Sends the abort reply when the abort fault applies; true when it did. */
  private maybeAbort(cfg: FaultConfig, req: FilterRequest, cb: FilterCallbacks): boolean {
    const a = cfg.abort;
    if (!a) return false;
    let http = a.httpStatus;
    let grpc = a.grpcStatus;
    if (a.fromHeader) {
      const hs = headerInt(req, FaultHeaders.abort);
      if (hs !== null && hs >= 200 && hs < 600) http = hs;
      else {
        const gs = headerInt(req, FaultHeaders.abortGrpc);
        if (gs !== null) grpc = gs;
      }
    }
    if (http === null && grpc === null) return false;
    if (!this.hit(a.percent, req, FaultHeaders.abortPercentage)) return false;
    this.count();
    cb.sendLocalReply({
      status: http ?? 200,
      grpcStatus: grpc ?? undefined,
      body: 'fault filter abort',
      flag: ResponseFlag.FaultInjected,
      details: 'fault_filter_abort',
    });
    return true;
  }

  private count(): void {
    if (this.counted) return;
    this.counted = true;
    this.state.active++;
  }

  wrapResponseBody(): Transform | null {
    return this.throttleKbps === null ? null : new ThrottleTransform(this.throttleKbps * 1024);
  }

  onDestroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.counted) {
      this.counted = false;
      this.state.active--;
    }
  }
}

/** Paces bytes to `bytesPerSecond` (Envoy's StreamRateLimiter), holding back the callback for backpressure. */
export class ThrottleTransform extends Transform {
  private readonly start = Date.now();
  private sent = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly bytesPerSecond: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sendPaced(chunk, cb);
  }

  private sendPaced(chunk: Buffer, cb: TransformCallback): void {
    // Slices of at most 1/16 s worth of bytes so a large chunk is spread out, not sent in one burst.
    const slice = Math.max(1, Math.floor(this.bytesPerSecond / 16));
    const part = chunk.length > slice ? chunk.subarray(0, slice) : chunk;
    const rest = chunk.length > slice ? chunk.subarray(slice) : null;
    const dueMs = ((this.sent + part.length) / this.bytesPerSecond) * 1000 - (Date.now() - this.start);
    const emit = (): void => {
      this.timer = null;
      this.sent += part.length;
      this.push(part);
      if (rest) this.sendPaced(rest, cb);
      else cb();
    };
    if (dueMs <= 0) emit();
    else this.timer = setTimeout(emit, dueMs);
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    cb(err);
  }
}

export const faultFilterType: HttpFilterType<FaultConfig, FaultConfig> = {
  typeUrl: FAULT_TYPE_URL,
  perRouteTypeUrls: [FAULT_TYPE_URL],
  translate: (c, issues: Issues) => translateFault(c, issues),
  translatePerRoute: (c, _url, issues: Issues) => translateFault(c, issues),
  createFactory(name: string, config: FaultConfig, deps: FilterDeps): HttpFilterFactory {
    const state = new FaultState();
    const random = deps.random ?? Math.random;
    return { name, create: () => new FaultFilter(config, state, random) };
  },
};
