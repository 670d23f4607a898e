// Unit tests for the server lifecycle state machine behind /ready: LIVE only after both CDS and LDS, cached once
// reached, DRAINING is terminal, health-check failure shows as DRAINING, and readiness explains itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerLifecycle, type ServerState } from '../../../src/admin/server-lifecycle.js';

test('LIVE needs the first CDS and LDS; readiness detail says what is missing', () => {
  const seen: ServerState[] = [];
  const l = new ServerLifecycle((s) => seen.push(s));
  assert.equal(l.state, 'PRE_INITIALIZING');
  l.startInitializing();
  assert.match(l.readinessDetail(), /config not received/);
  l.ldsRejected();
  assert.match(l.readinessDetail(), /rejected/);
  l.ldsApplied();
  assert.equal(l.state, 'INITIALIZING');
  assert.match(l.readinessDetail(), /cds: pending, lds: applied/);
  l.cdsApplied();
  assert.equal(l.state, 'LIVE');
  assert.equal(l.isLive, true);
  assert.equal(l.readinessDetail(), '');
  l.cdsRejected();
  assert.equal(l.state, 'LIVE', 'a later rejection does not un-ready the server');
  assert.deepEqual(seen, ['INITIALIZING', 'LIVE']);
});

test('health check failure shows DRAINING and recovers; startDraining is terminal', () => {
  const l = new ServerLifecycle();
  l.startInitializing();
  l.cdsApplied();
  l.ldsApplied();
  l.healthcheckFail();
  assert.equal(l.state, 'DRAINING');
  l.healthcheckOk();
  assert.equal(l.state, 'LIVE');
  l.startDraining();
  l.cdsApplied();
  l.ldsApplied();
  l.healthcheckOk();
  assert.equal(l.state, 'DRAINING');
  assert.equal(l.isLive, false);
});
