import type { AnalyzerContext, ProtocolAnalyzer, ProtocolSpec } from '../analyzer.js';
import { SieveAnalyzer } from './sieve-analyzer.js';

/** Capability names a ManageSieve greeting starts with (RFC 5804 §1.7; Dovecot and Cyrus lead with one of these). */
const GREETING_CAPS = ['"IMPLEMENTATION"', '"SIEVE"', '"SASL"', '"STARTTLS"'];

const CLIENT_VERBS = /^(AUTHENTICATE "|PUTSCRIPT "|PUTSCRIPT \{|LISTSCRIPTS\r?\n|GETSCRIPT "|SETACTIVE "|HAVESPACE "|CHECKSCRIPT |DELETESCRIPT "|RENAMESCRIPT ")/i;

function ascii(b: Uint8Array, n: number): string {
  return Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, n)).toString('latin1');
}

/**
 * Server side: 'yes' when the greeting starts with a quoted capability name ("IMPLEMENTATION",
 * "SIEVE" ...); 'no' for another protocol's greeting (SMTP 220, POP3 +OK, IMAP * OK, TLS).
 */
function sniffServer(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  if (b[0] !== 0x22) return 'no';
  const head = ascii(b, 32).toUpperCase();
  for (const c of GREETING_CAPS) {
    if (head.length >= c.length ? head.startsWith(c) : c.startsWith(head)) return head.length >= c.length ? 'yes' : 'maybe';
  }
  return 'no';
}

/** Client side: 'yes' for a ManageSieve command with its quoted argument (RFC 5804 commands are untagged). */
function sniffClient(b: Uint8Array): 'yes' | 'no' | 'maybe' {
  if (b.length === 0) return 'maybe';
  if (b[0] === 0x16 || b[0] < 0x09) return 'no';
  const head = ascii(b, 64);
  if (CLIENT_VERBS.test(head)) return 'yes';
  return head.includes('\n') ? 'no' : 'maybe';
}

/** How ManageSieve (RFC 5804) is recognised (port 4190, greeting of quoted capabilities) and created. */
export const SIEVE_SPEC: ProtocolSpec = {
  name: 'sieve',
  ports: [4190],
  tlsPorts: [],
  sniff(client: Uint8Array, server: Uint8Array): 'yes' | 'no' | 'maybe' {
    const s = sniffServer(server);
    if (s !== 'maybe') return s;
    const c = sniffClient(client);
    return c;
  },
  create(ctx: AnalyzerContext): ProtocolAnalyzer {
    return new SieveAnalyzer(ctx);
  },
};
