// http/filters/common: envoy.type.v3.StatusCode enum names (canonical form carries enum names) → numbers.
import { protoRoot } from '../../../xds/protos.js';

let table: Map<string, number> | null = null;

/** A StatusCode enum value (name or number) as an HTTP status, or null when unknown. */
export function httpStatusCode(v: unknown): number | null {
  if (typeof v === 'number') return v >= 100 && v < 600 ? v : null;
  if (typeof v !== 'string') return null;
  if (!table) {
    table = new Map();
    const e = protoRoot().lookupEnum('envoy.type.v3.StatusCode');
    for (const [k, n] of Object.entries(e.values)) table.set(k, n);
  }
  const n = table.get(v);
  return n === undefined || n < 100 ? null : n;
}
