// Keeps the Dockerfile honest without docker (issue 8 acceptance): parses its stages, builds the context from the
// git-tracked files (minus .dockerignore), runs every stage's COPY and RUN steps in clean temp dirs (one root per
// stage; absolute paths in RUN are mapped into it; apt-get and user creation are skipped and say so), then starts the
// assembled runtime stage's ENTRYPOINT as uid/gid 1337 with the demo bootstrap and checks /ready is LIVE, the demo
// listener answers, the addon loads and no devDependency is in the image. Needs root (setpriv); skips otherwise.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { httpRequest, pollUntil, portBusy, repoRoot } from '../support/meshlet-process.js';

// ------------------------------------------------------------------------------------------------- Dockerfile model

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly name: string;
  readonly base: string;
  readonly steps: Instruction[];
}

/** Stages of a Dockerfile: comments dropped, `\` continuations joined, instructions upper-cased. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let l = lines[i].trim();
    if (l === '' || l.startsWith('#')) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) {
      l = l.slice(0, -1);
      const next = lines[++i].trim();
      if (!next.startsWith('#')) l += ' ' + next;
    }
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) throw new Error(`Dockerfile:${start}: cannot parse ${JSON.stringify(l)}`);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile:${start}: bad FROM`);
      stages.push({ name: f[2] ?? String(stages.length), base: f[1], steps: [] });
      continue;
    }
    if (!stages.length) throw new Error(`Dockerfile:${start}: ${op} before FROM`);
    stages.at(-1)!.steps.push({ op, args, line: start });
  }
  return stages;
}

/** Exec form (JSON array) or shell form of ENTRYPOINT/CMD. */
function execForm(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : ['/bin/sh', '-c', args];
}

/** .dockerignore patterns: exact paths, directory prefixes and `*` within a segment. */
function ignoreMatcher(text: string): (path: string) => boolean {
  const res = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((p) => {
    const body = p.replace(/\/+$/, '').split('/').map((seg) => seg.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('/');
    return new RegExp(`^${body}(/|$)`);
  });
  return (path) => res.some((r) => r.test(path));
}

// ---------------------------------------------------------------------------------------------- executing the stages

interface StageState {
  readonly root: string;
  workdir: string;
  user: string | null;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

const notes: string[] = [];
const say = (s: string): void => {
  notes.push(s);
  console.log(`# ${s}`);
};

function inRoot(root: string, containerPath: string): string {
  return join(root, containerPath);
}

function resolveIn(st: StageState, p: string): string {
  return posix.isAbsolute(p) ? p : posix.join(st.workdir, p);
}

/** Rewrites absolute container paths in a shell command to paths under the stage root. */
function mapAbsolutePaths(cmd: string, root: string): string {
  return cmd.replace(/(^|[\s=])(\/[\w.@+-][\w./@+-]*)/g, (_m, pre: string, p: string) => `${pre}${join(root, p)}`);
}

function copyStep(st: StageState, args: string, context: string, stages: Map<string, StageState>): void {
  const parts = args.split(/\s+/);
  let fromRoot: string | null = null;
  while (parts[0]?.startsWith('--')) {
    const flag = parts.shift()!;
    const from = /^--from=(.+)$/.exec(flag);
    if (from) {
      const src = stages.get(from[1]);
      if (!src) throw new Error(`COPY --from=${from[1]}: no such stage built before`);
      fromRoot = src.root;
    } else if (!/^--(chown|chmod|link)/.test(flag)) throw new Error(`COPY flag ${flag} not emulated`);
  }
  const dest = parts.pop()!;
  const destPath = inRoot(st.root, resolveIn(st, dest));
  const intoDir = dest.endsWith('/') || dest === '.' || parts.length > 1;
  for (const src of parts) {
    const from = fromRoot ? inRoot(fromRoot, src) : join(context, src);
    if (!existsSync(from)) throw new Error(`COPY ${src}: not found (${from})`);
    const isDir = statSync(from).isDirectory();
    const to = isDir || !intoDir ? destPath : join(destPath, posix.basename(src));
    mkdirSync(isDir ? to : dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

function runStep(st: StageState, args: string, stageName: string): void {
  if (args.startsWith('[')) throw new Error('RUN exec form not emulated');
  if (/\bapt-get\b|\bapk\b/.test(args)) {
    say(`[${stageName}] skipped RUN (system packages come from the base image's package manager): ${args.slice(0, 100)}`);
    return;
  }
  if (/\b(groupadd|useradd|addgroup|adduser)\b/.test(args)) {
    say(`[${stageName}] skipped RUN (user/group creation; setpriv runs as 1337:1337 without a passwd entry): ${args.slice(0, 100)}`);
    return;
  }
  const cwd = inRoot(st.root, st.workdir);
  mkdirSync(cwd, { recursive: true });
  const cmd = mapAbsolutePaths(args, st.root);
  const t0 = Date.now();
  const r = spawnSync('sh', ['-c', cmd], {
    cwd,
    encoding: 'utf8',
    timeout: 150_000,
    env: { ...process.env, ...st.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', CI: 'true' },
  });
  say(`[${stageName}] RUN ${args} → exit ${r.status} in ${Date.now() - t0} ms`);
  if (r.status !== 0) throw new Error(`RUN ${args} failed (${r.status ?? r.error?.message}):\n${(r.stdout ?? '').slice(-3000)}\n${(r.stderr ?? '').slice(-3000)}`);
}

function buildStage(stage: Stage, dir: string, context: string, stages: Map<string, StageState>): StageState {
  const st: StageState = { root: join(dir, `stage-${stage.name}`), workdir: '/', user: null, env: {}, entrypoint: [], cmd: [] };
  mkdirSync(st.root, { recursive: true });
  for (const s of stage.steps) {
    switch (s.op) {
      case 'WORKDIR':
        st.workdir = resolveIn(st, s.args);
        mkdirSync(inRoot(st.root, st.workdir), { recursive: true });
        break;
      case 'COPY':
        copyStep(st, s.args, context, stages);
        break;
      case 'RUN':
        runStep(st, s.args, stage.name);
        break;
      case 'USER':
        st.user = s.args;
        break;
      case 'ENV': {
        const m = /^(\w+)[= ](.*)$/.exec(s.args);
        if (m) st.env[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
        break;
      }
      case 'ENTRYPOINT':
        st.entrypoint = execForm(s.args);
        break;
      case 'CMD':
        st.cmd = execForm(s.args);
        break;
      case 'EXPOSE':
      case 'LABEL':
      case 'ARG':
        break;
      default:
        throw new Error(`Dockerfile:${s.line}: ${s.op} not emulated by this test`);
    }
  }
  return st;
}

// ------------------------------------------------------------------------------------------------------------ test

const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
const hasSetpriv = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).status === 0;
const skip = uid !== 0 ? 'needs root (installs into temp dirs and drops to uid 1337 with setpriv)' : !hasSetpriv ? 'setpriv not installed' : false;
if (skip) console.log(`# dockerfile-steps skipped: ${skip}`);

describe('Dockerfile steps (docker is not available: executed in clean directories)', { timeout: 300_000, skip }, () => {
  const root = repoRoot();
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const stages = parseDockerfile(dockerfile);
  let dir = '';
  let runtime: StageState | null = null;
  let child: ReturnType<typeof spawn> | null = null;

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has a build stage, a runtime stage on a slim Node LTS, USER 1337:1337 and ENTRYPOINT meshlet', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    const last = stages.at(-1)!;
    const major = Number(/^node:(\d+)/.exec(last.base)?.[1]);
    assert.ok(major >= 22 && major % 2 === 0, `runtime on an even (LTS) Node major: ${last.base}`);
    assert.match(last.base, /slim|alpine|distroless/, 'slim runtime base');
    assert.deepEqual(last.steps.filter((s) => s.op === 'USER').map((s) => s.args), ['1337:1337']);
    assert.deepEqual(execForm(last.steps.find((s) => s.op === 'ENTRYPOINT')!.args), ['meshlet']);
    assert.ok(!last.steps.some((s) => s.op === 'COPY' && !/--from=/.test(s.args)), 'the runtime stage copies only from earlier stages (no sources)');
  });

  it('builds every stage in clean directories and assembles the runtime', () => {
    dir = mkdtempSync(join(tmpdir(), 'meshlet-docker-'));
    chmodSync(dir, 0o755);
    // Build context: git-tracked files present in the tree, minus .dockerignore.
    const context = join(dir, 'context');
    const ignored = existsSync(join(root, '.dockerignore')) ? ignoreMatcher(readFileSync(join(root, '.dockerignore'), 'utf8')) : () => false;
    const files = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).stdout.split('\0').filter((f) => f && !ignored(f));
    let n = 0;
    for (const f of files) {
      const from = join(root, f);
      if (!existsSync(from)) continue;
      mkdirSync(dirname(join(context, f)), { recursive: true });
      cpSync(from, join(context, f), { verbatimSymlinks: true });
      n++;
    }
    say(`context: ${n} git-tracked files`);
    const built = new Map<string, StageState>();
    for (const s of stages) {
      const t0 = Date.now();
      built.set(s.name, buildStage(s, dir, context, built));
      say(`stage ${s.name} (${s.base}) done in ${Date.now() - t0} ms`);
    }
    runtime = built.get(stages.at(-1)!.name)!;
    chmodSync(runtime.root, 0o755);
  });

  it('the runtime holds production dependencies only, the compiled output, the addon, proto/ and bootstrap/', () => {
    assert.ok(runtime, 'runtime assembled');
    const app = inRoot(runtime.root, runtime.workdir);
    const nm = join(app, 'node_modules');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const d of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(nm, d, 'package.json')), `production dependency ${d} present`);
    // package-lock marks every package only reachable from devDependencies `dev: true` (@types/node or
    // @grpc/proto-loader are devDependencies here but also production dependencies of protobufjs / grpc-js).
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([p, v]) => p.startsWith('node_modules/') && v.dev === true).map(([p]) => p);
    for (const d of ['typescript', 'eslint', 'node-gyp', 'fast-check', 'fastify']) assert.ok(devOnly.includes(`node_modules/${d}`), `${d} is dev-only in the lock file`);
    const leaked = devOnly.filter((p) => existsSync(join(app, p)));
    assert.deepEqual(leaked, [], 'no dev-only package in the runtime node_modules');
    say(`runtime node_modules: ${devOnly.length} dev-only packages of the lock file absent`);
    assert.ok(existsSync(join(app, 'dist', 'src', 'main.js')), 'compiled entry point');
    assert.ok(!existsSync(join(app, 'dist', 'test')), 'no compiled tests');
    assert.ok(!existsSync(join(app, 'src')), 'no TypeScript sources');
    assert.ok(existsSync(join(app, 'native', 'build', 'Release', 'original_dst.node')), 'the built SO_ORIGINAL_DST addon');
    assert.ok(existsSync(join(app, 'native', 'build', 'Release', 'hot_restart.node')), 'the built hot-restart (fd passing) addon');
    assert.ok(existsSync(join(app, 'proto', 'envoy-protos.txt')), 'proto/');
    assert.ok(existsSync(join(app, 'bootstrap', 'demo.yaml')), 'bootstrap/');
    // ENTRYPOINT ["meshlet"]: found on PATH (/usr/local/bin) as a link to bin/meshlet.js, executable.
    const onPath = inRoot(runtime.root, '/usr/local/bin/meshlet');
    assert.ok(lstatSync(onPath).isSymbolicLink(), '/usr/local/bin/meshlet is a symlink');
    assert.equal(realpathSync(onPath), realpathSync(join(app, 'bin', 'meshlet.js')), `links to bin/meshlet.js (${readlinkSync(onPath)})`);
    assert.ok((statSync(onPath).mode & 0o001) !== 0, 'executable by anyone (uid 1337)');
  });

  it('starts as uid/gid 1337: the addon loads, /ready is LIVE, the demo listener answers, SIGTERM exits 0', async (t) => {
    assert.ok(runtime, 'runtime assembled');
    const busy = [];
    for (const p of [10000, 10001, 15000]) if (await portBusy(p)) busy.push(p);
    if (busy.length) {
      t.skip(`demo ports busy: ${busy.join(', ')}`);
      return;
    }
    const app = inRoot(runtime.root, runtime.workdir);
    const drop = ['setpriv', '--reuid', '1337', '--regid', '1337', '--clear-groups'];
    const env = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent', ...runtime.env };
    // The addons are loadable by the unprivileged user from the runtime layout.
    const probe = spawnSync(drop[0], [...drop.slice(1), process.execPath, '--input-type=module', '-e',
      `const m = await import(${JSON.stringify(join(app, 'dist', 'src', 'listener', 'original-dst.js'))}); const h = await import(${JSON.stringify(join(app, 'dist', 'src', 'process', 'hot-restart-native.js'))}); console.log(JSON.stringify([m.originalDstAvailable(), m.originalDstUnavailableReason(), h.loadHotRestartAddon().state]));`],
    { cwd: app, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(probe.status, 0, probe.stderr);
    assert.deepEqual(JSON.parse(probe.stdout.trim()), [true, null, 'loaded'], 'original_dst and hot-restart addons load');

    const writable = join(dir, 'run');
    mkdirSync(writable);
    chownSync(writable, 1337, 1337);
    const addrFile = join(writable, 'admin-address');
    // ENTRYPOINT + CMD with the image paths mapped into the assembled root.
    const entry = runtime.entrypoint[0] === 'meshlet' ? inRoot(runtime.root, '/usr/local/bin/meshlet') : runtime.entrypoint[0];
    const cmd = runtime.cmd.map((a) => (isAbsolute(a) ? inRoot(runtime!.root, a) : a));
    let out = '';
    child = spawn(drop[0], [...drop.slice(1), entry, ...runtime.entrypoint.slice(1), ...cmd, '--admin-address-path', addrFile], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child!.once('exit', (code, signal) => r({ code, signal })));
    try {
      await pollUntil('admin address written', async () => existsSync(addrFile) || child!.exitCode !== null, 20_000, 50);
      assert.equal(child.exitCode, null, `meshlet exited at start:\n${out.slice(-3000)}`);
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      // setpriv execs meshlet in place, so the child pid is meshlet itself.
      assert.match(status, /^Uid:\s+1337\s+1337\s+1337\s+1337$/m, 'runs as uid 1337');
      assert.match(status, /^Gid:\s+1337\s+1337\s+1337\s+1337$/m, 'runs as gid 1337');
      assert.match(status, /^Groups:\s*$/m, 'no supplementary groups');
      await pollUntil('/ready LIVE', async () => (await httpRequest('http://127.0.0.1:15000/ready', { timeoutMs: 2000 })).body.trim() === 'LIVE', 20_000, 100);
      const hello = await httpRequest('http://127.0.0.1:10000/hello');
      assert.equal(hello.status, 200);
      assert.equal(hello.body, 'hello from meshlet\n');
      const proxied = await httpRequest('http://127.0.0.1:10000/ready');
      assert.equal(proxied.status, 200, 'routed through the demo listener to the admin cluster');
      assert.equal(proxied.body.trim(), 'LIVE');
      const dynamic = await httpRequest('http://127.0.0.1:10001/');
      assert.equal(dynamic.status, 200, 'the listener from bootstrap/demo/lds.yaml (relative path from the WORKDIR)');
      child.kill('SIGTERM');
      const exit = await Promise.race([exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no exit within 15 s')), 15_000).unref())]);
      assert.deepEqual(exit, { code: 0, signal: null }, out.slice(-2000));
    } catch (e) {
      console.log(`# meshlet output:\n${out.slice(-3000)}`);
      throw e;
    }
    say(notes.length ? `notes: ${notes.length} steps reported above` : 'no notes');
  });
});
