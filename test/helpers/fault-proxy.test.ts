/**
 * The TCP fault proxy (test/helpers/fault-proxy.ts) in front of a real redis-server: transparent
 * until a fault, and each fault at exactly the chosen byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { FaultProxy } from './fault-proxy.js';
import { startRedisServer } from './redis-server.js';
import { delay, until } from './wait.js';

/** A raw client: everything it received, and whether the peer closed. */
async function rawClient(port: number): Promise<{ socket: net.Socket; received: () => string; isEnded: () => boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let data = '';
  let isEnded = false;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('end', () => (isEnded = true));
  socket.on('close', () => (isEnded = true));
  socket.on('error', () => undefined);
  return { socket, received: () => data, isEnded: () => isEnded };
}

test('fault proxy: transparent without a fault; cut after N bytes upstream→client delivers exactly N, then closes', async () => {
  const redis = await startRedisServer();
  const proxy = await FaultProxy.start({ port: redis.port });
  try {
    const a = await rawClient(proxy.port);
    a.socket.write('PING\r\n');
    await until(() => a.received() === '+PONG\r\n', 'PONG through the proxy');
    // The reply to the next command is `$5\r\nhello\r\n` (11 bytes): cut after 4 of them.
    proxy.arm({ connection: 0, direction: 'down', afterBytes: 7 + 4, action: 'cut' });
    a.socket.write('ECHO hello\r\n');
    await until(a.isEnded, 'the cut');
    assert.equal(a.received(), '+PONG\r\n$5\r\n');
    assert.equal(proxy.connections[0]!.fault, 'cut');
  } finally {
    await proxy.close();
    await redis.stop();
  }
});

test('fault proxy: stall is a black hole in both directions with both sockets open', async () => {
  const redis = await startRedisServer();
  const proxy = await FaultProxy.start({ port: redis.port });
  try {
    proxy.arm({ connection: 0, direction: 'up', afterBytes: 'SET k 1\r\n'.length, action: 'stall' });
    const a = await rawClient(proxy.port);
    a.socket.write('SET k 1\r\nSET k 2\r\n');
    await until(() => proxy.connections[0]?.isStalled === true, 'the stall');
    await delay(200);
    assert.equal(a.isEnded(), false, 'the client socket stays open');
    assert.equal(a.received(), '', 'the reply to the first SET is not forwarded either');
    const b = await rawClient(redis.port);
    b.socket.write('GET k\r\n');
    await until(() => b.received() === '$1\r\n1\r\n', 'the server got exactly the bytes before the stall');
    b.socket.destroy();
    a.socket.destroy();
  } finally {
    await proxy.close();
    await redis.stop();
  }
});

test('fault proxy: half-close sends a FIN toward one side only', async () => {
  const redis = await startRedisServer();
  const proxy = await FaultProxy.start({ port: redis.port });
  try {
    proxy.arm({ connection: 0, direction: 'down', afterBytes: 0, action: 'half-close', toward: 'client' });
    const a = await rawClient(proxy.port);
    await until(a.isEnded, 'the FIN toward the client');
    assert.equal(proxy.connections[0]!.upstream.destroyed, false, 'the upstream side stays open');
  } finally {
    await proxy.close();
    await redis.stop();
  }
});
