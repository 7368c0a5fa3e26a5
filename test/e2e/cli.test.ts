// The command line as a user meets it: exit codes, one-line errors, stdin, gzip, --json.
// Runs the `mailsleuth` command as shipped (the bundle dist/mailsleuth.mjs; npm test builds
// first), and checks the bundle and the unbundled modules give the same case folder.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { fixture, repoRoot } from '../helpers/paths.js';
import { TcpConversation, writePcap } from '../helpers/pcap-writer.js';

const CLI = join(repoRoot, 'dist', 'mailsleuth.mjs');
const CLI_MODULES = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const PCAP = fixture('pcaps', 'demo-smtp.pcap');
const skip = existsSync(CLI) && existsSync(CLI_MODULES) ? false : 'the CLI is not built (run npm run build)';

function run(args: string[], input?: Buffer, cli = CLI) {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every file of a case folder (name -> content), with run-specific summary fields removed. */
function caseFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string): void => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else out[rel] = readFileSync(join(dir, rel), 'latin1');
    }
  };
  walk('');
  const summary = JSON.parse(out['summary.json']!) as { run: unknown; input: { path: unknown } };
  summary.run = null;
  summary.input.path = null;
  out['summary.json'] = JSON.stringify(summary);
  return out;
}

test('CLI: the bundled command and the unbundled modules write the same case folder (version included)', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    for (const [name, cli] of [['bundle', CLI], ['modules', CLI_MODULES]] as const) {
      const r = run(['analyze', PCAP, '-o', join(tmp, name), '-q'], undefined, cli);
      assert.equal(r.code, 0, r.err);
    }
    const a = caseFiles(join(tmp, 'bundle'));
    assert.deepEqual(a, caseFiles(join(tmp, 'modules')));
    assert.ok(Object.keys(a).some((k) => k.startsWith('messages/')), 'a message was written by the bundled worker');
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal((JSON.parse(readFileSync(join(tmp, 'bundle', 'summary.json'), 'utf8')) as { tool: { version: string } }).tool.version, pkg.version);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: both bundles are pure ASCII (Node then reads them without a UTF-8 decode into a two-byte string)', { skip }, () => {
  for (const file of [CLI, join(repoRoot, 'dist', 'message-worker.js')]) {
    const bytes = readFileSync(file);
    const at = bytes.findIndex((b) => b > 0x7f);
    assert.equal(at, -1, `${file}: non-ASCII byte at offset ${at}`);
  }
});

test('CLI: double-byte charsets (GBK, Big5, Shift_JIS) decode the same in the bundle (lazy DBCS codec) and the modules', { skip }, () => {
  const subject = '\u4f1a\u8bae\u7eaa\u8981'; // 会议纪要
  const words = [
    `=?GBK?B?${iconv.encode(subject, 'gbk').toString('base64')}?=`,
    `=?Big5?B?${iconv.encode('\u6703\u8b70', 'big5').toString('base64')}?=`,
    `=?Shift_JIS?B?${iconv.encode('\u4f1a\u8b70', 'shift_jis').toString('base64')}?=`,
  ];
  const body = Buffer.concat([Buffer.from('Subject: '), Buffer.from(words.join(' ')), Buffer.from('\r\nFrom: a@example.com\r\nContent-Type: text/plain; charset=gbk\r\n\r\n'), iconv.encode(subject, 'gbk'), Buffer.from('\r\n.\r\n')]);
  const c = new TcpConversation({ ip: '10.0.0.1', port: 40001 }, { ip: '10.0.0.2', port: 25 });
  c.handshake().serverSends('220 mx\r\n').clientSends('EHLO c\r\n').serverSends('250 mx\r\n').clientSends('MAIL FROM:<a@example.com>\r\n').serverSends('250 ok\r\n');
  c.clientSends('RCPT TO:<b@example.com>\r\n').serverSends('250 ok\r\n').clientSends('DATA\r\n').serverSends('354 go\r\n').clientSends(body).serverSends('250 queued\r\n').fin();
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-dbcs-'));
  try {
    const pcap = join(tmp, 'dbcs.pcap');
    writeFileSync(pcap, writePcap(c.frames()));
    for (const [name, cli] of [['bundle', CLI], ['modules', CLI_MODULES]] as const) {
      const r = run(['analyze', pcap, '-o', join(tmp, name), '-q'], undefined, cli);
      assert.equal(r.code, 0, r.err);
    }
    assert.deepEqual(caseFiles(join(tmp, 'bundle')), caseFiles(join(tmp, 'modules')));
    const rec = JSON.parse(readFileSync(join(tmp, 'bundle', 'messages.jsonl'), 'utf8').split('\n')[0]!) as { headers: { subject: string } };
    assert.equal(rec.headers.subject, `${subject}\u6703\u8b70\u4f1a\u8b70`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

function messages(dir: string): string[] {
  return readFileSync(join(dir, 'messages.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).sha256);
}

test('CLI: analyze a file, from stdin, and gzip on stdin: same messages; --json prints summary.json', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    const a = run(['analyze', PCAP, '-o', join(tmp, 'a')]);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /DESKTOP-7QK2J9M/);
    assert.match(a.out, /Summer2024!/);
    const b = run(['analyze', '-', '-o', join(tmp, 'b'), '--json'], readFileSync(PCAP));
    assert.equal(b.code, 0, b.err);
    const summary = JSON.parse(b.out);
    assert.equal(summary.input.path, '(stdin)');
    assert.equal(summary.counts.messages, 1);
    const c = run(['analyze', '-', '-o', join(tmp, 'c'), '-q'], gzipSync(readFileSync(PCAP)));
    assert.equal(c.code, 0, c.err);
    assert.equal(c.out, '');
    assert.deepEqual(messages(join(tmp, 'b')), messages(join(tmp, 'a')));
    assert.deepEqual(messages(join(tmp, 'c')), messages(join(tmp, 'a')));
    const sc = JSON.parse(readFileSync(join(tmp, 'c', 'summary.json'), 'utf8'));
    assert.equal(sc.input.gzip, true);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: a file that is not a capture exits 1 with one line naming what was expected', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    const f = join(tmp, 'notes.txt');
    writeFileSync(f, 'hello, this is not a capture\n');
    const r = run(['analyze', f, '-o', join(tmp, 'x')]);
    assert.equal(r.code, 1);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], /^mailsleuth: .*pcap.*pcapng/);
    assert.doesNotMatch(r.err, /at .*\.js:\d+/, 'no stack trace');
    const missing = run(['analyze', join(tmp, 'nope.pcap'), '-o', join(tmp, 'y')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim().split('\n').length, 1, missing.err);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: refuses a non-empty output folder (exit 3) unless --force; usage errors exit 2', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    writeFileSync(join(tmp, 'evidence.txt'), 'keep me');
    const r = run(['analyze', PCAP, '-o', tmp]);
    assert.equal(r.code, 3);
    assert.match(r.err, /--force/);
    assert.equal(readFileSync(join(tmp, 'evidence.txt'), 'utf8'), 'keep me');
    assert.equal(run(['analyze', PCAP, '-o', tmp, '--force', '-q']).code, 0);
    assert.equal(run(['analyze']).code, 2);
    assert.equal(run(['analyze', PCAP, '--limit', 'noSuchLimit=3']).code, 2);
    assert.equal(run(['--help']).code, 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: a message file that cannot be written exits 3 with one line, in both message modes', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    assert.equal(run(['analyze', PCAP, '-o', join(tmp, 'first'), '-q']).code, 0);
    const eml = (JSON.parse(readFileSync(join(tmp, 'first', 'messages.jsonl'), 'utf8').split('\n')[0]!) as { eml_path: string }).eml_path;
    for (const mode of [[], ['--no-message-worker']]) {
      const out = join(tmp, `blocked${mode.length}`);
      // A directory where the .eml (or its temp file) goes: the write fails even for root.
      mkdirSync(join(out, `${eml}.tmp`), { recursive: true });
      mkdirSync(join(out, eml), { recursive: true });
      const r = run(['analyze', PCAP, '-o', out, '--force', '-q', ...mode]);
      assert.equal(r.code, 3, `${mode.join(' ')}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /messages\//);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: a truncated capture still yields what precedes the cut, with a named anomaly', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    const bytes = readFileSync(PCAP);
    const cut = join(tmp, 'cut.pcap');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 7));
    const r = run(['analyze', cut, '-o', join(tmp, 'o'), '--json']);
    assert.ok(r.code === 0 || r.code === 4, `exit ${r.code}: ${r.err}`);
    const s = JSON.parse(r.out);
    assert.ok(s.anomalies_by_code.capture_truncated_record, JSON.stringify(s.anomalies_by_code));
    assert.equal(s.counts.messages, 1);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: a --keylog file with lines it cannot parse: named anomaly, the analysis runs (it used to throw)', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    const keylog = join(tmp, 'keys.log');
    const random = 'ab'.repeat(32);
    writeFileSync(
      keylog,
      `# a comment line\nCLIENT_RANDOM ${random} ${'cd'.repeat(48)}\nCLIENT_RANDOM ${random} not-hex\nNOT_A_LABEL ${random} ${'ef'.repeat(32)}\n`,
    );
    for (const mode of [[], ['--no-message-worker']]) {
      const out = join(tmp, `o${mode.length}`);
      const r = run(['analyze', PCAP, '-o', out, '--keylog', keylog, '--json', ...mode]);
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      assert.equal(s.anomalies_by_code.tls_keylog_bad_line?.count, 1, JSON.stringify(s.anomalies_by_code));
      assert.equal(s.counts.messages, 1);
      const rec = readFileSync(join(out, 'anomalies.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find((a) => a.code === 'tls_keylog_bad_line');
      assert.equal(rec.detail, `2 line(s) of ${keylog} could not be parsed`);
      assert.equal(rec.capture_sha256, s.input.sha256);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('CLI: Ctrl-C on a live stdin capture finishes the case folder with what was read (exit 5)', { skip }, async () => {
  const { spawn } = await import('node:child_process');
  const tmp = mkdtempSync(join(tmpdir(), 'ms-cli-'));
  try {
    const out = join(tmp, 'live');
    const child = spawn(process.execPath, [CLI, 'analyze', '-', '-o', out, '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // The capture arrives but stdin stays open, as with tcpdump -w - still running.
    child.stdin.write(readFileSync(PCAP));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 5, err);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(s.input.interrupted, true);
    assert.equal(s.input.sha256, null);
    assert.equal(s.counts.messages, 1, 'the message read before the interrupt is in the case folder');
    const rec = JSON.parse(readFileSync(join(out, 'messages.jsonl'), 'utf8').split('\n')[0]);
    assert.equal(rec.capture_sha256, '-'.repeat(64));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
