/**
 * Arkime (`X.arkime-expected.test`) and suricata-verify (`X.suricata-verify-expected.*.test.yaml`)
 * expectations vs our case folders (scripts/corpus/compare.ts compareArkime / compareSuricata).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedDir, SHARED_SKIP_REASON } from '../helpers/paths.js';
import { arkimeImapModel, parseYamlSubset, type CheckResult } from '../../scripts/corpus/compare.js';
import { hasExternalExpectations, runExternalCapture, selectCorpus } from '../../scripts/corpus/run.js';

test('parseYamlSubset reads suricata-verify shapes', () => {
  const y = parseYamlSubset("requires:\n  min-version: 8\nargs:\n  - -k none\nchecks:\n  - filter:\n      count: 1\n      match:\n        smtp.helo: GP # c\n        email.from: '\"A B\" <a@b>'\n        not-has-key: [\"x[0]\", y]\n  - stats:\n      n: 2\n");
  assert.deepEqual(y, {
    requires: { 'min-version': 8 },
    args: ['-k none'],
    checks: [{ filter: { count: 1, match: { 'smtp.helo': 'GP', 'email.from': '"A B" <a@b>', 'not-has-key': ['x[0]', 'y'] } } }, { stats: { n: 2 } }],
  });
});

test('arkimeImapModel reads physical header lines like Arkime imap.c (no unfolding)', () => {
  const eml = Buffer.from(
    'From: a@x.example\r\nSubject:   Long subject wor\r\n   king.....\r\nTo: "Doe, J." <j@x.example>, k@x.example,\r\n  l@x.example\r\nCc: M <m@x.example>\r\nSubject: trailing \r\n\r\nTo: body@x.example\r\n',
  );
  assert.deepEqual(arkimeImapModel([eml, null]), { dst: ['j@x.example', 'k@x.example', 'm@x.example'], subject: ['Long subject wor', 'trailing '] });
});

let results: CheckResult[] | null = null;
async function all(): Promise<CheckResult[]> {
  if (results) return results;
  const sel = selectCorpus(sharedDir!);
  const caps = [...sel.publicSmtp, ...sel.publicMailbox, ...sel.publicOther].filter(hasExternalExpectations);
  results = [];
  for (const c of caps) results.push(...(await runExternalCapture(c)));
  return results;
}
const key = (r: CheckResult): string => `${r.capture} ${r.check}`;

test('Arkime and suricata-verify expectations: no mismatch', { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, async () => {
  const r = await all();
  assert.ok(r.filter((x) => x.status === 'match' && x.check.startsWith('arkime-')).length >= 30, 'Arkime fields compared');
  assert.ok(r.filter((x) => x.status === 'match' && x.check.startsWith('suricata:')).length >= 30, 'Suricata filters compared');
  for (const x of r) if (x.status === 'skipped' || x.status === 'expected-difference') assert.notEqual(x.reason, '', `${key(x)} says why`);
  const bad = r.filter((x) => x.status === 'mismatch').map((x) => `${key(x)}: ${x.reason}`);
  assert.deepEqual(bad, []);
});
