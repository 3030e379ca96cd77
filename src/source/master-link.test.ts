import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handshakeError, parseCapaReply } from './master-link.js';
import { encodeCommand } from './source-socket.js';
import { RespErrorReply } from '../decode/resp/resp-reader.js';
import { ReplicationError } from '../errors.js';

const id = '1fc053200157acb174f585d9ed2b5043bd514257';

test('capa reply: v1.40 (5 elements), older (4 and 3 elements)', () => {
  assert.deepEqual(parseCapaReply([id, 'SYNC1', 4, 5, id]), { replid: id, syncId: 'SYNC1', numFlows: 4, version: 5, lineage: id });
  assert.deepEqual(parseCapaReply([id, 'SYNC7', 2, 3]), { replid: id, syncId: 'SYNC7', numFlows: 2, version: 3, lineage: undefined });
  assert.deepEqual(parseCapaReply([id, 'SYNC1', 1]), { replid: id, syncId: 'SYNC1', numFlows: 1, version: undefined, lineage: undefined });
});

test('capa reply: +OK means a Redis master; malformed replies are named', () => {
  assert.throws(() => parseCapaReply('OK'), /not Dragonfly.*plain Redis sources are not supported yet/);
  assert.throws(() => parseCapaReply([id, 'SYNC1']), /bad reply/);
  assert.throws(() => parseCapaReply(['short', 'SYNC1', 4]), /bad master replid/);
  assert.throws(() => parseCapaReply([id, 'X1', 4]), /bad sync id/);
  assert.throws(() => parseCapaReply([id, 'SYNC1', 0]), /bad flow count/);
  assert.throws(() => parseCapaReply([id, 'SYNC1', 2000]), /bad flow count/);
  assert.throws(() => parseCapaReply(new RespErrorReply('ERR Replicating a replica is unsupported')), /itself a replica/);
});

test('handshake errors name the cause and the flow', () => {
  const e = handshakeError(['REPLCONF', 'capa', 'dragonfly'], new RespErrorReply("NOPERM this user has no permissions to run the 'replconf' command"), 3);
  assert.ok(e instanceof ReplicationError);
  assert.equal(e.flowId, 3);
  assert.match(e.message, /^flow 3: the source user may not run REPLCONF capa: the replication user needs REPLCONF and DFLY/);
  assert.match(handshakeError(['AUTH', 'x'], new RespErrorReply('WRONGPASS invalid username-password pair')).message, /refused the credentials/);
  assert.doesNotMatch(handshakeError(['AUTH', 'secret'], new RespErrorReply('ERR x')).message, /secret/);
  assert.match(handshakeError(['PING'], new RespErrorReply('NOAUTH Authentication required.')).message, /requires a password/);
});

test('commands are inline like the Dragonfly replica, multibulk when inline cannot carry an argument', () => {
  assert.equal(encodeCommand(['DFLY', 'FLOW', id, 'SYNC1', '0']).toString(), `DFLY FLOW ${id} SYNC1 0\r\n`);
  assert.equal(encodeCommand(['REPLCONF', 'ACK', '51']).toString(), 'REPLCONF ACK 51\r\n');
  assert.equal(encodeCommand(['AUTH', 'p w']).toString(), '*2\r\n$4\r\nAUTH\r\n$3\r\np w\r\n');
  assert.equal(encodeCommand(['AUTH', '']).toString(), '*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n');
  assert.equal(encodeCommand(['AUTH', 'é']).toString('latin1'), 'AUTH \xc3\xa9\r\n');
});
