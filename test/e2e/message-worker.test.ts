// Worker mode (messages built and written on a worker thread, the default) must produce the same
// case folder as inline mode: same message records in the same order, same .eml files and
// attachments, same counts and capture hash. The third run reads the capture as a stream of small
// chunks, so messages span many batches (the worker writes each .eml batch by batch).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openCaptureBatches } from '../../src/capture/open-capture.js';
import { MailsleuthError } from '../../src/core/errors.js';
import { analyze, type AnalyzeOptions } from '../../src/pipeline/analyze.js';
import { renderTerminalSummary } from '../../src/output/terminal-summary.js';
import { MessageWorkerClient } from '../../src/pipeline/message-worker-client.js';
import { MESSAGE_WORKER_RESOURCE_LIMITS, PRESTARTED_MESSAGE_WORKER } from '../../src/pipeline/message-worker-protocol.js';
import { buildUdpFrame, TcpConversation, tsAt, writePcap, type SynthFrame } from '../helpers/pcap-writer.js';
import { fixture, sharedDir, SHARED_SKIP_REASON } from '../helpers/paths.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** File name -> SHA-256 of every file in a case sub-folder. */
function folderHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir).sort()) out[n] = sha256(readFileSync(join(dir, n)));
  return out;
}

async function compareModes(pcap: string, expectMessages: boolean, limits: AnalyzeOptions['limits'] = undefined): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ms-worker-'));
  try {
    const inlineDir = join(dir, 'inline');
    const workerDir = join(dir, 'worker');
    const hashDir = join(dir, 'worker-small-batches');
    const a = await analyze(pcap, { outDir: inlineDir, messageWorker: false, limits });
    const b = await analyze(pcap, { outDir: workerDir, limits });
    const file = readFileSync(pcap);
    const pieces: Buffer[] = [];
    for (let i = 0; i < file.length; i += 1500) pieces.push(file.subarray(i, i + 1500));
    const c = await analyze(Readable.from(pieces), { outDir: hashDir, limits });
    // The capture file hashed off the main thread: on the message worker, and (inline mode) on a
    // hash worker of its own.
    const d = await analyze(pcap, { outDir: join(dir, 'worker-hashes'), workerHashMinBytes: 0, limits });
    const e = await analyze(pcap, { outDir: join(dir, 'inline-hash-worker'), messageWorker: false, workerHashMinBytes: 0, limits });

    const fileHash = sha256(readFileSync(pcap));
    for (const s of [a, b, c, d, e]) assert.equal(s.input.sha256, fileHash, 'capture hash');
    assert.deepEqual(d.counts, a.counts);
    assert.deepEqual(e.counts, a.counts);
    assert.deepEqual(readJsonl(join(dir, 'worker-hashes', 'messages.jsonl')), readJsonl(join(inlineDir, 'messages.jsonl')));
    assert.deepEqual(b.counts, a.counts);
    assert.deepEqual(c.counts, a.counts);
    assert.deepEqual(b.messages, a.messages, 'summary message list (same order)');
    assert.deepEqual(c.messages, a.messages);
    assert.deepEqual(b.anomalies_by_code, a.anomalies_by_code);

    const msgs = readJsonl(join(inlineDir, 'messages.jsonl'));
    if (expectMessages) assert.ok(msgs.length > 0, 'the capture has messages');
    assert.deepEqual(readJsonl(join(workerDir, 'messages.jsonl')), msgs, 'messages.jsonl identical, same order');
    assert.deepEqual(readJsonl(join(hashDir, 'messages.jsonl')), msgs);
    for (const sub of ['messages', 'attachments']) {
      const want = folderHashes(join(inlineDir, sub));
      assert.deepEqual(folderHashes(join(workerDir, sub)), want, `${sub}/ identical`);
      assert.deepEqual(folderHashes(join(hashDir, sub)), want);
    }
    // Every record's .eml is there and matches the record's hash.
    for (const m of msgs) {
      assert.equal(sha256(readFileSync(join(workerDir, m.eml_path as string))), m.sha256);
    }
    // The same anomalies are recorded (message ones may come later in worker mode: compare as sets).
    const key = (r: Record<string, unknown>): string => JSON.stringify(r);
    assert.deepEqual(readJsonl(join(workerDir, 'anomalies.jsonl')).map(key).sort(), readJsonl(join(inlineDir, 'anomalies.jsonl')).map(key).sort());
    return msgs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('message worker: demo capture gives the same case as inline', async () => {
  await compareModes(fixture('pcaps', 'demo-smtp.pcap'), true);
});

test('message worker: messages cut at maxMessageBytes give the same records (hashed on the pipeline thread) as inline', async () => {
  const msgs = await compareModes(fixture('pcaps', 'demo-smtp.pcap'), true, { maxMessageBytes: 700 });
  assert.ok(msgs.some((m) => m.partial === true && (m.missing_bytes as number) > 0), 'some message was cut');
  for (const m of msgs) assert.ok((m.size as number) <= 700);
});

for (const name of ['smtp-auth-plain-pipelining', 'pop3-retr-dele', 'imap-session', 'mixed-day']) {
  test(`message worker: lab capture ${name} gives the same case as inline`, { skip: sharedDir ? false : SHARED_SKIP_REASON }, async () => {
    await compareModes(join(sharedDir!, 'corpus', 'lab', `${name}.pcap`), true);
  });
}

test('message worker: IMAP excerpts (header fields, TEXT, a cut fetch) are partial without false anomalies, as inline', async () => {
  const head = 'From: Alice <alice@example.org>\r\nSubject: Wire transfer\r\n\r\n';
  const text = 'Bob,\r\nplease pay the attached invoice today.\r\n';
  const conv = new TcpConversation({ ip: '10.0.0.5', port: 40110 }, { ip: '10.0.0.1', port: 143 });
  conv.handshake().serverSends('* OK [CAPABILITY IMAP4rev1] ready\r\n');
  conv.clientSends('a1 LOGIN bob secret\r\n').serverSends('a1 OK logged in\r\n');
  conv.clientSends('a2 SELECT INBOX\r\n').serverSends('* 2 EXISTS\r\na2 OK [READ-WRITE] done\r\n');
  conv.clientSends('a3 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n');
  conv.serverSends(`* 1 FETCH (UID 1 BODY[HEADER.FIELDS (FROM SUBJECT)] {${head.length}}\r\n${head})\r\na3 OK done\r\n`);
  conv.clientSends('a4 UID FETCH 1 (BODY.PEEK[TEXT])\r\n');
  conv.serverSends(`* 1 FETCH (UID 1 BODY[TEXT] {${text.length}}\r\n${text})\r\na4 OK done\r\n`);
  conv.clientSends('a5 UID FETCH 2 (BODY.PEEK[HEADER])\r\n');
  conv.serverSends(`* 2 FETCH (UID 2 BODY[HEADER] {${head.length + 40}}\r\n${head}`);
  conv.fin('server');
  const dir = mkdtempSync(join(tmpdir(), 'ms-excerpt-'));
  try {
    const pcap = join(dir, 'imap-excerpts.pcap');
    writeFileSync(pcap, conv.pcap());
    const msgs = await compareModes(pcap, true);
    assert.deepEqual(
      msgs.map((m) => [(m.delivery as Record<string, unknown>).partial_reason, m.partial, m.missing_bytes, m.anomalies]),
      [
        ['section HEADER.FIELDS (FROM SUBJECT)', true, 0, []],
        ['section TEXT', true, 0, []],
        ['section HEADER', true, 40, ['message_partial']],
      ],
    );
    assert.equal((msgs[0]!.headers as Record<string, unknown>).subject, 'Wire transfer');
    // For people: excerpts are labelled as such, a cut transfer as PARTIAL.
    const summary = await analyze(pcap, { outDir: join(dir, 'case') });
    assert.deepEqual(summary.messages.map((m) => [m.partial, m.excerpt]), [[true, true], [true, true], [true, false]]);
    assert.deepEqual([summary.counts.messages_partial, summary.counts.messages_excerpt], [3, 2]);
    assert.match(renderTerminalSummary(summary, { color: false, outDir: null }), /3 messages \(3 partial, 2 of them excerpts\)/);
    const rows = renderTerminalSummary(summary, { color: false, outDir: null }).split('\n').filter((l) => /^ {2}C\d+-m\d/.test(l));
    assert.deepEqual(rows.map((l) => / (EXCERPT|PARTIAL)$/.exec(l)?.[1] ?? ''), ['EXCERPT', 'EXCERPT', 'PARTIAL']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A capture of ~22 MiB (UDP frames, not mail): six 4 MiB reads, so read buffers go round several times. */
function manyChunkCapture(): Uint8Array {
  const payload = 'y'.repeat(1400);
  const frames: SynthFrame[] = [];
  for (let i = 0; i < 15000; i++) {
    const ts = tsAt(1700000000 + Math.floor(i / 1000), (i % 1000) * 1000);
    frames.push({ ts, data: buildUdpFrame({ ts, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1000 + (i % 50000), dstPort: 9, payload: `${i} ${payload}` }) });
  }
  return writePcap(frames);
}

function newClient(): MessageWorkerClient {
  return new MessageWorkerClient({
    attachmentsDir: null,
    limits: { maxMessageBytes: 1 << 20, maxInMemoryMessageBytes: 1 << 20, maxMimeDepth: 8, maxMimeParts: 100, maxHeaderBytes: 65536 },
    maxPendingWriteBytes: 1 << 20,
    maxBacklogBytes: 1 << 22,
  });
}

test('the message worker runs with its V8 limits (an 8 MB young generation), also when adopted from the command\'s early start', async () => {
  const client = newClient();
  try {
    assert.equal(client.workerResourceLimits?.maxYoungGenerationSizeMb, MESSAGE_WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb);
    assert.equal(MESSAGE_WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb, 8);
  } finally {
    await client.terminate();
  }
  // The bundled command starts the worker before the pipeline exists (src/cli/launch.ts): its
  // source passes the same limits.
  const launch = readFileSync(new URL('../../../src/cli/launch.ts', import.meta.url), 'utf8');
  assert.match(launch, /new Worker\(url, \{ resourceLimits: \{ \.\.\.MESSAGE_WORKER_RESOURCE_LIMITS \} \}\)/);
});

test('message worker as the capture hasher: the right digest and frames over many read chunks; a stopped worker fails the read, never hangs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-worker-hash-'));
  const client = newClient();
  try {
    const file = manyChunkCapture();
    assert.ok(file.length > 5 * 4 * 1024 * 1024);
    const path = join(dir, 'many.pcap');
    writeFileSync(path, file);
    let asked = 0;
    const chunkHasher = (): ReturnType<MessageWorkerClient['chunkHasher']> => {
      asked++;
      return client.chunkHasher();
    };
    for (const pauseEvery of [0, 2]) {
      const src = await openCaptureBatches(path, { report: () => assert.fail('no anomaly expected'), workerHashMinBytes: 0, chunkHasher });
      let n = 0;
      let chunks = 0;
      for await (const _ of src.stream(() => void n++)) {
        chunks++;
        if (pauseEvery > 0 && chunks % pauseEvery === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(n, 15000);
      assert.equal(src.info.sha256, sha256(file), 'digest from the message worker');
    }
    assert.equal(asked, 2, 'the capture reader used the message worker, not a hash worker of its own');

    // The worker stops in the middle: reading ends with a clear error (no hang, no wrong digest).
    const src = await openCaptureBatches(path, { report: () => {}, workerHashMinBytes: 0, chunkHasher });
    let chunks = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of src.stream(() => {})) if (++chunks === 2) await client.terminate();
      })(),
      (e: unknown) => e instanceof MailsleuthError && e.code === 'CAPTURE_UNREADABLE',
    );
    // A reader already waiting for a buffer, or for the digest, is woken by the stop.
    const other = newClient();
    const h = other.chunkHasher();
    const waiting = h.returned();
    const digest = h.digest();
    await other.terminate();
    await assert.rejects(waiting, /stopped/);
    await assert.rejects(digest, /stopped/);
  } finally {
    await client.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('message worker as the capture hasher: a file it cannot write is an output error, and hashing goes on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-worker-hash-out-'));
  const client = newClient();
  try {
    // A message whose .eml cannot be created (its folder does not exist): the worker reports it.
    const slot = client.open(join(dir, 'missing-folder', 'm1.eml'));
    client.write(slot, Buffer.from('Subject: x\r\n\r\nbody\r\n'));
    client.end(slot, true);
    client.flush();
    const h = client.chunkHasher();
    const got: ArrayBuffer[] = [];
    h.onReturn((b) => got.push(b));
    const data = Buffer.from('capture bytes '.repeat(1000));
    for (let i = 0; i < 3; i++) {
      // The bytes start `i` bytes into the buffer (read buffers start READ_BUFFER_OFFSET in).
      const buf = new ArrayBuffer(data.length + i + 5);
      new Uint8Array(buf).fill(0xff).set(data, i);
      h.hash(buf, i, data.length);
      await h.returned();
    }
    assert.ok(client.error, 'the write failure is known');
    assert.equal(client.errorIsOutput, true);
    assert.equal(got.length, 3, 'every buffer came back');
    assert.equal(await h.digest(), sha256(Buffer.concat([data, data, data])));
  } finally {
    await client.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a message worker that dies while it hashes the capture: analyze reports the worker failure, not an unreadable capture', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-worker-dies-'));
  try {
    const path = join(dir, 'many.pcap');
    writeFileSync(path, manyChunkCapture());
    // Planted where the command leaves the worker it starts early (see src/cli/launch.ts): a
    // stand-in that acknowledges batches but keeps the capture chunks it is given, so the reader
    // soon waits for a buffer, and then crashes: the failure reaches the pipeline through the read.
    const fake = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.on('message', (m) => {
         if (m.t === 'hash') setTimeout(() => { throw new Error('simulated crash'); }, 300);
         else if (m.t === 'batch') parentPort.postMessage({ t: 'ack', arenas: m.arenas, results: [], error: null }, m.arenas);
       });`,
      { eval: true },
    );
    (globalThis as Record<symbol, unknown>)[PRESTARTED_MESSAGE_WORKER] = fake;
    await assert.rejects(
      analyze(path, { outDir: join(dir, 'case'), workerHashMinBytes: 0 }),
      (e: unknown) => !(e instanceof MailsleuthError) && /message worker failed: simulated crash/.test((e as Error).message),
    );
  } finally {
    delete (globalThis as Record<symbol, unknown>)[PRESTARTED_MESSAGE_WORKER];
    rmSync(dir, { recursive: true, force: true });
  }
});
