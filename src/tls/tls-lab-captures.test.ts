import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openCaptureBatches } from '../capture/open-capture.js';
import { resolveLimits } from '../core/limits.js';
import type { At, Side } from '../core/types.js';
import { PacketDecoder } from '../decode/packet-decoder.js';
import type { StreamHandler, StreamHandlerFactory } from '../reassembly/stream-handler.js';
import { TcpReassembler } from '../reassembly/tcp-reassembler.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../test/helpers/paths.js';
import { TlsKeyStore } from './key-store.js';
import { TlsSession, type TlsSessionInfo } from './tls-session.js';

interface Ev {
  side: Side;
  bytes: Uint8Array;
  at: At;
}

/** Reads a capture through the project's reader, decoder and reassembler; returns each connection's events. */
async function connections(pcap: string): Promise<Ev[][]> {
  const limits = resolveLimits();
  const report = (): void => undefined;
  const conns: Ev[][] = [];
  const factory: StreamHandlerFactory = {
    create(): StreamHandler {
      const evs: Ev[] = [];
      conns.push(evs);
      return {
        onData: (side, bytes, at) => evs.push({ side, bytes: bytes.slice(), at }),
        onGap: () => undefined,
        onClose: () => undefined,
      };
    },
  };
  const src = await openCaptureBatches(pcap, { report });
  const decoder = new PacketDecoder({ report, limits });
  const reasm = new TcpReassembler({ factory, limits, report });
  for await (const batch of src) {
    for (const f of batch) {
      const r = decoder.decode(f);
      if (r.kind === 'tcp') reasm.add(r.packet);
    }
  }
  reasm.flushAll();
  return conns.filter((c) => c.length > 0);
}

/** Offset of the first TLS record carrying a ClientHello (client) / ServerHello (server) in a side's stream. */
function tlsStart(stream: Buffer, side: Side): number {
  const want = side === 'client' ? 1 : 2;
  for (let i = stream.indexOf(0x16); i >= 0 && i + 6 <= stream.length; i = stream.indexOf(0x16, i + 1)) {
    if (stream[i + 1] === 3 && stream[i + 2]! <= 4 && stream[i + 5] === want) return i;
  }
  return -1;
}

interface Decrypted {
  client: Buffer;
  server: Buffer;
  info: TlsSessionInfo;
  anomalies: string[];
  plainFrames: number[];
}

/** Feeds the TLS part of a connection (after STARTTLS, or all of it) into a TlsSession. */
function decrypt(evs: Ev[], keys: TlsKeyStore): Decrypted {
  const whole = { client: Buffer.concat(evs.filter((e) => e.side === 'client').map((e) => e.bytes)), server: Buffer.concat(evs.filter((e) => e.side === 'server').map((e) => e.bytes)) };
  const start = { client: tlsStart(whole.client, 'client'), server: tlsStart(whole.server, 'server') };
  assert.ok(start.client >= 0 && start.server >= 0, 'TLS start found on both sides');
  const out = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
  const anomalies: string[] = [];
  const plainFrames: number[] = [];
  const s = new TlsSession({
    keys,
    onPlaintext: (side, b, at) => {
      out[side].push(b.slice());
      plainFrames.push(at.frame);
    },
    onAnomaly: (code, detail) => anomalies.push(`${code}: ${detail}`),
  });
  const pos = { client: 0, server: 0 };
  for (const e of evs) {
    const from = Math.max(0, start[e.side] - pos[e.side]);
    pos[e.side] += e.bytes.length;
    if (from < e.bytes.length) s.push(e.side, e.bytes.subarray(from), e.at);
  }
  return { client: Buffer.concat(out.client), server: Buffer.concat(out.server), info: s.info(), anomalies, plainFrames };
}

/** The DATA body of the first transaction in an SMTP client stream, dot-unstuffed (RFC 5321 §4.5.2). */
function smtpMessage(client: Buffer): Buffer {
  const text = client.toString('latin1');
  const m = /\r\n(DATA|data)\r\n/.exec(text);
  assert.ok(m, 'DATA in the decrypted client stream');
  const begin = m.index + m[0].length;
  const end = text.indexOf('\r\n.\r\n', begin);
  assert.ok(end > begin, 'end of data');
  const body = text.slice(begin, end + 2);
  return Buffer.from(body.replace(/(^|\r\n)\./g, '$1'), 'latin1');
}

const LAB = sharedDir !== null ? join(sharedDir, 'corpus', 'lab') : '';

interface Truth {
  sessions: { encrypted_commands: string[]; tls_version?: string; transactions?: { message: { eml_file: string; sha256: string } }[]; fetched_sha256?: string }[];
}

function load(name: string): { truth: Truth; keys: TlsKeyStore; pcap: string } {
  const truth = JSON.parse(readFileSync(join(LAB, `${name}.truth.json`), 'utf8')) as Truth;
  const keys = new TlsKeyStore();
  const r = keys.addKeyLog(readFileSync(join(LAB, `${name}.keylog`), 'utf8'), `${name}.keylog`);
  assert.equal(r.bad, 0);
  return { truth, keys, pcap: join(LAB, `${name}.pcap`) };
}

function assertCommands(client: Buffer, commands: string[]): void {
  const text = client.toString('latin1');
  for (const c of commands) {
    if (c.startsWith('<data')) continue;
    assert.ok(text.includes(`${c}\r\n`), `decrypted client stream has the command ${JSON.stringify(c)}`);
  }
}

const SMTP_CASES: [string, string][] = [
  ['smtp-starttls-keylog', 'TLS 1.3'],
  ['smtp-starttls-tls12-keylog', 'TLS 1.2'],
  ['smtps-implicit-tls-keylog', 'TLS 1.3'],
];

describe('lab captures with key logs', { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, () => {
  for (const [name, version] of SMTP_CASES) {
    it(`${name}: decrypts, commands and message match the truth files byte for byte`, async () => {
      const { truth, keys, pcap } = load(name);
      const conns = await connections(pcap);
      assert.equal(conns.length, 1);
      const d = decrypt(conns[0]!, keys);
      assert.deepEqual(d.anomalies, []);
      assert.equal(d.info.decryption, 'decrypted');
      assert.equal(d.info.version, version);
      assert.equal(d.info.certificates.length >= 1, true);
      assert.match(d.info.certificates[0]!.subject, /CN=mail\.example-corp\.com/);
      const session = truth.sessions[0]!;
      assertCommands(d.client, session.encrypted_commands);
      const msg = smtpMessage(d.client);
      const tx = session.transactions![0]!.message;
      assert.ok(msg.equals(readFileSync(join(LAB, tx.eml_file))), 'message equals the .eml');
      assert.equal(createHash('sha256').update(msg).digest('hex'), tx.sha256);
      assert.match(d.server.toString('latin1'), /^250[ -]/m);
      // Every delivery carries the frame of the segment that completed its record.
      assert.ok(d.plainFrames.every((f, i) => f > 0 && (i === 0 || f >= d.plainFrames[i - 1]!)));
      // Without the key: metadata only.
      const none = decrypt(conns[0]!, new TlsKeyStore());
      assert.equal(none.info.decryption, 'no-key');
      assert.equal(none.client.length + none.server.length, 0);
      assert.equal(none.info.client_random, d.info.client_random);
    });
  }

  it('imap-starttls-keylog: decrypts, commands and fetched message match the truth file', async () => {
    const { truth, keys, pcap } = load('imap-starttls-keylog');
    const conns = await connections(pcap);
    assert.equal(conns.length, 1);
    const d = decrypt(conns[0]!, keys);
    assert.deepEqual(d.anomalies, []);
    assert.equal(d.info.decryption, 'decrypted');
    const session = truth.sessions[0]!;
    assertCommands(d.client, session.encrypted_commands.filter((c) => c !== 'LOGOUT'));
    assert.match(d.client.toString('latin1'), / LOGOUT\r\n/);
    // The literal of the UID FETCH response (RFC 9051 §4.3: {n}CRLF then n octets).
    const text = d.server.toString('latin1');
    const m = /BODY\[\] \{(\d+)\}\r\n/.exec(text);
    assert.ok(m, 'FETCH literal in the decrypted server stream');
    const start = m.index + m[0].length;
    const lit = d.server.subarray(start, start + Number(m[1]));
    assert.equal(createHash('sha256').update(lit).digest('hex'), session.fetched_sha256);
  });
});
