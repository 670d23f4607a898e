// The logging flags as a user sets them (-l, --component-log-level, --log-format): Envoy level names, per-component
// overrides, and the text line format versus pino JSON lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../../src/cli/parse-args.js';
import { createLogManager } from '../../../src/observability/logger.js';

function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(s) } };
}

test('-l warning with --component-log-level misc:error,upstream:debug filters per component', () => {
  const f = parseArgs(['-l', 'warning', '--component-log-level', 'misc:error,upstream:debug']);
  const c = capture();
  const logs = createLogManager({ level: f.logLevel, componentLevels: f.componentLogLevel, destination: c.destination });
  logs.child('config').info('not shown');
  logs.child('config').warn('shown 1');
  logs.child('misc').warn('not shown');
  logs.child('misc').error('shown 2');
  logs.child('upstream').debug('shown 3');
  logs.child('brand-new').info('not shown');
  assert.deepEqual(c.lines.map((l) => JSON.parse(l).msg), ['shown 1', 'shown 2', 'shown 3']);
  assert.deepEqual(c.lines.map((l) => JSON.parse(l).component), ['config', 'misc', 'upstream']);
  assert.equal(logs.levels().misc, 'error');
  assert.equal(logs.levels().config, 'warning');
  assert.equal(logs.setLevel('off'), true);
  logs.child('misc').fatal('not shown either');
  assert.equal(c.lines.length, 3);
  assert.equal(logs.setLevel('loud'), false);
});

test('--log-format: Istio\'s text format gives tab-separated lines, a JSON format keeps JSON lines', () => {
  const t = capture();
  const text = createLogManager({ format: '%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t', destination: t.destination });
  text.child('xds').warn({ version: 'v1' }, 'NACKed');
  assert.equal(t.lines.length, 1);
  const parts = t.lines[0].trimEnd().split('\t');
  assert.match(parts[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(parts.slice(1, 4), ['warning', 'meshlet xds', 'NACKed']);
  assert.deepEqual(JSON.parse(parts[4]), { version: 'v1' });
  const j = capture();
  const json = createLogManager({ format: '{"level":"%l","msg":"%j"}', destination: j.destination });
  json.child('admin').error('x');
  assert.equal(JSON.parse(j.lines[0]).level, 'error', 'JSON lines carry Envoy level names');
});
