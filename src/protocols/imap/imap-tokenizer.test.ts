import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IMAP_MAX_DEPTH, literalMarker, renderTokens, tokenString, tokenize } from './imap-tokenizer.js';
import type { ImapToken, LiteralValue } from './imap-tokenizer.js';

const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const lit = (s: string): LiteralValue => ({ size: s.length, nonSync: false, binary: false, bytes: b(s), missing: 0 });

test('literalMarker: {n}, {n+} (RFC 7888), ~{n} (RFC 3516), not mid-line', () => {
  assert.deepEqual(literalMarker(b('a LOGIN {5}')), { size: 5, nonSync: false, binary: false, start: 8, invalid: false });
  assert.deepEqual(literalMarker(b('a APPEND x {12+}')), { size: 12, nonSync: true, binary: false, start: 11, invalid: false });
  assert.deepEqual(literalMarker(b('* 1 FETCH (BINARY[] ~{300}')), { size: 300, nonSync: false, binary: true, start: 20, invalid: false });
  assert.equal(literalMarker(b('a LOGIN {5} x')), null);
  assert.equal(literalMarker(b('a {}')), null);
  assert.equal(literalMarker(b('a {x}')), null);
  assert.equal(literalMarker(b('}')), null);
  assert.equal(literalMarker(b('a {1234567890123456}'))?.invalid, true);
});

test('RFC 3501 examples: atoms, quoted with escapes, NIL, lists, flags', () => {
  const { tokens, errors } = tokenize(['a001 LOGIN SMITH "sesa\\"me\\\\"'], [], 5);
  assert.deepEqual(errors, []);
  assert.deepEqual(tokens, [
    { kind: 'atom', value: 'LOGIN' },
    { kind: 'atom', value: 'SMITH' },
    { kind: 'quoted', value: 'sesa"me\\' },
  ]);
  const t2 = tokenize(['(\\HasNoChildren \\Sent) "/" Sent'], []).tokens;
  assert.equal(t2[0]!.kind, 'list');
  assert.deepEqual((t2[0] as { items: ImapToken[] }).items.map(tokenString), ['\\HasNoChildren', '\\Sent']);
  assert.deepEqual(t2.slice(1).map(tokenString), ['/', 'Sent']);
  assert.equal(renderTokens(tokenize(['(FLAGS (\\Seen) UID 4 X NIL "q")'], []).tokens), '(FLAGS (\\Seen) UID 4 X NIL "q")');
});

test('sections and partials: BODY[HEADER.FIELDS (DATE FROM)]<0.2048>, BODY[], BINARY[1]', () => {
  const { tokens, errors } = tokenize(['(UID 1 BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.2048> BODY[] BINARY[1] RFC822.SIZE 44)'], []);
  assert.deepEqual(errors, []);
  const items = (tokens[0] as { items: ImapToken[] }).items;
  assert.deepEqual(items[2], { kind: 'atom', value: 'BODY.PEEK', section: 'HEADER.FIELDS (DATE FROM)', partial: '0.2048' });
  assert.deepEqual(items[3], { kind: 'atom', value: 'BODY', section: '' });
  assert.deepEqual(items[4], { kind: 'atom', value: 'BINARY', section: '1' });
  assert.equal(tokenString(items[3]), 'BODY[]');
});

test('literals between segments: token carries the kept bytes; streamed literal has bytes null', () => {
  const segs = ['a LOGIN {5}', ' {8}', ''];
  const { tokens, errors } = tokenize(segs, [lit('alice'), lit('pa ss"()')], 2);
  assert.deepEqual(errors, []);
  assert.deepEqual(tokens.map(tokenString), ['LOGIN', 'alice', 'pa ss"()']);
  const streamed: LiteralValue = { size: 300, nonSync: false, binary: false, bytes: null, missing: 0 };
  const f = tokenize(['(UID 7 BODY[] {300}', ' FLAGS (\\Seen))'], [streamed]).tokens;
  const items = (f[0] as { items: ImapToken[] }).items;
  assert.equal(items[3]!.kind, 'literal');
  assert.equal(tokenString(items[3]), null);
  assert.deepEqual(items.slice(4).map((x) => x.kind), ['atom', 'list']);
});

test('hostile input: unbalanced parens, unterminated quote, depth limit; never throws', () => {
  assert.ok(tokenize(['(((a'], []).errors.some((e) => e.includes('(')));
  assert.ok(tokenize(['a)'], []).errors.some((e) => e.includes(')')));
  assert.deepEqual(tokenize(['"abc'], []).tokens, [{ kind: 'quoted', value: 'abc' }]);
  const deep = '('.repeat(IMAP_MAX_DEPTH + 50) + 'x' + ')'.repeat(IMAP_MAX_DEPTH + 50);
  const r = tokenize([deep], []);
  assert.ok(r.errors.some((e) => e.startsWith('lists nested')));
  let depth = 0;
  let t: ImapToken | undefined = r.tokens[0];
  while (t !== undefined && t.kind === 'list') {
    depth++;
    t = t.items[0];
  }
  assert.equal(depth, IMAP_MAX_DEPTH);
  assert.deepEqual(tokenString(t), 'x');
  for (const s of ['[', ']]]', '\x00\x01', 'BODY[', 'BODY[(]', '{', '~{1}', '"\\']) assert.doesNotThrow(() => tokenize([s], []));
});
