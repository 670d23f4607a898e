// Bench harness: the heap-snapshot reader behind bench/e2e/memory-at-rest — retained sizes from the dominator tree
// (weak edges do not retain, a node reachable two ways is retained by their common dominator) on a hand-built
// snapshot, and the summary on a real snapshot of this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { retainedSizes, summarizeHeap, type HeapSnapshotJson } from '../../../bench/lib/heap-retainers.js';

const NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

/** nodes: [type, name, self]; edges: [from, to, edgeType, name] */
function snapshot(nodes: [string, string, number][], edges: [number, number, string, string][]): HeapSnapshotJson {
  const types = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'];
  const strings: string[] = [];
  const str = (x: string): number => { let i = strings.indexOf(x); if (i < 0) { i = strings.length; strings.push(x); } return i; };
  const flat: number[] = [];
  nodes.forEach(([t, name, self], i) => flat.push(types.indexOf(t), str(name), i + 1, self, edges.filter((e) => e[0] === i).length, 0, 0));
  const flatEdges: number[] = [];
  for (let i = 0; i < nodes.length; i++) for (const e of edges.filter((x) => x[0] === i)) flatEdges.push(EDGE_TYPES.indexOf(e[2]), str(e[3]), e[1] * NODE_FIELDS.length);
  return {
    snapshot: { meta: { node_fields: NODE_FIELDS, node_types: [types, 'string', 'number', 'number', 'number', 'number', 'number'], edge_fields: ['type', 'name_or_index', 'to_node'], edge_types: [EDGE_TYPES, 'string_or_number', 'node'] } },
    nodes: flat, edges: flatEdges, strings,
  };
}

test('retained size follows the dominator tree: shared children go to the common dominator, weak edges retain nothing', () => {
  //  root(0) -> A(1) -> B(2) -> D(4)
  //             A    -> C(3) -> D        D is reachable via B and C: A dominates it
  //  root    -> E(5) -weak-> A           the weak edge does not make root's path through E retain A
  //  root    -> F(6) -> G(7)
  const s = snapshot(
    [['synthetic', '', 0], ['object', 'A', 10], ['object', 'B', 20], ['object', 'C', 30], ['array', 'D', 400], ['object', 'E', 5], ['object', 'F', 1], ['string', 'G', 1000]],
    [[0, 1, 'property', 'a'], [1, 2, 'property', 'b'], [1, 3, 'property', 'c'], [2, 4, 'property', 'd'], [3, 4, 'element', '0'], [0, 5, 'property', 'e'], [5, 1, 'weak', 'w'], [0, 6, 'property', 'f'], [6, 7, 'property', 'g']],
  );
  const { idom, retained } = retainedSizes(s);
  assert.deepEqual([...idom], [0, 0, 1, 1, 1, 0, 0, 6]);
  assert.equal(retained[1], 10 + 20 + 30 + 400);
  assert.equal(retained[2], 20, 'B does not retain D: C reaches it too');
  assert.equal(retained[5], 5, 'E holds A only weakly');
  assert.equal(retained[6], 1001);
  assert.equal(retained[0], 1466);
  const sum = summarizeHeap(s, 10, 100);
  assert.equal(sum.totalBytes, 1466);
  // G is F's whole content and D most of A's: listed through their dominators, not again
  assert.deepEqual(sum.top.map((r) => [r.name, r.retainedBytes, r.via]), [['F', 1001, '(root).f'], ['A', 460, '(root).a']]);
  const big = summarizeHeap(s, 10, 100).top.length;
  assert.equal(big, 2);
  // with a lower share threshold out of reach, B (20 bytes) is below minBytes and never listed
  assert.ok(!summarizeHeap(s, 10, 25).top.some((r) => r.name === 'B'));
});

test('a real snapshot of this process: an object we hold is found with its retained size', { timeout: 60_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heap-retainers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // arrays of doubles: flat backing stores (a String#repeat result would be a rope of a few shared cons cells)
  class BigHolderForTest { readonly chunks = Array.from({ length: 16 }, (_, i) => new Array<number>(32 * 1024).fill(i + 0.5)); }
  const held = new BigHolderForTest();
  const file = v8.writeHeapSnapshot(join(dir, 'x.heapsnapshot'));
  const sum = summarizeHeap(JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotJson, 50, 256 * 1024);
  const mine = sum.top.find((r) => r.name === 'BigHolderForTest');
  assert.ok(mine, `the holder is among the top retainers: ${JSON.stringify(sum.top.slice(0, 10))}`);
  assert.ok(mine.retainedBytes >= 16 * 32 * 1024 * 8, `it retains its arrays: ${mine.retainedBytes}`);
  assert.ok(sum.byType.some((x) => x.type === 'string'));
  assert.ok(held.chunks.length === 16);
});
