// Bench harness: turns `wrk --latency` text output into numbers (requests/s, p50/p99, totals, errors).

export interface LoadResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** socket errors + non-2xx/3xx responses + timeouts */
  readonly errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** Parses a wrk duration like `412.00us`, `1.20ms`, `2.01s`; null when unparsable. */
export function parseWrkDuration(text: string): number | null {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  return toMs(Number(m[1]), m[2]);
}

// dividing for µs keeps 412.00us exactly 0.412
function toMs(v: number, unit: string): number {
  return unit === 'us' ? v / 1000 : v * UNIT_MS[unit];
}

/** Parses the output of `wrk --latency`. Throws a descriptive Error when the summary lines are missing. */
export function parseWrkOutput(out: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!total || !rps) throw new Error(`unrecognised wrk output: ${out.slice(0, 300)}`);
  const p = (q: string): number | null => {
    const m = new RegExp(`^\\s*${q}%\\s+(\\S+)`, 'm').exec(out);
    return m ? parseWrkDuration(m[1]) : null;
  };
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (sock) errors += Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errors += Number(non2xx[1]);
  return {
    requests: Number(total[1]),
    durationS: toMs(Number(total[2]), total[3]) / 1000,
    rps: Number(rps[1]),
    p50Ms: p('50'),
    p99Ms: p('99'),
    errors,
  };
}
