// Bench harness: reads a V8 .heapsnapshot (as written by --heapsnapshot-signal or v8.writeHeapSnapshot) and names
// what holds the memory — retained sizes from the dominator tree (Cooper–Harvey–Kennedy iteration over the strong
// edges), the biggest retainers with the edge they hang from, and self size per node type.

/** The parts of the .heapsnapshot JSON this reader uses. */
export interface HeapSnapshotJson {
  readonly snapshot: { readonly meta: { readonly node_fields: readonly string[]; readonly node_types: readonly unknown[]; readonly edge_fields: readonly string[]; readonly edge_types: readonly unknown[] } };
  readonly nodes: ArrayLike<number>;
  readonly edges: ArrayLike<number>;
  readonly strings: readonly string[];
}

export interface Retainer {
  /** node type (object, closure, array, native, …) and constructor / name */
  readonly type: string;
  readonly name: string;
  /** the edge from its immediate dominator's side: `<dominator name>.<edge name>` (best effort) */
  readonly via: string;
  readonly selfBytes: number;
  readonly retainedBytes: number;
}

export interface HeapSummary {
  readonly totalBytes: number;
  readonly nodeCount: number;
  /** self size per node type, largest first */
  readonly byType: readonly { readonly type: string; readonly bytes: number }[];
  /** largest retainers, excluding the root, GC-root groups and what is retained only through a bigger listed one */
  readonly top: readonly Retainer[];
}

const SKIP_TYPES = new Set(['synthetic', 'hidden', 'code', 'object shape']);

/**
 * Dominator-tree retained sizes of every node. A node is retained by X when every strong path from the root passes
 * through X; weak edges do not retain. Returns the immediate dominator and retained size per node ordinal.
 */
export function retainedSizes(s: HeapSnapshotJson): { idom: Int32Array; retained: Float64Array; self: Float64Array; firstEdge: Uint32Array; postorder: Int32Array } {
  const nf = s.snapshot.meta.node_fields.length;
  const ef = s.snapshot.meta.edge_fields.length;
  const iSelf = s.snapshot.meta.node_fields.indexOf('self_size');
  const iEdgeCount = s.snapshot.meta.node_fields.indexOf('edge_count');
  const iEdgeType = s.snapshot.meta.edge_fields.indexOf('type');
  const iTo = s.snapshot.meta.edge_fields.indexOf('to_node');
  const weak = (s.snapshot.meta.edge_types[0] as string[]).indexOf('weak');
  const n = s.nodes.length / nf;
  const self = new Float64Array(n);
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) {
    firstEdge[i] = e;
    e += s.nodes[i * nf + iEdgeCount] * ef;
    self[i] = s.nodes[i * nf + iSelf];
    if (i === n - 1) firstEdge[n] = e;
  }
  // iterative DFS from the root (node 0) for a postorder over strong edges
  const post = new Int32Array(n).fill(-1); // node -> postorder number
  const order = new Int32Array(n); // postorder number -> node
  const visited = new Uint8Array(n);
  const stackNode = new Int32Array(n);
  const stackEdge = new Uint32Array(n);
  let sp = 0;
  let count = 0;
  stackNode[0] = 0;
  stackEdge[0] = firstEdge[0];
  visited[0] = 1;
  sp = 1;
  while (sp > 0) {
    const v = stackNode[sp - 1];
    let e = stackEdge[sp - 1];
    let pushed = false;
    while (e < firstEdge[v + 1]) {
      const type = s.edges[e + iEdgeType];
      const to = s.edges[e + iTo] / nf;
      e += ef;
      if (type === weak || visited[to]) continue;
      visited[to] = 1;
      stackEdge[sp - 1] = e;
      stackNode[sp] = to;
      stackEdge[sp] = firstEdge[to];
      sp++;
      pushed = true;
      break;
    }
    if (!pushed) {
      post[v] = count;
      order[count++] = v;
      sp--;
    }
  }
  // predecessors (strong edges between reachable nodes), CSR layout
  const predCount = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    if (post[v] < 0) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += ef) {
      if (s.edges[e + iEdgeType] === weak) continue;
      const to = s.edges[e + iTo] / nf;
      if (post[to] >= 0) predCount[to + 1]++;
    }
  }
  for (let i = 0; i < n; i++) predCount[i + 1] += predCount[i];
  const preds = new Int32Array(predCount[n]);
  const fill = predCount.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (post[v] < 0) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += ef) {
      if (s.edges[e + iEdgeType] === weak) continue;
      const to = s.edges[e + iTo] / nf;
      if (post[to] >= 0) preds[fill[to]++] = v;
    }
  }
  // Cooper–Harvey–Kennedy: idom in postorder numbers, iterate in reverse postorder until stable
  const idomPo = new Int32Array(count).fill(-1);
  const rootPo = post[0];
  idomPo[rootPo] = rootPo;
  let changed = true;
  while (changed) {
    changed = false;
    for (let po = count - 1; po >= 0; po--) {
      if (po === rootPo) continue;
      const v = order[po];
      let nd = -1;
      for (let k = predCount[v]; k < predCount[v + 1]; k++) {
        let p = post[preds[k]];
        if (idomPo[p] < 0) continue;
        if (nd < 0) { nd = p; continue; }
        let q = nd;
        while (p !== q) {
          while (p < q) p = idomPo[p];
          while (q < p) q = idomPo[q];
        }
        nd = p;
      }
      if (nd >= 0 && idomPo[po] !== nd) { idomPo[po] = nd; changed = true; }
    }
  }
  const idom = new Int32Array(n).fill(-1);
  const retained = new Float64Array(n);
  for (let po = 0; po < count; po++) {
    const v = order[po];
    idom[v] = order[idomPo[po]];
    retained[v] += self[v];
    if (v !== 0) retained[idom[v]] += retained[v];
  }
  return { idom, retained, self, firstEdge, postorder: post };
}

/** Summarises a snapshot: totals, self size per type, and the `limit` biggest retainers worth naming. */
export function summarizeHeap(s: HeapSnapshotJson, limit = 25, minBytes = 256 * 1024): HeapSummary {
  const meta = s.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const types = meta.node_types[0] as string[];
  const edgeTypes = meta.edge_types[0] as string[];
  const iType = meta.node_fields.indexOf('type');
  const iName = meta.node_fields.indexOf('name');
  const iEdgeType = meta.edge_fields.indexOf('type');
  const iEdgeName = meta.edge_fields.indexOf('name_or_index');
  const iTo = meta.edge_fields.indexOf('to_node');
  const { idom, retained, self, firstEdge } = retainedSizes(s);
  const n = self.length;
  const typeOf = (v: number): string => types[s.nodes[v * nf + iType]] ?? '?';
  const nameOf = (v: number): string => {
    const t = typeOf(v);
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return '(string)';
    return String(s.strings[s.nodes[v * nf + iName]] ?? '').slice(0, 80).replace(/\s+/g, ' ');
  };
  const byTypeMap = new Map<string, number>();
  let total = 0;
  for (let v = 0; v < n; v++) {
    total += self[v];
    const t = typeOf(v);
    byTypeMap.set(t, (byTypeMap.get(t) ?? 0) + self[v]);
  }
  const edgeName = (from: number, to: number): string => {
    for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += ef) {
      if (s.edges[e + iTo] / nf !== to) continue;
      const et = edgeTypes[s.edges[e + iEdgeType]];
      const nm = s.edges[e + iEdgeName];
      return et === 'element' || et === 'hidden' ? `[${nm}]` : String(s.strings[nm] ?? nm);
    }
    return '?';
  };
  // candidates: big retainers that are real heap objects (not the root or GC-root groups)
  const cand: number[] = [];
  for (let v = 1; v < n; v++) {
    if (retained[v] < minBytes || SKIP_TYPES.has(typeOf(v)) || idom[v] < 0) continue;
    cand.push(v);
  }
  cand.sort((a, b) => retained[b] - retained[a]);
  // keep a node only when no listed ancestor (through idom) already accounts for ≥ 80 % of it: avoids listing a
  // chain of wrappers around one big thing
  const listed = new Set<number>();
  const top: Retainer[] = [];
  for (const v of cand) {
    if (top.length >= limit) break;
    let a = idom[v];
    let nested = false;
    while (a > 0 && a !== idom[a]) {
      if (listed.has(a) && retained[v] >= 0.8 * retained[a]) { nested = true; break; }
      a = idom[a];
    }
    if (nested) continue;
    listed.add(v);
    const d = idom[v];
    // dominated by the snapshot root itself: reachable from more than one GC-root group, no single owner
    const via = d === 0 ? (edgeName(0, v) === '?' ? '(several GC roots)' : `(root).${edgeName(0, v)}`) : `${nameOf(d) || typeOf(d)}.${edgeName(d, v)}`;
    top.push({ type: typeOf(v), name: nameOf(v), via, selfBytes: self[v], retainedBytes: retained[v] });
  }
  const byType = [...byTypeMap].map(([type, bytes]) => ({ type, bytes })).sort((a, b) => b.bytes - a.bytes);
  return { totalBytes: total, nodeCount: n, byType, top };
}
