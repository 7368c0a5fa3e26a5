/**
 * The CLI on its inputs: the demo capture given as a path, piped on stdin ('-'), gzip-compressed
 * on stdin and as a .gz path must give the same case (messages.jsonl hashes, transcript, .eml
 * bytes). Input that is not a capture (text, empty) exits 1 with a one-line error and no stack
 * trace; a capture damaged mid-way exits 4 with everything before the damage analysed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { fixture, repoRoot } from '../helpers/paths.js';
import { recordLayout } from '../helpers/mutate.js';

/** The CLI as built (dist) or from source (tsx), whichever this test file runs as. */
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
const CLI = fromSource ? ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts')] : [join(repoRoot, 'dist', 'src', 'cli', 'main.js')];

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: Uint8Array): CliRun {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: repoRoot,
    input: input ?? Buffer.alloc(0),
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, MAILSLEUTH_DEBUG: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function jsonl(dir: string, name: string): Record<string, unknown>[] {
  const p = join(dir, name);
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** What must not depend on how the capture was delivered: hashes of input aside. */
function caseView(dir: string): unknown {
  const strip = (r: Record<string, unknown>): Record<string, unknown> => {
    const { capture_sha256: _h, ...rest } = r;
    return rest;
  };
  const messages = jsonl(dir, 'messages.jsonl');
  return {
    messages: messages.map((m) => ({ sha256: m.sha256, size: m.size, partial: m.partial, eml: sha(readFileSync(join(dir, String(m.eml_path)))) })),
    transcript: jsonl(dir, 'transcript.jsonl').map(strip),
    credentials: jsonl(dir, 'credentials.jsonl').map(strip),
  };
}

function assertOneLineError(r: CliRun, what: string): void {
  assert.equal(r.status, 1, `${what}: exit 1 (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^mailsleuth: /);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|internal error/, `${what}: no stack trace`);
}

describe('CLI inputs: path, stdin, gzip; rejects non-captures', () => {
  let work = '';
  const demo = readFileSync(fixture('pcaps', 'demo-smtp.pcap'));
  let reference: unknown;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'mailsleuth-cli-'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('file path: the reference case', () => {
    const out = join(work, 'path');
    const r = cli(['analyze', fixture('pcaps', 'demo-smtp.pcap'), '-o', out, '--force', '-q']);
    assert.equal(r.status, 0, r.stderr);
    reference = caseView(out);
    const ref = reference as { messages: { sha256: string; eml: string }[]; transcript: unknown[] };
    assert.equal(ref.messages.length, 1);
    // The .eml is the exact message submitted (lab ground truth bundled as demo-smtp.eml).
    assert.equal(ref.messages[0]!.sha256, sha(readFileSync(fixture('pcaps', 'demo-smtp.eml'))));
    assert.equal(ref.messages[0]!.eml, ref.messages[0]!.sha256);
    assert.ok(ref.transcript.length > 10);
  });

  test('stdin (-) gives the same case', () => {
    const out = join(work, 'stdin');
    const r = cli(['analyze', '-', '-o', out, '--force', '-q'], demo);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(caseView(out), reference);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { input: { sha256: string; gzip: boolean } };
    assert.equal(summary.input.sha256, sha(demo), 'stdin is hashed as received');
  });

  test('gzip on stdin gives the same case', () => {
    const out = join(work, 'stdin-gz');
    const gz = gzipSync(demo);
    const r = cli(['analyze', '-', '-o', out, '--force', '-q'], gz);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(caseView(out), reference);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { input: { sha256: string; gzip: boolean } };
    assert.equal(summary.input.gzip, true);
    assert.equal(summary.input.sha256, sha(gz), 'the stored (compressed) bytes are hashed');
  });

  test('gzip file path gives the same case', () => {
    const gzPath = join(work, 'demo.pcap.gz');
    writeFileSync(gzPath, gzipSync(demo, { level: 1 }));
    const out = join(work, 'path-gz');
    const r = cli(['analyze', gzPath, '-o', out, '--force', '-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(caseView(out), reference);
  });

  test('a text file: exit 1, one-line error, no stack trace', () => {
    const txt = join(work, 'notes.txt');
    writeFileSync(txt, 'This is not a capture.\nJust some notes.\n');
    assertOneLineError(cli(['analyze', txt, '-o', join(work, 'txt'), '--force']), 'text file');
  });

  test('text and empty input on stdin, a gzip of text, a missing file: exit 1, one line', () => {
    assertOneLineError(cli(['analyze', '-', '-o', join(work, 'e1'), '--force'], Buffer.from('EHLO not a pcap\r\n')), 'text on stdin');
    assertOneLineError(cli(['analyze', '-', '-o', join(work, 'e2'), '--force'], Buffer.alloc(0)), 'empty stdin');
    assertOneLineError(cli(['analyze', '-', '-o', join(work, 'e3'), '--force'], gzipSync(Buffer.from('hello'))), 'gzip of text');
    assertOneLineError(cli(['analyze', join(work, 'does-not-exist.pcap'), '-o', join(work, 'e4'), '--force']), 'missing file');
  });

  test('a capture damaged mid-way: exit 4, the case written up to the damage', () => {
    const layout = recordLayout(demo);
    const bad = Buffer.from(demo);
    // The last record's caplen becomes 0xFFFFFFF0 (over maxRecordBytes): reading stops there.
    const last = layout.lengthFields[layout.lengthFields.length - 1]!;
    bad.writeUInt32LE(0xfffffff0, last);
    const out = join(work, 'damaged');
    const r = cli(['analyze', '-', '-o', out, '--force', '-q'], bad);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /damaged/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { input: { complete: boolean; stopped_at_offset: number } };
    assert.equal(summary.input.complete, false);
    assert.equal(summary.input.stopped_at_offset, last - 8);
    // The message completed before the last record is still there.
    assert.deepEqual((caseView(out) as { messages: unknown }).messages, (reference as { messages: unknown }).messages);
  });
});
