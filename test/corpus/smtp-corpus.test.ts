/**
 * The SMTP corpus suite: mailsleuth's case folder for every SMTP capture of ../shared/corpus
 * must agree with tshark (transcript frames, IMF export), Zeek (smtp.log, extracted files) and
 * the lab ground truth (exact .eml bytes, credentials, EHLO names ...). Documented tshark
 * dissector errors and not-yet-comparable items are reported, not failed (see
 * scripts/corpus/compare.ts). Each capture is its own subtest so a failure names it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHARED_SKIP_REASON, sharedDir } from '../helpers/paths.js';
import type { CheckResult } from '../../scripts/corpus/compare.js';
import { labHasSmtp, runLabCapture, runPublicCapture, selectCorpus } from '../../scripts/corpus/run.js';

function line(r: CheckResult): string {
  const s = (v: unknown): string => {
    const t = typeof v === 'string' ? v : JSON.stringify(v);
    return t === undefined ? 'undefined' : t.length > 300 ? `${t.slice(0, 299)}…` : t;
  };
  return `[${r.check}] ${r.reason} | expected: ${s(r.expected)} | got: ${s(r.got)}`;
}

/** POP3/IMAP lab checks (issue 3) are reported by `npm run corpus`, not asserted here. */
const isSmtpCheck = (r: CheckResult): boolean => !/^lab:(pop3|imap|sieve)\b/.test(r.check);

function assertNoMismatch(results: CheckResult[]): void {
  const bad = results.filter((r) => r.status === 'mismatch' && isSmtpCheck(r)).map(line);
  assert.deepEqual(bad, []);
  // A capture that produced no comparison at all would pass vacuously: require at least one.
  assert.ok(results.length > 0, 'no check ran for this capture');
}

if (sharedDir === null) {
  test('SMTP corpus (public + lab)', { skip: SHARED_SKIP_REASON }, () => {});
} else {
  const sel = selectCorpus(sharedDir);

  describe('SMTP corpus: public captures vs tshark and Zeek', () => {
    test('the corpus lists SMTP captures', () => {
      assert.ok(sel.publicSmtp.length >= 100, `only ${sel.publicSmtp.length} SMTP captures found`);
    });
    for (const c of sel.publicSmtp) {
      test(c.id, async () => {
        assertNoMismatch(await runPublicCapture(c));
      });
    }
  });

  describe('SMTP corpus: lab captures vs ground truth', () => {
    for (const c of sel.lab.filter(labHasSmtp)) {
      test(c.id, async () => {
        assertNoMismatch(await runLabCapture(c));
      });
    }
  });
}
