// Bench harness: turns h2load's summary and its per-request --log-file into numbers (requests/s, p50/p99, errors).
import { percentileSorted } from './stats.js';
import type { LoadResult } from './parse-wrk.js';

/** Parses the h2load summary; latency percentiles come from the per-request log (see parseH2loadLog). */
export function parseH2loadOutput(out: string, latenciesUs?: Float64Array): LoadResult {
  const fin = /finished in ([\d.]+)(us|ms|s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req) throw new Error(`unrecognised h2load output: ${out.slice(0, 300)}`);
  const unit = fin[2] === 'us' ? 1e-6 : fin[2] === 'ms' ? 1e-3 : 1;
  const bad = status ? Number(status[3]) + Number(status[4]) : 0;
  const lat = latenciesUs && latenciesUs.length > 0 ? latenciesUs : null;
  return {
    requests: Number(req[4]),
    durationS: Number(fin[1]) * unit,
    rps: Number(fin[3]),
    p50Ms: lat ? percentileSorted(lat, 50)! / 1000 : null,
    p99Ms: lat ? percentileSorted(lat, 99)! / 1000 : null,
    errors: Number(req[5]) + Number(req[6]) + Number(req[7]) + bad,
  };
}

/** Reads h2load's --log-file (`start_us\tstatus\telapsed_us` per line) into sorted latencies in µs. */
export function parseH2loadLog(text: string): Float64Array {
  const lines = text.split('\n');
  const out = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const t1 = line.indexOf('\t');
    if (t1 < 0) continue;
    const t2 = line.indexOf('\t', t1 + 1);
    if (t2 < 0) continue;
    const v = Number(line.slice(t2 + 1));
    if (Number.isFinite(v)) out[n++] = v;
  }
  return out.subarray(0, n).sort();
}
