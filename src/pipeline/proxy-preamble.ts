/**
 * Proxy handshakes that can precede a mail protocol inside one TCP connection: SOCKS5
 * (RFC 1928, with RFC 1929 username/password), SOCKS4/4a, and HTTP CONNECT (RFC 9110 §9.3.6).
 * tshark follows SOCKS and Zeek follows CONNECT; so do we: the protocol is sniffed after the
 * handshake and the handshake bytes are skipped.
 */
export interface ProxyPreamble {
  kind: 'SOCKS5' | 'SOCKS4' | 'HTTP CONNECT';
  /** Bytes of the handshake on each side. */
  client: number;
  server: number;
  /** Target and (SOCKS5 user/pass) user, for the anomaly detail. */
  detail: string;
}

type Verdict = ProxyPreamble | 'maybe' | null;

const MORE = 'maybe' as const;

/** Looks for a complete proxy handshake at the start of both sides. */
export function proxyPreambleLength(c: Uint8Array, s: Uint8Array): Verdict {
  if (c.length === 0) return s.length === 0 ? MORE : null;
  if (c[0] === 0x05) return socks5(c, s);
  if (c[0] === 0x04) return socks4(c, s);
  if (c[0] === 0x43 /* C */) return httpConnect(c, s);
  return null;
}

function socks5(c: Uint8Array, s: Uint8Array): Verdict {
  if (c.length < 2) return MORE;
  const nMethods = c[1];
  if (nMethods === 0 || nMethods > 16) return null;
  let co = 2 + nMethods;
  if (s.length < 2) return c.length >= co ? MORE : c.length < co ? MORE : null;
  if (s[0] !== 0x05) return null;
  const method = s[1];
  let so = 2;
  let user = '';
  if (method === 0x02) {
    // RFC 1929: VER(1) ULEN UNAME PLEN PASSWD / VER STATUS
    if (c.length < co + 2) return MORE;
    if (c[co] !== 0x01) return null;
    const ulen = c[co + 1];
    if (c.length < co + 2 + ulen + 1) return MORE;
    user = Buffer.from(c.subarray(co + 2, co + 2 + ulen)).toString('latin1');
    const plen = c[co + 2 + ulen];
    co += 3 + ulen + plen;
    if (s.length < so + 2) return MORE;
    so += 2;
  } else if (method !== 0x00) {
    return null;
  }
  // Request: VER CMD RSV ATYP DST.ADDR DST.PORT
  const req = addrEnd(c, co);
  if (req === MORE || req === null) return req;
  const rep = addrEnd(s, so);
  if (rep === MORE || rep === null) return rep;
  if (s[so + 1] !== 0x00) return null; // the proxy refused: no tunnel
  return { kind: 'SOCKS5', client: req.end, server: rep.end, detail: `to ${req.target}${user ? `, proxy user ${user}` : ''}` };
}

function addrEnd(b: Uint8Array, o: number): { end: number; target: string } | 'maybe' | null {
  if (b.length < o + 5) return MORE;
  if (b[o] !== 0x05 || b[o + 2] !== 0x00) return null;
  const atyp = b[o + 3];
  let alen: number;
  let target: string;
  if (atyp === 0x01) alen = 4;
  else if (atyp === 0x04) alen = 16;
  else if (atyp === 0x03) alen = 1 + b[o + 4];
  else return null;
  const end = o + 4 + alen + 2;
  if (b.length < end) return MORE;
  const a = b.subarray(o + 4, o + 4 + alen);
  if (atyp === 0x01) target = Array.from(a).join('.');
  else if (atyp === 0x03) target = Buffer.from(a.subarray(1)).toString('latin1');
  else target = Buffer.from(a).toString('hex');
  const port = (b[end - 2] << 8) | b[end - 1];
  return { end, target: `${target}:${port}` };
}

function socks4(c: Uint8Array, s: Uint8Array): Verdict {
  // VN(4) CD(1) DSTPORT(2) DSTIP(4) USERID NUL [HOST NUL for 4a]
  if (c.length < 9) return MORE;
  if (c[1] !== 0x01) return null;
  let end = c.indexOf(0, 8);
  if (end < 0) return c.length > 300 ? null : MORE;
  const is4a = c[4] === 0 && c[5] === 0 && c[6] === 0 && c[7] !== 0;
  if (is4a) {
    const h = c.indexOf(0, end + 1);
    if (h < 0) return c.length > 600 ? null : MORE;
    end = h;
  }
  if (s.length < 8) return MORE;
  if (s[0] !== 0x00 || s[1] !== 0x5a) return null;
  const port = (c[2] << 8) | c[3];
  return { kind: 'SOCKS4', client: end + 1, server: 8, detail: `to ${Array.from(c.subarray(4, 8)).join('.')}:${port}` };
}

const CONNECT = Buffer.from('CONNECT ');
const HEAD_END = Buffer.from('\r\n\r\n');

function httpConnect(c: Uint8Array, s: Uint8Array): Verdict {
  const cb = Buffer.from(c.buffer, c.byteOffset, c.length);
  if (cb.length < CONNECT.length) return CONNECT.subarray(0, cb.length).equals(cb) ? MORE : null;
  if (!cb.subarray(0, CONNECT.length).equals(CONNECT)) return null;
  const ce = cb.indexOf(HEAD_END);
  if (ce < 0) return cb.length > 8192 ? null : MORE;
  const sb = Buffer.from(s.buffer, s.byteOffset, s.length);
  const se = sb.indexOf(HEAD_END);
  if (se < 0) return sb.length > 8192 ? null : MORE;
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(sb.subarray(0, Math.min(se, 64)).toString('latin1'));
  if (!status || status[1][0] !== '2') return null;
  const target = cb.subarray(CONNECT.length, cb.indexOf(0x20, CONNECT.length)).toString('latin1');
  return { kind: 'HTTP CONNECT', client: ce + 4, server: se + 4, detail: `to ${target}` };
}
