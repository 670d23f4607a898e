// The hot-restart addon (native/hot_restart.c) passes a real TCP listen socket between two Unix sockets of this
// process: the received fd accepts connections; limits, timeouts and a vanished peer are errors with errno codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { loadHotRestartAddon, type HotRestartAddon } from '../../../src/process/hot-restart-native.js';
import { netPathOf } from '../../../src/process/hot-restart-wire.js';

const state = loadHotRestartAddon();
const skip = state.state === 'loaded' ? false : `hot-restart addon unavailable: ${state.reason}`;
const addon = (): HotRestartAddon => (state as { addon: HotRestartAddon }).addon;

/** A node:net server on a fresh abstract name, the addon's client fd connected to it, and the server's end. */
async function pair(): Promise<{ name: string; server: net.Server; clientFd: number; serverSide: net.Socket; close(): void }> {
  const name = `@meshlet_hot_restart_test_${randomBytes(6).toString('hex')}`;
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(netPathOf(name), r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const clientFd = addon().connectUnix(name);
  const serverSide = await accepted;
  serverSide.pause(); // nothing must be read by node while fds are in flight
  return {
    name, server, clientFd, serverSide,
    close() {
      serverSide.destroy();
      server.close();
      try { addon().closeFd(clientFd); } catch { /* closed by the test */ }
    },
  };
}
const fdOf = (x: net.Socket | net.Server): number => (x as unknown as { _handle: { fd: number } })._handle.fd;

test('a TCP listen socket sent with sendFds is received by recvFds and accepts connections in the receiver', { skip, timeout: 10_000 }, async () => {
  const p = await pair();
  const listener = net.createServer((s) => s.end('from-original'));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as net.AddressInfo).port;
  try {
    addon().sendFds(fdOf(p.serverSide), [fdOf(listener)], Buffer.from('{"keys":["k"]}'), 2000);
    const got = addon().recvFds(p.clientFd, 8, 2000);
    assert.equal(got.fds.length, 1);
    assert.equal(got.payload.toString(), '{"keys":["k"]}');
    // Stop the original: only the received copy accepts from now on, on the same port, without a new bind.
    await new Promise<void>((r) => listener.close(() => r()));
    const copy = net.createServer((s) => s.end('from-copy'));
    await new Promise<void>((r) => copy.listen({ fd: got.fds[0] }, r));
    assert.equal((copy.address() as net.AddressInfo).port, port);
    const body = await new Promise<string>((res, rej) => {
      let b = '';
      net.connect(port, '127.0.0.1').setEncoding('utf8').on('data', (c: string) => (b += c)).on('end', () => res(b)).on('error', rej);
    });
    assert.equal(body, 'from-copy');
    await new Promise<void>((r) => copy.close(() => r()));
  } finally {
    p.close();
  }
});

test('recvFds reads exactly one frame: node reads the next frame from the same socket afterwards', { skip, timeout: 10_000 }, async () => {
  const p = await pair();
  try {
    addon().sendFds(fdOf(p.serverSide), [], Buffer.from('first'), 2000);
    p.serverSide.write(Buffer.from([0, 0, 0, 6, ...Buffer.from('second')]));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(addon().recvFds(p.clientFd, 8, 2000).payload.toString(), 'first');
    const second = addon().recvFds(p.clientFd, 8, 2000);
    assert.deepEqual([second.fds, second.payload.toString()], [[], 'second']);
    const cred = addon().peerCred(fdOf(p.serverSide));
    assert.deepEqual(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() }, 'SO_PEERCRED names the connecting process');
  } finally {
    p.close();
  }
});

test('errors carry errno codes: nobody listening, no frame in time, more fds than allowed, peer closed', { skip, timeout: 10_000 }, async () => {
  assert.throws(() => addon().connectUnix(`@meshlet_hot_restart_nobody_${randomBytes(6).toString('hex')}`), { code: 'ECONNREFUSED' });
  const p = await pair();
  try {
    assert.throws(() => addon().recvFds(p.clientFd, 8, 100), { code: 'ETIMEDOUT' });
    const l1 = net.createServer();
    const l2 = net.createServer();
    await new Promise<void>((r) => l1.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => l2.listen(0, '127.0.0.1', r));
    addon().sendFds(fdOf(p.serverSide), [fdOf(l1), fdOf(l2)], Buffer.from('x'), 2000);
    assert.throws(() => addon().recvFds(p.clientFd, 1, 2000), { code: 'EMSGSIZE' });
    l1.close();
    l2.close();
    assert.throws(() => addon().sendFds(fdOf(p.serverSide), new Array(addon().MAX_FDS + 1).fill(0), Buffer.alloc(0)), { code: 'EMSGSIZE' });
    p.serverSide.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.throws(() => addon().recvFds(p.clientFd, 8, 2000), { code: 'ECONNRESET' });
  } finally {
    p.close();
  }
});
