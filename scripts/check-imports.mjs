// Enforces the design's import rules between src/ folders (run by `npm run lint`):
//   common/ and config/ import nothing else of ours; only xds/, bootstrap/ and cli/ touch protobufjs;
//   upstream/ never imports router/ or http/; admin/ never imports listener/ or http/ internals for writing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const SRC = 'src';
const rules = [
  { from: 'common', allow: ['common'] },
  { from: 'config', allow: ['config', 'common'] },
  { from: 'upstream', deny: ['router', 'http', 'listener', 'admin', 'xds', 'bootstrap'] },
  { from: 'router', deny: ['http', 'listener', 'admin', 'xds', 'bootstrap', 'upstream'] },
];
const protoAllowed = ['xds', 'bootstrap', 'cli'];
function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out); else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}
const errors = [];
for (const file of walk(SRC, [])) {
  const top = relative(SRC, file).split('/')[0];
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
    const spec = m[1];
    if (spec === 'protobufjs' || spec.startsWith('protobufjs/')) {
      if (!protoAllowed.includes(top)) errors.push(`${file}: only ${protoAllowed.join(', ')} may import protobufjs`);
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = relative(SRC, resolve(dirname(file), spec)).split('/')[0];
    for (const r of rules) {
      if (r.from !== top) continue;
      if (r.allow && !r.allow.includes(target)) errors.push(`${file}: ${top}/ may not import ${target}/ (${spec})`);
      if (r.deny && r.deny.includes(target)) errors.push(`${file}: ${top}/ may not import ${target}/ (${spec})`);
    }
  }
}
if (errors.length) { console.error(errors.join('\n')); process.exit(1); }
console.log('import rules: ok');
