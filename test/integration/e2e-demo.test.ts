// End to end: the README quick start's demo — `meshlet -c bootstrap/demo.yaml` from the repository root, no control
// plane — answers a request within 10 s of start with its admin API on Istio's 127.0.0.1:15000 (skipped when one of
// the demo's fixed ports is taken on this machine).
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MeshletProcess, httpRequest, pollUntil, portBusy, repoRoot } from '../support/meshlet-process.js';

let m: MeshletProcess | undefined;
after(async () => {
  await m?.stop();
});

it('bootstrap/demo.yaml answers a request within 10 s of start, admin on 127.0.0.1:15000', { timeout: 60_000 }, async (t) => {
  for (const p of [15000, 10000, 10001]) {
    if (await portBusy(p)) {
      t.skip(`port ${p} is busy on this machine; the demo uses fixed ports`);
      return;
    }
  }
  const t0 = Date.now();
  m = await MeshletProcess.start({ bootstrap: join(repoRoot(), 'bootstrap', 'demo.yaml') });
  assert.equal(m.adminPort, 15000, 'admin on the conventional port');
  const hello = await pollUntil('the demo to answer /hello', async () => {
    const r = await httpRequest('http://127.0.0.1:10000/hello', { timeoutMs: 2000 });
    return r.status === 200 ? r : undefined;
  }, 10_000, 50);
  const took = Date.now() - t0;
  console.log(`# demo answered after ${took} ms`);
  assert.ok(took <= 10_000, `answered after ${took} ms (acceptance: within 10 s)`);
  assert.equal(hello.body, 'hello from meshlet\n');
  await pollUntil('/ready LIVE', async () => (await httpRequest('http://127.0.0.1:15000/ready')).status === 200, 10_000);
  // The file-based listener (bootstrap/demo/lds.yaml) also serves, and the static route proxies to the admin.
  const viaProxy = await httpRequest('http://127.0.0.1:10000/ready');
  assert.equal(viaProxy.status, 200);
  assert.equal(viaProxy.body.trim(), 'LIVE');
  const fileListener = await pollUntil('the file-based listener on 10001', async () => {
    const r = await httpRequest('http://127.0.0.1:10001/', { timeoutMs: 2000 });
    return r.status > 0 ? r : undefined;
  }, 10_000, 100);
  assert.equal(fileListener.status, 200);
  assert.match(fileListener.body, /bootstrap\/demo\/lds\.yaml/);
  assert.match(m.stdout, /meshlet is running/, 'prints what to curl');
});
