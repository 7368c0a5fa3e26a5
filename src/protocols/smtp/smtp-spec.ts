import type { AnalyzerContext, ProtocolAnalyzer, ProtocolSpec } from '../analyzer.js';
import { sniffHeadVerb, upperAscii } from '../sniff-head.js';
import { SmtpAnalyzer } from './smtp-analyzer.js';

const HELLO_VERBS = ['EHLO', 'HELO', 'LHLO'];

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

/**
 * Server side: 'yes' for `220` + space/hyphen (RFC 5321 §4.2 greeting, or a 554/421 refusal naming
 * SMTP); 'maybe' for another well-formed reply (mid-stream); 'no' for anything else
 * (POP3 `+OK`, IMAP `* OK`, HTTP, binary).
 */
function sniffServer(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  const n = Math.min(b.length, 4);
  for (let i = 0; i < n; i++) {
    if (i < 3 ? !isDigit(b[i]) : b[i] !== 0x20 && b[i] !== 0x2d && b[i] !== 0x0d && b[i] !== 0x0a) return 'no';
  }
  if (b[0] < 0x32 || b[0] > 0x35) return 'no';
  if (b.length < 4) return 'maybe';
  if (b[0] === 0x32 && b[1] === 0x32 && b[2] === 0x30 && (b[3] === 0x20 || b[3] === 0x2d)) return 'yes';
  const head = upperAscii(b, Math.min(b.length, 200));
  if (/^(554|421)[ -][^\r\n]*SMTP/.test(head)) return 'yes';
  return 'maybe';
}

const OTHER_CLIENT = /^(GET|POST|HEAD|PUT|OPTIONS|CONNECT|SSH-|[A-Z0-9]+ (LOGIN|CAPABILITY|AUTHENTICATE|STARTTLS)|USER |CAPA|STLS|APOP )/;

/** Client side: 'yes' for EHLO/HELO/LHLO + space or EOL; 'no' when clearly another protocol. */
function sniffClient(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  if (b[0] === 0x16 || b[0] < 0x09) return 'no'; // TLS ClientHello, binary
  const head = upperAscii(b, Math.min(b.length, 64));
  const hello = sniffHeadVerb(head, HELLO_VERBS);
  if (hello !== 'no') return hello;
  return OTHER_CLIENT.test(head) ? 'no' : 'maybe';
}

/** How SMTP is recognised (ports, content) and created. */
export const SMTP_SPEC: ProtocolSpec = {
  name: 'smtp',
  ports: [25, 587, 2525],
  tlsPorts: [465],
  sniff(client: Uint8Array, server: Uint8Array): 'yes' | 'no' | 'maybe' {
    const s = sniffServer(server);
    if (s !== 'maybe') return s;
    const c = sniffClient(client);
    if (c !== 'maybe') return c;
    return 'maybe';
  },
  create(ctx: AnalyzerContext): ProtocolAnalyzer {
    return new SmtpAnalyzer(ctx);
  },
};
