import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../../pipeline/analyze.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../../test/helpers/paths.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>;

const CASES = [
  { dir: 'lab', name: 'sieve-forward-rule', sessionIndex: 0 },
  { dir: 'lab-webmail', name: 'webmail-forward-rule', sessionIndex: -1 },
];

for (const c of CASES) {
  const base = sharedDir === null ? null : join(sharedDir, 'corpus', c.dir, c.name);
  const skip = base === null || !existsSync(`${base}.pcap`) ? SHARED_SKIP_REASON : false;

  test(`${c.name}.pcap end to end: sieve sessions, credentials, scripts and artifacts match the lab truth`, { skip }, async () => {
    const truth = JSON.parse(readFileSync(`${base}.truth.json`, 'utf8'));
    const script = readFileSync(join(sharedDir!, 'corpus', c.dir, truth.script.file));
    assert.equal(createHash('sha256').update(script).digest('hex'), truth.script.sha256);
    const tsess: Rec = truth.sessions.filter((s: Rec) => s.protocol === 'managesieve').at(c.sessionIndex);
    const out = mkdtempSync(join(tmpdir(), 'sieve-e2e-'));
    try {
      const summary = await analyze(`${base}.pcap`, { outDir: out, overwrite: true });
      const jl = (f: string): Rec[] =>
        existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l)) : [];
      const sessions = jl('sessions.jsonl').filter((s) => s.protocol === 'sieve');
      // Truth lists each LOGOUT; one TCP connection per LOGOUT.
      const logouts = tsess.commands.filter((x: string) => x === 'LOGOUT').length;
      assert.equal(sessions.length, logouts, 'one sieve session per connection');
      for (const s of sessions) {
        assert.equal(s.server.port, 4190);
        assert.equal(s.transport, 'cleartext');
        assert.equal(s.sieve.username, tsess.auth.username);
        assert.equal(s.sieve.logout, true);
      }
      // Commands as the truth lists them, in order over all connections.
      const cmds = jl('transcript.jsonl').filter((t) => t.protocol === 'sieve' && t.kind === 'command').map((t) => t.lines[0]);
      assert.deepEqual(cmds, tsess.commands);
      // Credentials: one successful PLAIN per connection, the truth's user and password, cleartext.
      const creds = jl('credentials.jsonl').filter((x) => x.protocol === 'sieve');
      assert.equal(creds.length, logouts);
      for (const cr of creds) {
        assert.deepEqual([cr.mechanism, cr.username, cr.secret, cr.outcome, cr.cleartext_channel], [tsess.auth.mechanism, tsess.auth.username, tsess.auth.password, 'success', true]);
      }
      // The script carrying the redirect: saved byte for byte, its action extracted, active.
      const recs = jl('sieve_scripts.jsonl');
      const put = recs.filter((r) => r.command === 'PUTSCRIPT' && r.sha256 === truth.script.sha256);
      assert.equal(put.length, 1, JSON.stringify(recs.map((r) => [r.command, r.sha256])));
      const p = put[0];
      assert.equal(p.name, truth.script.name);
      assert.equal(p.size, truth.script.size);
      assert.equal(p.outcome, 'ok');
      assert.equal(p.active, truth.script.active_on_server);
      assert.equal(p.username, tsess.auth.username);
      assert.ok(readFileSync(join(out, p.path)).equals(script), 'artifact is the script verbatim');
      const redirects = p.actions.filter((a: Rec) => a.action === 'redirect');
      assert.equal(redirects.length, 1);
      assert.deepEqual(redirects[0].targets, [truth.script.redirect_target]);
      assert.equal(redirects[0].copy, truth.script.copy ?? true);
      // Every script record points at an artifact whose bytes hash to its sha256.
      for (const r of recs) {
        const bytes = readFileSync(join(out, r.path));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), r.sha256);
        assert.equal(bytes.length, r.size);
      }
      assert.deepEqual(Object.keys(summary.anomalies_by_code).filter((k) => k.startsWith('sieve_')), []);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}
