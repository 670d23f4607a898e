// Tests' Prometheus scraper: a small, strict parser of the Prometheus text exposition format (0.0.4) — HELP/TYPE lines, samples
// with escaped label values, histogram _bucket/_sum/_count — so tests check /stats/prometheus the way a scraper would.
// Exported for the other observability tests; its own tests (below) show it rejects what Prometheus rejects.
import { test } from 'node:test';
import assert from 'node:assert/strict';

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s: string, line: number): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const f = families.get(sample);
  if (f) return f;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const base = families.get(sample.slice(0, -suffix.length));
    if (base && (base.type === 'histogram' || base.type === 'summary')) return base;
  }
  return undefined;
}

/** Parses the whole text; throws on any malformed line, on samples without a TYPE, or duplicate series. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('exposition must end with a newline');
  lines.forEach((raw, i) => {
    const n = i + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // plain comment
      if (!NAME.test(m[2])) throw new Error(`line ${n}: bad metric name ${m[2]}`);
      const f = families.get(m[2]) ?? { name: m[2], type: 'untyped', help: '', samples: [] };
      families.set(m[2], f);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`line ${n}: bad type ${m[3]}`);
        f.type = m[3];
      } else f.help = m[3];
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(raw);
    if (!m) throw new Error(`line ${n}: cannot parse ${JSON.stringify(raw)}`);
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest.length > 0) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!lm || !LABEL.test(lm[1])) throw new Error(`line ${n}: bad labels ${JSON.stringify(m[3])}`);
      if (labels[lm[1]] !== undefined) throw new Error(`line ${n}: duplicate label ${lm[1]}`);
      labels[lm[1]] = lm[2].replace(/\\(["\\n])/g, (_x, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
    }
    const f = familyOf(m[1], families);
    if (!f) throw new Error(`line ${n}: sample ${m[1]} has no TYPE`);
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`line ${n}: duplicate series ${key}`);
    seen.add(key);
    f.samples.push({ name: m[1], labels, value: parseValue(m[4], n) });
  });
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none, throws when several. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(name, families);
  if (!f) return undefined;
  const hits = f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${hits.length} series`);
  return hits[0]?.value;
}

test('prom text parser: accepts a well-formed exposition and rejects malformed ones', () => {
  const ok = '# HELP a_total A\n# TYPE a_total counter\na_total{x="1",y="q\\"uote"} 3\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1.5\nh_count 2\n';
  const f = parsePrometheusText(ok);
  assert.equal(sampleValue(f, 'a_total', { y: 'q"uote' }), 3);
  assert.equal(sampleValue(f, 'h_bucket', { le: '+Inf' }), 2);
  assert.equal(sampleValue(f, 'h_count'), 2);
  for (const bad of [
    'a 1\n', // no TYPE
    '# TYPE a counter\na{x=1} 1\n', // unquoted label
    '# TYPE a counter\na 1\na 2\n', // duplicate series
    '# TYPE a counter\na one\n', // bad value
    '# TYPE a counter\na 1', // no final newline
  ]) assert.throws(() => parsePrometheusText(bad), Error, bad);
});
