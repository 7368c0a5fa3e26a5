// A capture that starts mid-stream on a port nobody knows: the port guess (lower port = server)
// is backwards, and the protocol's content must put client and server right (issue 2).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../../src/pipeline/analyze.js';
import { TcpConversation } from '../helpers/pcap-writer.js';

test('mid-stream SMTP on 3025 with a client port below it: roles come from the content', async () => {
  // No handshake: the first packet seen is the server's banner.
  const conv = new TcpConversation({ ip: '192.0.2.7', port: 1500 }, { ip: '198.51.100.25', port: 3025 });
  conv
    .serverSends('220 mx.example.net ESMTP\r\n')
    .clientSends('EHLO laptop-7\r\n')
    .serverSends('250 mx.example.net\r\n')
    .clientSends('MAIL FROM:<a@example.org>\r\n')
    .serverSends('250 ok\r\n')
    .clientSends('QUIT\r\n')
    .serverSends('221 bye\r\n');
  const dir = mkdtempSync(join(tmpdir(), 'ms-roles-'));
  try {
    const f = join(dir, 'mid.pcap');
    writeFileSync(f, conv.pcap());
    const s = await analyze(f, { outDir: null });
    const r = s.records!;
    assert.equal(r.sessions.length, 1);
    const sess = r.sessions[0];
    assert.deepEqual(sess.client, { ip: '192.0.2.7', port: 1500 });
    assert.deepEqual(sess.server, { ip: '198.51.100.25', port: 3025 });
    assert.equal(sess.identified_by, 'content');
    assert.equal(sess.midstream, true);
    assert.equal(sess.smtp?.helo, 'laptop-7');
    const cmds = r.transcript.filter((t) => t.kind === 'command').map((t) => [t.side, t.command]);
    assert.deepEqual(cmds, [['client', 'EHLO'], ['client', 'MAIL'], ['client', 'QUIT']]);
    assert.ok(s.anomalies_by_code.roles_by_content, JSON.stringify(s.anomalies_by_code));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
