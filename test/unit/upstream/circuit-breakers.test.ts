// Unit tests for circuit breakers: overflow counting per resource and retry budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterCircuitBreakers } from '../../../src/upstream/circuit-breakers.js';

test('requests beyond max_requests overflow and are counted; release frees a slot', () => {
  const cb = new ClusterCircuitBreakers({ priority: 'DEFAULT', maxConnections: 1, maxPendingRequests: 1, maxRequests: 2, maxRetries: 3, retryBudget: null });
  assert.equal(cb.tryAcquire('requests'), true);
  assert.equal(cb.tryAcquire('requests'), true);
  assert.equal(cb.tryAcquire('requests'), false);
  assert.equal(cb.stats.overflow.requests, 1);
  assert.equal(cb.remaining('requests'), 0);
  cb.release('requests');
  assert.equal(cb.remaining('requests'), 1);
  assert.equal(cb.tryAcquire('requests'), true);
  assert.equal(cb.tryAcquire('connections'), true);
  assert.equal(cb.tryAcquire('connections'), false);
  assert.equal(cb.stats.overflow.connections, 1);
});

test('retry budget: 20 % of active requests, at least min_retry_concurrency', () => {
  const cb = new ClusterCircuitBreakers({ priority: 'DEFAULT', maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
  assert.equal(cb.remaining('retries'), 3);
  for (let i = 0; i < 50; i++) cb.tryAcquire('requests');
  assert.equal(cb.remaining('retries'), 10);
  for (let i = 0; i < 10; i++) assert.ok(cb.tryAcquire('retries'));
  assert.equal(cb.tryAcquire('retries'), false);
  assert.equal(cb.stats.overflow.retries, 1);
});
