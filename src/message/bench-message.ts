/**
 * Hand-run benchmark (not part of the test suite):
 *   node --import tsx src/message/bench-message.ts
 * Builds a ~2 MiB message with a base64 attachment and feeds it in 1460-byte chunks (one TCP
 * segment each) through MessageBuilder with no file writes: message SHA-256, MIME split, base64
 * decode and attachment SHA-256 included.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { MessageBuilder } from './message-builder.js';

function makeMessage(attachmentBytes: number): Buffer {
  const b64 = randomBytes(attachmentBytes).toString('base64').replace(/.{76}/g, '$&\r\n');
  const text = 'Hello,\r\n\r\nplease find the report attached.\r\n';
  return Buffer.from(
    'From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: report\r\n' +
      'Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="----=_Part_0_123456789.1700000000000"\r\n\r\n' +
      '------=_Part_0_123456789.1700000000000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' + text +
      '------=_Part_0_123456789.1700000000000\r\nContent-Type: application/pdf; name="report.pdf"\r\n' +
      'Content-Disposition: attachment; filename="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      b64 + '\r\n------=_Part_0_123456789.1700000000000--\r\n',
    'latin1',
  );
}

function run(msg: Buffer, chunk: number): number {
  const t0 = process.hrtime.bigint();
  const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: DEFAULT_LIMITS });
  for (let i = 0; i < msg.length; i += chunk) b.write(msg.subarray(i, Math.min(i + chunk, msg.length)));
  const r = b.end(true);
  if (r.attachments.length !== 1) throw new Error('unexpected result');
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const msg = makeMessage(1536 * 1024);
const mib = msg.length / (1024 * 1024);
for (let i = 0; i < 5; i++) run(msg, 1460); // warm-up
const times: number[] = [];
for (let i = 0; i < 20; i++) times.push(run(msg, 1460));
times.sort((a, b) => a - b);
const median = times[times.length >> 1]!;
console.log(`message ${mib.toFixed(2)} MiB, 1460-byte chunks: median ${(median * 1000).toFixed(2)} ms, ${(mib / median).toFixed(0)} MiB/s (best ${(mib / times[0]!).toFixed(0)} MiB/s)`);
