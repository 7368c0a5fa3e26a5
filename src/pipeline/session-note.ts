import type { SessionRecord } from '../core/records.js';
import type { Pop3SessionFacts } from '../protocols/pop3/pop3-facts.js';
import type { ImapSessionFacts } from '../protocols/imap/imap-facts.js';
import type { SieveSessionFacts } from '../protocols/sieve/sieve-facts.js';

type AuthFact = { mechanism: string; username: string | null; outcome: string };

function auths(list: AuthFact[] | undefined): string[] {
  return (list ?? []).map((a) => `AUTH ${a.mechanism} ${a.username ?? '?'} ${a.outcome}`);
}

/** One line a person can read: what happened in the session (terminal summary, summary.json). */
export function sessionNote(rec: SessionRecord): string {
  const parts: string[] = [];
  const tls = rec.tls as { decryption?: string; sni?: string | null; version?: string | null } | undefined;
  if (rec.smtp) {
    const smtp = rec.smtp;
    if (smtp.helo) parts.push(`${smtp.helo_command ?? 'HELO'} ${smtp.helo}`);
    parts.push(...auths(smtp.auth));
    parts.push(`${smtp.transactions.length} transaction(s)`);
    if (smtp.vrfy.length) parts.push(`${smtp.vrfy.length} VRFY`);
    if (smtp.expn.length) parts.push(`${smtp.expn.length} EXPN`);
  }
  const pop3 = rec.pop3 as Pop3SessionFacts | undefined;
  if (pop3) {
    parts.push(...auths(pop3.auth));
    if (pop3.stat) parts.push(`STAT ${pop3.stat.count} msgs`);
    if (pop3.retrieved.length) parts.push(`${pop3.retrieved.length} retrieved`);
    if (pop3.deleted.length) parts.push(`${pop3.deleted.length} deleted (${pop3.deletion})`);
  }
  const imap = rec.imap as ImapSessionFacts | undefined;
  if (imap) {
    if (imap.client_id?.name) parts.push(`ID ${imap.client_id.name}${imap.client_id.version ? ` ${imap.client_id.version}` : ''}`);
    parts.push(...auths(imap.auth));
    if (imap.mailboxes_selected.length) parts.push(`selected ${[...new Set(imap.mailboxes_selected.map((m) => m.mailbox))].join(', ')}`);
    if (imap.messages_fetched_whole) parts.push(`${imap.messages_fetched_whole} fetched`);
    if (imap.messages_appended) parts.push(`${imap.messages_appended} appended`);
    if (imap.messages_expunged) parts.push(`${imap.messages_expunged} expunged`);
    if (imap.messages_moved) parts.push(`${imap.messages_moved} moved`);
  }
  const sieve = rec.sieve as SieveSessionFacts | undefined;
  if (sieve) {
    parts.push(...auths(sieve.auth));
    for (const s of sieve.scripts_uploaded) parts.push(`PUTSCRIPT ${s.name ?? '?'} ${s.outcome}`);
    if (sieve.active_script) parts.push(`active ${sieve.active_script}`);
  }
  if (rec.transport === 'starttls') parts.push(`STARTTLS${tls?.decryption === 'decrypted' ? ' (decrypted)' : ', rest encrypted'}`);
  if (rec.transport === 'tls') {
    parts.unshift(`implicit TLS${tls?.sni ? ` (SNI ${tls.sni})` : ''}, ${tls?.decryption === 'decrypted' ? 'decrypted' : 'encrypted, no key'}`);
  }
  return parts.join('; ');
}
