import type { AnalyzerContext, ProtocolAnalyzer, ProtocolSpec } from '../analyzer.js';
import { sniffHeadVerb, upperAscii } from '../sniff-head.js';
import { Pop3Analyzer } from './pop3-analyzer.js';

/** Client verbs that answer a POP3 greeting (RFC 1939 §4, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH). */
const FIRST_VERBS = ['USER', 'CAPA', 'AUTH', 'APOP', 'STLS'];

/**
 * Server side: 'maybe' for a "+OK" / "-ERR" greeting start (POP3, but Redis also answers "+OK"),
 * 'no' for anything else (SMTP "220", IMAP "* OK", Redis "+PONG", binary).
 */
function sniffServer(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  const head = upperAscii(b, Math.min(b.length, 5));
  for (const w of ['+OK', '-ERR']) {
    if (head.length < w.length) {
      if (!w.startsWith(head)) return 'no';
      return 'maybe';
    }
    if (head.startsWith(w)) {
      if (head.length === w.length) return 'maybe';
      const c = head.charCodeAt(w.length);
      return c === 0x20 || c === 0x0d || c === 0x0a ? 'maybe' : 'no';
    }
  }
  return 'no';
}

/** Client side: 'yes' for USER/CAPA/AUTH/APOP/STLS + space or EOL, 'maybe' for a prefix of one. */
function sniffClient(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  const head = upperAscii(b, Math.min(b.length, 5));
  return sniffHeadVerb(head, FIRST_VERBS);
}

/**
 * How POP3 is recognised: port 110 (995 implicit TLS), or by content on any port: a "+OK" (or
 * "-ERR") greeting answered by USER, CAPA, AUTH, APOP or STLS. Both are needed: a "+OK" alone is
 * also Redis, and USER alone is also FTP.
 */
export const POP3_SPEC: ProtocolSpec = {
  name: 'pop3',
  ports: [110],
  tlsPorts: [995],
  sniff(client: Uint8Array, server: Uint8Array): 'yes' | 'no' | 'maybe' {
    const s = sniffServer(server);
    if (s === 'no') return 'no';
    const c = sniffClient(client);
    if (c === 'no') return 'no';
    if (server.length === 0) return 'maybe';
    return c === 'yes' ? 'yes' : 'maybe';
  },
  create(ctx: AnalyzerContext): ProtocolAnalyzer {
    return new Pop3Analyzer(ctx);
  },
};
