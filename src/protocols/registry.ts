import type { ProtocolSpec } from './analyzer.js';
import { SMTP_SPEC } from './smtp/smtp-spec.js';
import { SIEVE_SPEC } from './sieve/sieve-spec.js';
import { POP3_SPEC } from './pop3/pop3-spec.js';
import { IMAP_SPEC } from './imap/imap-spec.js';

/** Every protocol analyzer, in the order content sniffing tries them. */
export const PROTOCOLS: readonly ProtocolSpec[] = [SMTP_SPEC, SIEVE_SPEC, POP3_SPEC, IMAP_SPEC];

/** Ports whose owner is the server when no handshake was seen (mail ports first). */
export function serverPorts(): Set<number> {
  const s = new Set<number>([80, 443, 53, 8080]);
  for (const p of PROTOCOLS) for (const port of [...p.ports, ...p.tlsPorts]) s.add(port);
  return s;
}
