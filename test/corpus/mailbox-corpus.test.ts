/**
 * The POP3 / IMAP / ManageSieve corpus suite: for every public capture whose tshark POP/IMAP
 * listing has rows, each request and response tshark shows has a transcript entry in the same
 * frame and tshark's exported messages are ours; for every lab capture with a POP3, IMAP or
 * ManageSieve session (TLS ones decrypted with their key log), the credentials, command lines,
 * exact message / script bytes, deletions and IMAP client ID equal the lab truth. Documented
 * tshark dissector errors are `tshark-error`, not failures (scripts/corpus/compare.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHARED_SKIP_REASON, sharedDir } from '../helpers/paths.js';
import type { CheckResult } from '../../scripts/corpus/compare.js';
import { labHasMailbox, runLabCapture, runPublicMailboxCapture, selectCorpus } from '../../scripts/corpus/run.js';

function line(r: CheckResult): string {
  const s = (v: unknown): string => {
    const t = typeof v === 'string' ? v : JSON.stringify(v);
    return t === undefined ? 'undefined' : t.length > 300 ? `${t.slice(0, 299)}…` : t;
  };
  return `[${r.check}] ${r.reason} | expected: ${s(r.expected)} | got: ${s(r.got)}`;
}

const isMailboxCheck = (r: CheckResult): boolean => /^(lab:(pop3|imap|sieve)\b|tshark-(pop3|imap)-|imf-export|eml-integrity|analyze)/.test(r.check);

if (sharedDir === null) {
  test('POP3/IMAP/ManageSieve corpus (public + lab)', { skip: SHARED_SKIP_REASON }, () => {});
} else {
  const sel = selectCorpus(sharedDir);

  describe('mailbox corpus: public POP3/IMAP captures vs tshark', () => {
    test('the corpus lists POP3 and IMAP captures', () => {
      assert.ok(sel.publicMailbox.some((c) => (c.tsharkPop?.length ?? 0) > 0), 'no POP3 capture');
      assert.ok(sel.publicMailbox.some((c) => (c.tsharkImap?.length ?? 0) > 0), 'no IMAP capture');
    });
    for (const c of sel.publicMailbox) {
      test(c.id, async () => {
        const results = await runPublicMailboxCapture(c);
        assert.deepEqual(results.filter((r) => r.status === 'mismatch').map(line), []);
        assert.ok(results.some((r) => r.status === 'match' && r.check.startsWith('tshark-')), 'no tshark frame check matched');
      });
    }
  });

  describe('mailbox corpus: lab captures vs ground truth', () => {
    for (const c of sel.lab.filter(labHasMailbox)) {
      test(c.id, async () => {
        const results = await runLabCapture(c);
        const mine = results.filter(isMailboxCheck);
        assert.deepEqual(mine.filter((r) => r.status === 'mismatch').map(line), []);
        assert.deepEqual(mine.filter((r) => r.status === 'skipped').map(line), [], 'every POP3/IMAP/Sieve truth session is compared');
        assert.ok(mine.some((r) => r.status === 'match' && /^lab:(pop3|imap|sieve):(credential|message|script)/.test(r.check)), 'no credential/message/script check ran');
      });
    }
  });
}
