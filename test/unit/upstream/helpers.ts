// Test helpers for upstream/ unit tests: host construction and a seeded PRNG (deterministic distributions).
import { UpstreamHost, type HostInit } from '../../../src/upstream/upstream-host.js';

export function mkHost(i: number, over: Partial<HostInit> = {}): UpstreamHost {
  return new UpstreamHost({
    address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 8080, hostname: '', weight: 1, priority: 0, locality: {},
    metadata: {}, edsHealth: 'HEALTHY', createdAt: 0, ...over,
  });
}

/** mulberry32: a small seeded PRNG returning [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
