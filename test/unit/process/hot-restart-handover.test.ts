// Hot-restart state machines over a real abstract Unix socket. Parent: SERVING → HANDING_OVER (admin shut down, listen
// sockets sent) → DRAINING on the child's drain, back to SERVING when the child vanishes first, refusals for a second
// child, a wrong version or epoch, and bad frames. Child: NO_PARENT, TIMEOUT, PARENT_GONE and REFUSED as clear errors.
// The child's hand-over is synchronous (it blocks its event loop), so parents it talks to run in another process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadHotRestartAddon, type HotRestartAddon } from '../../../src/process/hot-restart-native.js';
import { HotRestartParent, type HotRestartParentDeps } from '../../../src/process/hot-restart-parent.js';
import { HotRestartChild } from '../../../src/process/hot-restart-child.js';
import { HOT_RESTART_VERSION, HotRestartError, decodeMessage, encodeMessage, encodePayload, netPathOf } from '../../../src/process/hot-restart-wire.js';

const state = loadHotRestartAddon();
const skip = state.state === 'loaded' ? false : `hot-restart addon unavailable: ${state.reason}`;
const addon = (): HotRestartAddon => (state as { addon: HotRestartAddon }).addon;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const uniq = (): string => `@meshlet_hot_restart_t${randomBytes(5).toString('hex')}_0`;
const until = async (what: string, f: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

async function parentWith(over: Partial<HotRestartParentDeps> = {}): Promise<{ parent: HotRestartParent; name: string; calls: string[]; listener: net.Server }> {
  const listener = net.createServer((s) => s.end('parent-copy'));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const calls: string[] = [];
  const name = uniq();
  const parent = new HotRestartParent({
    addon: addon(), name, epoch: 0, startTime: 1000, logger: quiet, helloTimeoutMs: 300,
    listenSockets: () => {
      calls.push('listenSockets');
      return [{ key: '127.0.0.1:1', fd: (listener as unknown as { _handle: { fd: number } })._handle.fd }];
    },
    shutdownAdmin: async () => { calls.push('shutdownAdmin'); },
    drainAndExit: (ms) => { calls.push(`drain:${ms}`); },
    ...over,
  });
  assert.equal(await parent.listen(), true);
  return { parent, name, calls, listener };
}

/** A hand-made child: connects with the addon and says hello (the parent answers asynchronously). */
function fakeChild(name: string, hello: Record<string, unknown> = { type: 'hello', epoch: 1, version: HOT_RESTART_VERSION, pid: 1 }): number {
  const fd = addon().connectUnix(name);
  addon().sendFds(fd, [], Buffer.from(JSON.stringify(hello)), 1000);
  return fd;
}

test('parent: hello → admin shut down, listen sockets sent (HANDING_OVER); drain → drainAndExit with the deadline (DRAINING)', { skip, timeout: 10_000 }, async () => {
  const { parent, name, calls, listener } = await parentWith();
  try {
    assert.equal(parent.state, 'SERVING');
    const fd = fakeChild(name);
    await until('sockets sent', () => calls.includes('listenSockets'));
    assert.equal(parent.state, 'HANDING_OVER');
    assert.deepEqual(calls, ['shutdownAdmin', 'listenSockets'], 'admin is shut down before the sockets go');
    const got = addon().recvFds(fd, 8, 2000);
    const m = decodeMessage(got.payload);
    assert.deepEqual(m, { type: 'sockets', keys: ['127.0.0.1:1'], pid: process.pid, startTime: 1000 });
    assert.equal(got.fds.length, 1);
    addon().closeFd(got.fds[0]);
    // A second child while one is handing over is refused.
    const other = fakeChild(name);
    await new Promise((r) => setTimeout(r, 100)); // recvFds blocks this event loop: let the parent answer first
    const refused = decodeMessage(addon().recvFds(other, 8, 2000).payload);
    assert.equal((refused as { type: string }).type, 'refused');
    addon().closeFd(other);
    addon().sendFds(fd, [], encodePayload({ type: 'drain', parentShutdownTimeS: 7 }), 1000);
    await until('drain', () => calls.includes('drain:7000'));
    assert.equal(parent.state, 'DRAINING');
    addon().closeFd(fd);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(parent.state, 'DRAINING', 'the child closing after the drain started does not stop the drain');
    parent.exited();
    assert.equal(parent.state, 'EXITED');
  } finally {
    parent.close();
    listener.close();
  }
});

test('parent: a child that goes away before taking over leaves the parent SERVING; bad hellos are refused or dropped', { skip, timeout: 10_000 }, async () => {
  const { parent, name, calls, listener } = await parentWith();
  try {
    const fd = fakeChild(name);
    await until('sockets sent', () => calls.includes('listenSockets'));
    addon().closeFd(fd);
    await until('back to SERVING', () => parent.state === 'SERVING');
    // recvFds blocks this event loop, so the parent (same process) must already have answered: give it a tick.
    const ask = async (hello: Record<string, unknown>): Promise<string> => {
      const c = fakeChild(name, hello);
      await new Promise((r) => setTimeout(r, 100));
      try {
        const m = decodeMessage(addon().recvFds(c, 8, 2000).payload) as { type: string; reason: string };
        return m.type === 'refused' ? m.reason : `unexpected ${m.type}`;
      } finally {
        addon().closeFd(c);
      }
    };
    assert.match(await ask({ type: 'hello', epoch: 1, version: 'meshlet.0', pid: 1 }), /version mismatch: parent meshlet\.1, child meshlet\.0/);
    assert.match(await ask({ type: 'hello', epoch: 5, version: HOT_RESTART_VERSION, pid: 1 }), /child epoch 5 does not follow parent epoch 0/);
    // Garbage and silence: the connection is closed (the next read sees the end), the parent keeps SERVING.
    const g = addon().connectUnix(name);
    addon().sendFds(g, [], Buffer.from('garbage'), 1000);
    await new Promise((r) => setTimeout(r, 100));
    assert.throws(() => addon().recvFds(g, 8, 1000), { code: 'ECONNRESET' });
    addon().closeFd(g);
    const silent = addon().connectUnix(name);
    await new Promise((r) => setTimeout(r, 450)); // helloTimeoutMs 300
    assert.throws(() => addon().recvFds(silent, 8, 1000), { code: 'ECONNRESET' });
    addon().closeFd(silent);
    assert.equal(parent.state, 'SERVING');
  } finally {
    parent.close();
    listener.close();
  }
});

test('parent: a child running as another uid is refused (the abstract socket is reachable by any local process)', { skip: skip || (process.getuid?.() !== 0 ? 'needs root to run a peer as another uid' : false), timeout: 10_000 }, async () => {
  const { parent, name, calls, listener } = await parentWith();
  try {
    const hello = encodeMessage({ type: 'hello', epoch: 1, version: HOT_RESTART_VERSION, pid: 1 }).toString('base64');
    const script = `const c=require('node:net').connect(${JSON.stringify(netPathOf(name))},()=>c.write(Buffer.from('${hello}','base64')));let b=Buffer.alloc(0);c.on('data',(d)=>b=Buffer.concat([b,d]));c.on('close',()=>{process.stdout.write(b.subarray(4).toString());process.exit(0)});setTimeout(()=>process.exit(2),5000);`;
    const p = spawn(process.execPath, ['-e', script], { uid: 1337, gid: 1337, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), { type: 'refused', reason: `child uid 1337 is not this process's uid 0` });
    assert.deepEqual(calls, [], 'no admin shutdown, no sockets');
    assert.equal(parent.state, 'SERVING');
  } finally {
    parent.close();
    listener.close();
  }
});

test('child: no parent listening is NO_PARENT with a one-line message naming the socket', { skip }, () => {
  const name = uniq();
  assert.throws(() => HotRestartChild.connect({ addon: addon(), parentName: name, epoch: 1, logger: quiet }), (e: unknown) => {
    assert.ok(e instanceof HotRestartError);
    assert.equal(e.code, 'NO_PARENT');
    assert.ok(e.message.includes(name) && !e.message.includes('\n'), e.message);
    return true;
  });
});

/** Runs a scripted peer in another process on `name`: 'silent' accepts and never answers, 'hangup' closes on hello. */
async function peer(name: string, mode: 'silent' | 'hangup'): Promise<ChildProcess> {
  const script = `const net=require('node:net');const s=net.createServer((c)=>{${mode === 'hangup' ? "c.once('data',()=>c.destroy());" : ''}});s.listen(${JSON.stringify(netPathOf(name))},()=>process.stdout.write('up\\n'));setTimeout(()=>process.exit(0),8000);`;
  const p = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => p.stdout!.once('data', () => r()));
  return p;
}

test('child: a parent that never answers is TIMEOUT, one that hangs up is PARENT_GONE', { skip, timeout: 20_000 }, async () => {
  for (const [mode, code] of [['silent', 'TIMEOUT'], ['hangup', 'PARENT_GONE']] as const) {
    const name = uniq();
    const p = await peer(name, mode);
    try {
      assert.throws(() => HotRestartChild.connect({ addon: addon(), parentName: name, epoch: 1, logger: quiet, timeoutMs: 500 }), (e: unknown) => {
        assert.ok(e instanceof HotRestartError, String(e));
        assert.equal(e.code, code, e.message);
        return true;
      });
    } finally {
      p.kill();
    }
  }
});

test('child: a parent answering refused is REFUSED with its reason', { skip, timeout: 20_000 }, async () => {
  const name = uniq();
  const frame = encodeMessage({ type: 'refused', reason: 'hot restart version mismatch' }).toString('base64');
  const script = `const net=require('node:net');const s=net.createServer((c)=>c.once('data',()=>c.end(Buffer.from('${frame}','base64'))));s.listen(${JSON.stringify(netPathOf(name))},()=>process.stdout.write('up\\n'));setTimeout(()=>process.exit(0),8000);`;
  const p = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => p.stdout!.once('data', () => r()));
  try {
    assert.throws(() => HotRestartChild.connect({ addon: addon(), parentName: name, epoch: 1, logger: quiet, timeoutMs: 2000 }), (e: unknown) => {
      assert.ok(e instanceof HotRestartError);
      assert.equal(e.code, 'REFUSED');
      assert.match(e.message, /parent refused: hot restart version mismatch/);
      return true;
    });
  } finally {
    p.kill();
  }
});
