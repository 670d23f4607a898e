// original_dst without iptables: the addon loads (when built) and a connection that was not redirected has no
// original destination (null, never a made-up address). The redirected case runs in test/integration/netns-l4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { getOriginalDst, originalDstAvailable, originalDstUnavailableReason } from '../../../src/listener/original-dst.js';

test('a connection that was not redirected has no original destination', async (t) => {
  if (!originalDstAvailable()) {
    const why = originalDstUnavailableReason();
    console.log(`skipping: ${why}`);
    t.skip(why ?? 'addon unavailable');
    return;
  }
  assert.equal(originalDstUnavailableReason(), null);
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  try {
    const [s] = (await accepted) as [net.Socket];
    assert.equal(getOriginalDst(s), null);
    s.destroy();
    // A destroyed socket has no fd: null, no throw.
    assert.equal(getOriginalDst(s), null);
  } finally {
    c.destroy();
    server.close();
  }
});
