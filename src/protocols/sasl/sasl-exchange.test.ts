import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import fc from 'fast-check';
import { SaslExchange, SASL_MAX_LINE_CHARS, SASL_MAX_STEPS, apopHashcat, decodeBase64Strict, decodeLatin1 } from './sasl-exchange.js';
import { SASL_ANOMALIES } from './anomaly-codes.js';

const b64 = (s: string | Uint8Array): string => Buffer.from(typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');
const md5hex = (s: string): string => createHash('md5').update(s, 'latin1').digest('hex');

// ---------------------------------------------------------------- PLAIN

test('PLAIN: RFC 4616 section 4 examples', () => {
  const a = new SaslExchange('PLAIN', b64('\0tim\0tanstaaftanstaaf')).result();
  assert.equal(a.username, 'tim');
  assert.equal(a.secret, 'tanstaaftanstaaf');
  assert.equal(a.authzid, null);
  assert.equal(a.complete, true);
  assert.deepEqual(a.anomalies, []);

  // SMTP "AUTH PLAIN", "334 ", then the response on its own line.
  const x = new SaslExchange('plain');
  x.serverChallenge('');
  x.clientResponse(b64('Ursel\0Kurt\0xipj3plmq'));
  const b = x.result();
  assert.equal(b.mechanism, 'PLAIN');
  assert.equal(b.authzid, 'Ursel');
  assert.equal(b.username, 'Kurt');
  assert.equal(b.secret, 'xipj3plmq');
  assert.equal(b.complete, true);
  assert.equal(b.hashcat, null);
});

test('PLAIN: UTF-8 identities and passwords are decoded as UTF-8', () => {
  const r = new SaslExchange('PLAIN', b64('\0jürgen\0pässwörd€')).result();
  assert.equal(r.username, 'jürgen');
  assert.equal(r.secret, 'pässwörd€');
  assert.deepEqual(r.anomalies, []);
});

test('PLAIN: malformed messages give best-effort fields and sasl_malformed_plain', () => {
  const one = new SaslExchange('PLAIN', b64('bob\0hunter2')).result();
  assert.equal(one.username, 'bob');
  assert.equal(one.secret, 'hunter2');
  assert.equal(one.complete, false);
  assert.deepEqual(one.anomalies, ['sasl_malformed_plain']);

  const none = new SaslExchange('PLAIN', b64('just-a-password')).result();
  assert.equal(none.username, null);
  assert.equal(none.secret, null);
  assert.equal(none.detail['response'], 'just-a-password');
  assert.deepEqual(none.anomalies, ['sasl_malformed_plain']);

  const empty = new SaslExchange('PLAIN', '=').result();
  assert.deepEqual(empty.anomalies, ['sasl_malformed_plain']);

  const latin = new SaslExchange('PLAIN', b64(Uint8Array.from([0, 0x62, 0x6f, 0x62, 0, 0x70, 0xe4, 0x73, 0x73]))).result();
  assert.equal(latin.secret, 'päss');
  assert.deepEqual(latin.anomalies, ['sasl_non_utf8']);
});

test('cancel ("*") marks the exchange cancelled and not complete', () => {
  const x = new SaslExchange('PLAIN');
  x.serverChallenge('');
  x.clientResponse('*');
  const r = x.result();
  assert.equal(r.cancelled, true);
  assert.equal(r.complete, false);
  assert.equal(r.secret, null);
  x.clientResponse(b64('\0a\0b'));
  assert.deepEqual(x.result().anomalies, ['sasl_unexpected_step']);
  assert.equal(x.result().secret, null);
});

// ---------------------------------------------------------------- LOGIN

test('LOGIN: prompts, username then password', () => {
  const x = new SaslExchange('LOGIN');
  x.serverChallenge('VXNlcm5hbWU6');
  x.clientResponse('YWxpY2U=');
  assert.equal(x.result().complete, false);
  x.serverChallenge('UGFzc3dvcmQ6');
  x.clientResponse('U3VtbWVyMjAyNCE=');
  const r = x.result();
  assert.equal(r.username, 'alice');
  assert.equal(r.secret, 'Summer2024!');
  assert.equal(r.complete, true);
  assert.equal(r.detail['prompts'], 'Username:|Password:');
  assert.deepEqual(r.anomalies, []);
});

test('LOGIN: username as initial response, then the password prompt', () => {
  const x = new SaslExchange('LOGIN', 'YWxpY2U=');
  x.serverChallenge('UGFzc3dvcmQ6');
  x.clientResponse('U3VtbWVyMjAyNCE=');
  const r = x.result();
  assert.equal(r.username, 'alice');
  assert.equal(r.secret, 'Summer2024!');
  assert.equal(r.complete, true);
});

test('LOGIN: odd or missing prompts fall back to order', () => {
  const x = new SaslExchange('LOGIN');
  x.serverChallenge('Z28gYWhlYWQ='); // "go ahead"
  x.clientResponse(b64('carol'));
  x.serverChallenge('not base64 at all!');
  x.clientResponse(b64('C4rol#Secret'));
  const r = x.result();
  assert.equal(r.username, 'carol');
  assert.equal(r.secret, 'C4rol#Secret');
  assert.equal(r.complete, true);
  assert.deepEqual(r.anomalies, ['sasl_login_odd_prompt']);

  const y = new SaslExchange('LOGIN');
  y.clientResponse(b64('dave'));
  y.clientResponse(b64('pw'));
  y.clientResponse(b64('extra'));
  assert.equal(y.result().secret, 'pw');
  assert.deepEqual(y.result().anomalies, ['sasl_unexpected_step']);

  // Lower-case prompts (some servers) still work.
  const z = new SaslExchange('LOGIN');
  z.serverChallenge(b64('password:'));
  z.clientResponse(b64('only-a-password'));
  assert.equal(z.result().secret, 'only-a-password');
  assert.equal(z.result().username, null);
});

test('LOGIN: bad base64 from the client is flagged and does not become a secret', () => {
  const x = new SaslExchange('LOGIN');
  x.serverChallenge('VXNlcm5hbWU6');
  x.clientResponse('YWxpY2U='); // alice
  x.serverChallenge('UGFzc3dvcmQ6');
  x.clientResponse('!!!not-base64!!!');
  const r = x.result();
  assert.equal(r.secret, null);
  assert.equal(r.complete, false);
  assert.deepEqual(r.anomalies, ['sasl_bad_base64']);
  // Unpadded base64 is still read, with a note.
  const y = new SaslExchange('LOGIN', 'YWxpY2U');
  assert.equal(y.result().username, 'alice');
  assert.deepEqual(y.result().anomalies, ['sasl_base64_noncanonical']);
});

// ---------------------------------------------------------------- CRAM-MD5

/** Checks a mode 10200 line the way hashcat does: HMAC-MD5(key = password, challenge) = digest. */
function verifyCramLine(line: string, password: string): { user: string; ok: boolean } {
  const m = /^\$cram_md5\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(line);
  assert.ok(m, `not a $cram_md5$ line: ${line}`);
  const challenge = Buffer.from(m[1]!, 'base64');
  const resp = Buffer.from(m[2]!, 'base64').toString('latin1');
  const sp = resp.lastIndexOf(' ');
  const digest = resp.slice(sp + 1);
  return { user: resp.slice(0, sp), ok: createHmac('md5', password).update(challenge).digest('hex') === digest };
}

test('CRAM-MD5: RFC 2195 example gives a crackable hashcat 10200 line', () => {
  const x = new SaslExchange('CRAM-MD5');
  x.serverChallenge('PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+');
  x.clientResponse('dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw');
  const r = x.result();
  assert.equal(r.username, 'tim');
  assert.equal(r.secret, null);
  assert.equal(r.detail['challenge'], '<1896.697170952@postoffice.reston.mci.net>');
  assert.equal(r.detail['response'], 'tim b913a602c7eda7a495b4e6e7334d3890');
  assert.equal(r.complete, true);
  assert.ok(r.hashcat);
  assert.equal(r.hashcat.mode, 10200);
  assert.equal(r.hashcat.line,
    '$cram_md5$PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+$dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw');
  assert.deepEqual(verifyCramLine(r.hashcat.line, 'tanstaaftanstaaf'), { user: 'tim', ok: true });
  assert.equal(verifyCramLine(r.hashcat.line, 'tanstaaf').ok, false);
});

test('CRAM-MD5: reproduces hashcat\'s own mode 10200 self-test hash (password "hashcat")', () => {
  // ST_HASH of hashcat src/modules/module_10200.c.
  const expected = '$cram_md5$MTI=$dXNlciBiOGYwNjk5MTE0YjA1Nzg4OTIyM2RmMDg0ZjgyMjQ2Zg==';
  const x = new SaslExchange('CRAM-MD5');
  x.serverChallenge('MTI=');
  x.clientResponse('dXNlciBiOGYwNjk5MTE0YjA1Nzg4OTIyM2RmMDg0ZjgyMjQ2Zg==');
  assert.equal(x.result().hashcat?.line, expected);
  assert.equal(verifyCramLine(expected, 'hashcat').ok, true);
});

test('CRAM-MD5: malformed response and missing challenge give no hashcat line', () => {
  const x = new SaslExchange('CRAM-MD5');
  x.serverChallenge(b64('<1.2@host>'));
  x.clientResponse(b64('tim not-a-digest'));
  assert.equal(x.result().hashcat, null);
  assert.equal(x.result().username, 'tim');
  assert.deepEqual(x.result().anomalies, ['sasl_malformed_cram_md5']);

  const y = new SaslExchange('CRAM-MD5');
  y.serverChallenge('@@@');
  y.clientResponse(b64('tim b913a602c7eda7a495b4e6e7334d3890'));
  assert.equal(y.result().hashcat, null);
  assert.equal(y.result().complete, false);
  assert.deepEqual(y.result().anomalies, ['sasl_bad_base64']);
});

// ---------------------------------------------------------------- DIGEST-MD5

/** RFC 2831 section 2.1.2.1 response-value, computed from the password. */
function digestResponse(d: Record<string, string>, password: string): string {
  const md5raw = (s: Buffer): Buffer => createHash('md5').update(s).digest();
  const x = md5raw(Buffer.from(`${d['username']}:${d['realm']}:${password}`, 'latin1'));
  let a1 = Buffer.concat([x, Buffer.from(`:${d['nonce']}:${d['cnonce']}`, 'latin1')]);
  if (d['authzid']) a1 = Buffer.concat([a1, Buffer.from(`:${d['authzid']}`)]);
  const qop = d['qop'] ?? 'auth';
  const a2 = `AUTHENTICATE:${d['digest-uri']}${qop === 'auth' ? '' : ':00000000000000000000000000000000'}`;
  return md5hex(`${md5raw(a1).toString('hex')}:${d['nonce']}:${d['nc']}:${d['cnonce']}:${qop}:${md5hex(a2)}`);
}

test('DIGEST-MD5: RFC 2831 section 4 IMAP example', () => {
  const x = new SaslExchange('DIGEST-MD5');
  x.serverChallenge(b64('realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8'));
  x.clientResponse(b64('charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth'));
  x.serverChallenge(b64('rspauth=ea40f60335c427b5527b84dbabcdfffd'));
  x.clientResponse('');
  const r = x.result();
  assert.equal(r.username, 'chris');
  assert.equal(r.complete, true);
  assert.equal(r.hashcat, null);
  assert.equal(r.detail['realm'], 'elwood.innosoft.com');
  assert.equal(r.detail['nonce'], 'OA6MG9tEQGm2hh');
  assert.equal(r.detail['cnonce'], 'OA6MHXh6VqTrRk');
  assert.equal(r.detail['nc'], '00000001');
  assert.equal(r.detail['qop'], 'auth');
  assert.equal(r.detail['digest-uri'], 'imap/elwood.innosoft.com');
  assert.equal(r.detail['response'], 'd388dad90d4bbd760a152321f2143af7');
  assert.equal(r.detail['rspauth'], 'ea40f60335c427b5527b84dbabcdfffd');
  assert.deepEqual(r.anomalies, []);
  // John the Ripper dmd5 test vector for this example (DMD5_fmt_plug.c), password "secret".
  assert.equal(r.detail['john'],
    '$DIGEST-MD5$chris$elwood.innosoft.com$OA6MG9tEQGm2hh$imap/elwood.innosoft.com$OA6MHXh6VqTrRk$00000001$auth$d388dad90d4bbd760a152321f2143af7');
  // The kept fields are enough to verify a password guess.
  assert.equal(digestResponse(r.detail, 'secret'), r.detail['response']);
  assert.notEqual(digestResponse(r.detail, 'Secret'), r.detail['response']);
});

test('DIGEST-MD5: quoted-string escapes, LWS, authzid, malformed input', () => {
  const x = new SaslExchange('DIGEST-MD5');
  x.serverChallenge(b64('nonce="abc", realm="r\\"q"'));
  x.clientResponse(b64('username = "a\\\\b" , realm="r\\"q",nonce="abc",cnonce="c",nc=00000001,qop=auth,digest-uri="smtp/h",response=0123456789abcdef0123456789abcdef,authzid="boss"'));
  const r = x.result();
  assert.equal(r.username, 'a\\b');
  assert.equal(r.authzid, 'boss');
  assert.equal(r.detail['realm'], 'r"q');
  assert.ok(r.detail['john']?.endsWith('$0123456789abcdef0123456789abcdef$boss'));

  const y = new SaslExchange('DIGEST-MD5');
  y.serverChallenge(b64('garbage without equals'));
  y.clientResponse(b64('username="x'));
  assert.ok(y.result().anomalies.includes('sasl_malformed_digest_md5'));
  assert.equal(y.result().complete, false);
  assert.equal(y.result().detail['john'], undefined);
});

// ---------------------------------------------------------------- XOAUTH2 / OAUTHBEARER

test('XOAUTH2: Google\'s documented example and error challenge', () => {
  const initial = 'dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==';
  assert.equal(initial, b64('user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01'));
  const x = new SaslExchange('XOAUTH2', initial);
  x.serverChallenge('eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==');
  x.clientResponse('');
  const r = x.result();
  assert.equal(r.username, 'someuser@example.com');
  assert.equal(r.secret, 'ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg');
  assert.equal(r.detail['auth_scheme'], 'Bearer');
  assert.deepEqual(JSON.parse(r.detail['oauth_error']!), { status: '401', schemes: 'Bearer', scope: 'https://mail.google.com/' });
  assert.equal(r.complete, true);
  assert.deepEqual(r.anomalies, []);

  const bad = new SaslExchange('XOAUTH2', b64('token-only')).result();
  assert.deepEqual(bad.anomalies, ['sasl_malformed_xoauth2']);
  assert.equal(bad.complete, false);
});

test('OAUTHBEARER: RFC 7628 section 4.1 success and 4.3 failure examples', () => {
  const text = 'n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01';
  const x = new SaslExchange('OAUTHBEARER', b64(text));
  const r = x.result();
  assert.equal(r.username, 'user@example.com');
  assert.equal(r.secret, 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==');
  assert.equal(r.detail['host'], 'server.example.com');
  assert.equal(r.detail['port'], '143');
  assert.equal(r.detail['gs2_cb_flag'], 'n');
  assert.equal(r.complete, true);
  assert.deepEqual(r.anomalies, []);

  const y = new SaslExchange('OAUTHBEARER');
  y.serverChallenge('');
  y.clientResponse(b64('n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01'));
  y.serverChallenge('eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=');
  y.clientResponse('AQ==');
  const f = y.result();
  assert.equal(JSON.parse(f.detail['oauth_error']!).status, 'invalid_token');
  assert.deepEqual(f.anomalies, []);

  const esc = new SaslExchange('OAUTHBEARER', b64('n,a=we=2Cird=3Dname,\x01auth=Bearer t\x01\x01')).result();
  assert.equal(esc.username, 'we,ird=name');

  const bad = new SaslExchange('OAUTHBEARER', b64('n,a=x\x01nothing')).result();
  assert.deepEqual(bad.anomalies, ['sasl_malformed_oauthbearer']);
});

// ---------------------------------------------------------------- SCRAM

/** RFC 5802 section 3: ClientProof = ClientKey XOR HMAC(H(ClientKey), AuthMessage). */
function scramProof(hash: 'sha1' | 'sha256', password: string, salt: string, iterations: number, authMessage: string): string {
  const len = hash === 'sha1' ? 20 : 32;
  const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, len, hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const sig = createHmac(hash, storedKey).update(authMessage).digest();
  return Buffer.from(clientKey.map((b, i) => b ^ sig[i]!)).toString('base64');
}

test('SCRAM-SHA-1: RFC 5802 section 5 example; kept fields verify the password', () => {
  const x = new SaslExchange('SCRAM-SHA-1', b64('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
  x.serverChallenge(b64('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'));
  x.clientResponse(b64('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='));
  x.serverChallenge(b64('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='));
  const r = x.result();
  assert.equal(r.username, 'user');
  assert.equal(r.detail['scram_salt'], 'QSXCR+Q6sek8bf92');
  assert.equal(r.detail['scram_iterations'], '4096');
  assert.equal(r.detail['scram_proof'], 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
  assert.equal(r.detail['scram_server_signature'], 'rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  assert.equal(r.complete, true);
  assert.deepEqual(r.anomalies, []);
  const proof = scramProof('sha1', 'pencil', r.detail['scram_salt']!, 4096, r.detail['scram_auth_message']!);
  assert.equal(proof, r.detail['scram_proof']);
});

test('SCRAM-SHA-256: RFC 7677 section 3 example', () => {
  const x = new SaslExchange('SCRAM-SHA-256');
  x.serverChallenge('');
  x.clientResponse(b64('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  x.serverChallenge(b64('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
  x.clientResponse(b64('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
  const r = x.result();
  assert.equal(r.username, 'user');
  assert.equal(r.complete, true);
  assert.equal(scramProof('sha256', 'pencil', r.detail['scram_salt']!, 4096, r.detail['scram_auth_message']!), r.detail['scram_proof']);
});

test('SCRAM: authzid and escaped names; out-of-order messages flagged', () => {
  const r = new SaslExchange('SCRAM-SHA-256-PLUS', b64('p=tls-exporter,a=ad=3Dmin,n=a=2Cb,r=abc')).result();
  assert.equal(r.authzid, 'ad=min');
  assert.equal(r.username, 'a,b');
  const y = new SaslExchange('SCRAM-SHA-1', b64('n,,n=u,r=x'));
  y.clientResponse(b64('c=biws,r=xy,p=AAAA'));
  assert.deepEqual(y.result().anomalies, ['sasl_malformed_scram']);
});

// ---------------------------------------------------------------- ANONYMOUS / EXTERNAL / GSSAPI / unknown

test('ANONYMOUS keeps the trace; EXTERNAL keeps the authzid', () => {
  const a = new SaslExchange('ANONYMOUS', b64('sirhc')).result();
  assert.equal(a.detail['trace'], 'sirhc');
  assert.equal(a.username, null);
  assert.equal(a.complete, true);

  const e = new SaslExchange('EXTERNAL', '=').result();
  assert.equal(e.authzid, null);
  assert.equal(e.complete, true);
  const e2 = new SaslExchange('EXTERNAL');
  e2.serverChallenge('');
  e2.clientResponse(b64('postmaster'));
  assert.equal(e2.result().authzid, 'postmaster');
});

test('GSSAPI: the Kerberos OID of the first context token is shown', () => {
  // InitialContextToken: [APPLICATION 0] { OID 1.2.840.113554.1.2.2, innerToken }
  const token = Buffer.from('601306092a864886f71201020201006e0430020500', 'hex');
  const x = new SaslExchange('GSSAPI', token.toString('base64'));
  x.serverChallenge(b64('ap-rep'));
  x.clientResponse('');
  x.serverChallenge(b64('layers'));
  x.clientResponse(b64('layers'));
  const r = x.result();
  assert.equal(r.detail['gssapi_oid'], '1.2.840.113554.1.2.2');
  assert.equal(r.detail['gssapi_mech'], 'kerberos5');
  assert.equal(r.detail['gssapi_client_tokens'], '3');
  assert.equal(r.complete, true);
  assert.equal(r.username, null);
});

test('unknown mechanism: raw steps kept, no crash', () => {
  const x = new SaslExchange('X-FANCY-AUTH', 'Zm9v');
  x.serverChallenge('YmFy');
  x.clientResponse('not*base64');
  const r = x.result();
  assert.equal(r.mechanism, 'X-FANCY-AUTH');
  assert.equal(r.detail['client_1'], 'Zm9v');
  assert.equal(r.detail['server_1'], 'YmFy');
  assert.equal(r.detail['client_2'], 'not*base64');
  assert.equal(r.complete, false);
  assert.deepEqual(r.anomalies, ['sasl_unknown_mechanism', 'sasl_bad_base64']);
});

// ---------------------------------------------------------------- limits and hostile input

test('oversized steps are cut at SASL_MAX_LINE_CHARS; step count is bounded', () => {
  const huge = 'QUFB'.repeat(SASL_MAX_LINE_CHARS); // 4x the cap
  const x = new SaslExchange('XOAUTH2', huge);
  const r = x.result();
  assert.ok(r.anomalies.includes('sasl_line_too_long'));
  for (const v of Object.values(r.detail)) assert.ok(v.length <= SASL_MAX_LINE_CHARS);

  const y = new SaslExchange('X-UNKNOWN');
  for (let i = 0; i < SASL_MAX_STEPS * 3; i++) y.clientResponse('Zm9v');
  const ry = y.result();
  assert.ok(ry.anomalies.includes('sasl_too_many_steps'));
  assert.ok(Object.keys(ry.detail).length <= 16);
});

const MECHS = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'DIGEST-MD5', 'XOAUTH2', 'OAUTHBEARER', 'NTLM', 'ANONYMOUS', 'EXTERNAL', 'GSSAPI', 'SCRAM-SHA-1', 'X-OTHER'];

test('property: no mechanism throws on arbitrary steps, and codes are catalogued', () => {
  const codes = new Set(SASL_ANOMALIES.map((a) => a.code));
  const step = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.from(u).toString('base64')),
    fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.concat([Buffer.from('NTLMSSP\0'), Buffer.from(u)]).toString('base64')),
  );
  fc.assert(
    fc.property(fc.constantFrom(...MECHS), fc.option(step, { nil: undefined }), fc.array(fc.tuple(fc.boolean(), step), { maxLength: 8 }), (mech, ir, steps) => {
      const x = new SaslExchange(mech, ir);
      for (const [server, s] of steps) {
        if (server) x.serverChallenge(s);
        else x.clientResponse(s);
      }
      const r = x.result();
      for (const c of r.anomalies) assert.ok(codes.has(c), `uncatalogued ${c}`);
      assert.ok(!r.anomalies.includes('sasl_internal_error'));
      JSON.stringify(r);
    }),
    { numRuns: 1500 },
  );
});

test('anomaly catalog: unique sasl_ codes with descriptions', () => {
  const seen = new Set<string>();
  for (const a of SASL_ANOMALIES) {
    assert.match(a.code, /^sasl_[a-z0-9_]+$/);
    assert.ok(!seen.has(a.code));
    seen.add(a.code);
    assert.ok(a.description.length > 10);
  }
});

// ---------------------------------------------------------------- base64 / latin1 / APOP helpers

test('decodeBase64Strict agrees with Node for canonical base64 and rejects the rest', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (u) => {
    const dec = decodeBase64Strict(Buffer.from(u).toString('base64'));
    assert.ok(dec);
    assert.deepEqual(Buffer.from(dec), Buffer.from(u));
  }), { numRuns: 500 });
  assert.deepEqual(decodeBase64Strict(''), new Uint8Array(0));
  for (const bad of ['YWxpY2U', 'YW=xpY2U', 'YWxp Y2U=', 'YWxpY2U===', '****', 'YQ', 'Y===', 'YWxpY2\u0141=']) {
    assert.equal(decodeBase64Strict(bad), null, bad);
  }
});

test('decodeLatin1 maps every byte to its code point', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(decodeLatin1(all), Buffer.from(all).toString('latin1'));
  assert.equal(decodeLatin1(new Uint8Array(100_000).fill(0x41)).length, 100_000);
});

test('apopHashcat: RFC 1939 example is a crackable mode 20 line', () => {
  const ts = '<1896.697170952@dbc.mtview.ca.us>';
  const r = apopHashcat(ts, 'mrose', 'c4c9334bac560ecc979e58001b3e22fb');
  assert.deepEqual(r, { mode: 20, line: 'c4c9334bac560ecc979e58001b3e22fb:<1896.697170952@dbc.mtview.ca.us>' });
  // mode 20 = md5($salt.$pass): recompute from the line.
  const [digest, salt] = [r!.line.slice(0, 32), r!.line.slice(33)];
  assert.equal(md5hex(salt + 'tanstaaf'), digest);
  assert.equal(apopHashcat(ts, 'mrose', 'C4C9334BAC560ECC979E58001B3E22FB')?.line.slice(0, 32), digest);
  assert.equal(apopHashcat(ts, 'mrose', 'zz'), null);
  assert.equal(apopHashcat('', 'mrose', digest), null);
});
