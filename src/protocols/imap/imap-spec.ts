import type { AnalyzerContext, ProtocolAnalyzer, ProtocolSpec } from '../analyzer.js';
import { upperAscii } from '../sniff-head.js';
import { ImapAnalyzer } from './imap-analyzer.js';

/** RFC 3501 §7.1: the greeting is `* OK`, `* PREAUTH` or `* BYE`. */
function sniffServer(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  const head = upperAscii(b, 12);
  for (const g of ['* OK', '* PREAUTH', '* BYE']) {
    if (head.length < g.length) {
      if (g.startsWith(head)) return 'maybe';
    } else if (head.startsWith(g)) {
      const next = head[g.length];
      return next === undefined || next === ' ' || next === '\r' || next === '\n' ? 'yes' : 'no';
    }
  }
  // Mid-stream: another untagged response or a tagged completion.
  if (/^\* [0-9]+ (EXISTS|RECENT|EXPUNGE|FETCH)/.test(head) || /^\* (CAPABILITY|LIST|FLAGS|SEARCH)/.test(head)) return 'yes';
  return 'no';
}

const CLIENT_RE =
  /^[A-Z0-9.\-_]{1,20} (CAPABILITY|LOGIN|AUTHENTICATE|STARTTLS|ID|NOOP|SELECT|EXAMINE|LIST|LSUB|FETCH|UID|LOGOUT|STATUS|APPEND|ENABLE|NAMESPACE|IDLE|COMPRESS)( |\r|\n|$)/;

/** Client side: `<tag> CAPABILITY|LOGIN|...` (RFC 3501 §2.2.1 tagged command). */
function sniffClient(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  if (b[0] === 0x16 || b[0]! < 0x09) return 'no';
  const head = upperAscii(b, 40);
  if (CLIENT_RE.test(head)) return 'yes';
  const nl = head.indexOf('\n');
  return nl >= 0 || head.length >= 40 ? 'no' : 'maybe';
}

/** How IMAP is recognised (ports 143 / 993, content) and created. */
export const IMAP_SPEC: ProtocolSpec = {
  name: 'imap',
  ports: [143],
  tlsPorts: [993],
  sniff(client: Uint8Array, server: Uint8Array): 'yes' | 'no' | 'maybe' {
    const s = sniffServer(server);
    const c = sniffClient(client);
    if (s === 'yes' || c === 'yes') return 'yes';
    if (s === 'no' && (c === 'no' || client.length === 0)) return 'no';
    if (c === 'no' && server.length === 0) return 'no';
    return 'maybe';
  },
  create(ctx: AnalyzerContext): ProtocolAnalyzer {
    return new ImapAnalyzer(ctx);
  },
};
