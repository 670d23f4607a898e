// Unit tests for network/tcp-proxy/socket-read-buffer: an accepted socket switched to onread mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { adoptReadBuffer } from '../../../src/network/tcp-proxy/socket-read-buffer.js';

async function acceptedPair(): Promise<{ server: net.Server; accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  return { server, accepted, client };
}

test('an accepted socket reads into the caller buffer: every byte, stop and resume, then end', async () => {
  const { server, accepted, client } = await acceptedPair();
  try {
    const buf = Buffer.alloc(1024);
    let asked = 0;
    let got = '';
    let reads = 0;
    let stops = 0;
    const adopted = adoptReadBuffer(accepted, () => { asked++; return buf; }, (n, b) => {
      assert.equal(b, buf);
      got += b.toString('latin1', 0, n);
      if (++reads % 2 === 0) return true;
      stops++;
      setTimeout(() => accepted.resume(), 2); // false stopped reading; resume() starts it again
      return false;
    });
    assert.equal(adopted, true, 'this Node version must support the onread fast path (tcp_proxy relies on it)');
    accepted.on('data', () => assert.fail('no data events in onread mode'));
    const ended = once(accepted, 'end');
    accepted.resume();
    const payload = 'x'.repeat(5000) + 'y'.repeat(5000);
    for (let i = 0; i < payload.length; i += 700) {
      client.write(payload.slice(i, i + 700));
      await new Promise((r) => setTimeout(r, 1));
    }
    client.end();
    await ended;
    assert.equal(got, payload);
    assert.ok(stops > 0 && asked > reads, `stops ${stops}, buffer asked ${asked} times for ${reads} reads`);
  } finally { accepted.destroy(); client.destroy(); server.close(); }
});

test('a socket with a data listener or unread bytes is left as it is', async () => {
  const { server, accepted, client } = await acceptedPair();
  try {
    const onData = (): void => undefined;
    accepted.on('data', onData);
    assert.equal(adoptReadBuffer(accepted, () => Buffer.alloc(16), () => true), false);
    accepted.removeListener('data', onData);
    client.write('early');
    accepted.resume();
    accepted.pause();
    await new Promise((r) => setTimeout(r, 50)); // the handle keeps reading into the paused stream's buffer
    assert.ok(accepted.readableLength > 0);
    assert.equal(adoptReadBuffer(accepted, () => Buffer.alloc(16), () => true), false);
    const [d] = (await (accepted.resume(), once(accepted, 'data'))) as [Buffer];
    assert.equal(d.toString(), 'early');
  } finally { accepted.destroy(); client.destroy(); server.close(); }
});
