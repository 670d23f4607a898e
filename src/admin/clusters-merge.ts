// admin/: GET /clusters under `--concurrency N` — the primary asks every worker for its /clusters answer and merges
// them into one: per-host counters and in-flight gauges (cx_*, rq_*) summed over the workers, everything else
// (health flags, weights, success rates, outlier and breaker lines) taken from the first answer that has it — those
// come from the shared health state every worker applies, so they are equal in all workers. Pure functions.

/** The per-host statistics each worker counts for its own traffic (Envoy's host stats: counters and gauges). */
const SUMMED = new Set(['cx_active', 'cx_connect_fail', 'cx_total', 'rq_active', 'rq_error', 'rq_success', 'rq_timeout', 'rq_total']);

/** `cluster::host::stat::value` with a summed stat and a numeric value; group 1 is everything before the value. */
const COUNTER_LINE = /^(.*::([a-z_]+))::(\d+)$/;

/**
 * Text form: lines keyed by everything before their last `::`. Summed stats add up; other lines keep the first
 * worker's value. A host (or cluster) only some workers have — an ORIGINAL_DST host a single worker created, or one
 * seen during a config push — keeps its lines, after the first answer's.
 */
export function mergeClustersText(answers: readonly string[]): string {
  if (answers.length === 1) return answers[0];
  const order: string[] = [];
  const lines = new Map<string, string>();
  const sums = new Map<string, number>();
  for (const text of answers) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const m = COUNTER_LINE.exec(line);
      if (m && SUMMED.has(m[2])) {
        const prev = sums.get(m[1]);
        if (prev === undefined) order.push(m[1]);
        sums.set(m[1], (prev ?? 0) + Number(m[3]));
        continue;
      }
      const cut = line.lastIndexOf('::');
      const key = cut < 0 ? line : line.slice(0, cut);
      if (lines.has(key)) continue;
      lines.set(key, line);
      order.push(key);
    }
  }
  let out = '';
  for (const k of order) {
    const sum = sums.get(k);
    out += (sum === undefined ? lines.get(k) : `${k}::${sum}`) + '\n';
  }
  return out;
}

interface JsonStat { name: string; value?: string; type?: string }
interface JsonHost { address?: unknown; stats?: JsonStat[]; [k: string]: unknown }
interface JsonCluster { name?: string; host_statuses?: JsonHost[]; [k: string]: unknown }
interface JsonClusters { cluster_statuses?: JsonCluster[] }

function isClusters(v: unknown): v is JsonClusters {
  return typeof v === 'object' && v !== null && Array.isArray((v as JsonClusters).cluster_statuses);
}

/** Adds `from`'s stats into `into` by name (proto3 JSON: a zero value is omitted, uint64 values are strings). */
function addStats(into: JsonHost, from: JsonHost): void {
  const stats = (into.stats ??= []);
  for (const s of from.stats ?? []) {
    const cur = stats.find((x) => x.name === s.name);
    if (!cur) {
      stats.push({ ...s });
      continue;
    }
    const sum = Number(cur.value ?? 0) + Number(s.value ?? 0);
    if (sum) cur.value = String(sum);
    else delete cur.value;
  }
}

/**
 * JSON form (envoy.admin.v3.Clusters): clusters matched by name, hosts by address; host `stats` summed by name,
 * every other field from the first answer. Answers that are not a Clusters object (a failed worker) are skipped.
 */
export function mergeClustersJson(answers: readonly unknown[]): unknown {
  const valid = answers.filter(isClusters);
  if (valid.length === 0) return { cluster_statuses: [] };
  const base = structuredClone(valid[0]);
  if (valid.length === 1) return base;
  const clusters = (base.cluster_statuses ??= []);
  const byName = new Map<string, JsonCluster>();
  for (const c of clusters) byName.set(String(c.name), c);
  const hostIndex = new Map<JsonCluster, Map<string, JsonHost>>();
  for (const other of valid.slice(1)) {
    for (const c of other.cluster_statuses ?? []) {
      const into = byName.get(String(c.name));
      if (!into) {
        const copy = structuredClone(c);
        clusters.push(copy);
        byName.set(String(c.name), copy);
        continue;
      }
      const hosts = (into.host_statuses ??= []);
      let byAddr = hostIndex.get(into);
      if (!byAddr) {
        byAddr = new Map(hosts.map((x) => [JSON.stringify(x.address), x]));
        hostIndex.set(into, byAddr);
      }
      for (const h of c.host_statuses ?? []) {
        const addr = JSON.stringify(h.address);
        const target = byAddr.get(addr);
        if (target) {
          addStats(target, h);
          continue;
        }
        const copy = structuredClone(h);
        hosts.push(copy);
        byAddr.set(addr, copy);
      }
    }
  }
  return base;
}
