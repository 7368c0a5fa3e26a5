import type { CaseSummary } from './case-summary.js';

/** Options for rendering. */
export interface RenderOptions {
  color: boolean;
  outDir: string | null;
  /** Rows shown per section before "... and N more". */
  maxRows?: number;
}

/** Renders the summary for people reading a terminal. Plain text; ANSI bold only when color is on. */
export function renderTerminalSummary(s: CaseSummary, o: RenderOptions): string {
  const b = (t: string): string => (o.color ? `\x1b[1m${t}\x1b[0m` : t);
  const warn = (t: string): string => (o.color ? `\x1b[33m${t}\x1b[0m` : t);
  const max = o.maxRows ?? 20;
  const out: string[] = [];
  const c = s.counts;
  const sessions = Object.entries(c.sessions)
    .map(([p, n]) => `${n} ${p.toUpperCase()} session${n === 1 ? '' : 's'}`)
    .join(', ') || 'no mail sessions';
  const lt = s.input.link_types.map((l) => l.name).join(', ') || 'no frames';
  out.push(b(`${s.tool.name} ${s.tool.version}: ${clean(s.input.path)}`));
  out.push(
    `  capture   ${s.input.format}${s.input.gzip ? ' (gzip)' : ''}, ${lt}, ${s.input.frames} frames, ` +
      `${s.input.first_ts ? `${short(s.input.first_ts)} to ${short(s.input.last_ts!)} UTC` : 'no timestamps'}`,
  );
  if (s.input.sha256) out.push(`  sha256    ${s.input.sha256}`);
  if (!s.input.complete) out.push(warn(`  DAMAGED   reading stopped at byte ${s.input.stopped_at_offset}; everything before it was analysed`));
  out.push(
    `  found     ${sessions}${c.sessions_encrypted ? ` (${c.sessions_encrypted} encrypted)` : ''}, ` +
      `${plural(c.messages, 'message')}${c.messages_partial ? ` (${c.messages_partial} partial${c.messages_excerpt ? `, ${c.messages_excerpt} of them excerpts` : ''})` : ''}, ` +
      `${plural(c.attachments, 'attachment')}, ${plural(c.credentials, 'credential')}, ${plural(c.anomalies, 'anomaly', 'anomalies')}`,
  );
  out.push(`  time      ${s.run.duration_seconds} s (${s.run.mib_per_second} MiB/s)`);

  section(out, b('Sessions'), s.sessions, max, c.connections, (x) =>
    `  ${pad(x.id, 14)} ${pad(x.protocol.toUpperCase(), 5)} ${pad(`${x.client} -> ${x.server}`, 44)} ${pad(x.transport, 9)} frames ${pad(x.frames, 11)} ${x.note}`,
  );
  section(out, b('Credentials'), s.credentials, max, c.credentials, (x) =>
    `  ${pad(`${x.protocol.toUpperCase()} ${x.mechanism}`, 18)} ${pad(x.username ?? '?', 24)} ${pad(x.secret === null ? '(not decodable)' : x.secret, 20)} ${pad(x.outcome, 8)} ${x.cleartext ? warn('CLEARTEXT') : 'encrypted'}  from ${x.client}  frame ${x.frame}`,
  );
  section(out, b('Messages'), s.messages, max, c.messages, (x) =>
    `  ${pad(x.id, 14)} ${pad(trunc(x.from, 30), 30)} -> ${pad(trunc(x.to, 30), 30)} "${trunc(x.subject, 40)}"  ${x.size} B${x.attachments ? `, ${plural(x.attachments, 'attachment')}` : ''}${x.excerpt ? ' EXCERPT' : x.partial ? warn(' PARTIAL') : ''}`,
  );
  section(out, b('Filter rules (ManageSieve)'), s.filter_rules, max, s.filter_rules.length, (x) =>
    `  ${pad(x.command, 11)} ${pad(x.name ?? '?', 20)} ${pad(x.active === true ? 'ACTIVE' : x.active === false ? 'inactive' : '', 8)} ${pad(x.username ?? '?', 16)} ${warn(trunc(x.actions || '(no actions)', 60))}  from ${x.client}  frame ${x.frame}`,
  );
  const events = Object.entries(s.mailbox_events);
  if (events.length) {
    out.push('');
    out.push(b('Mailbox activity (POP3/IMAP)'));
    out.push('  ' + events.map(([k, n]) => `${k} ${n}`).join(', '));
  }
  section(out, b('Client names (EHLO/HELO, IMAP ID)'), s.client_names, max, s.client_names.length, (x) =>
    `  ${pad(x.name, 32)} from ${pad(x.client_ip, 16)} (${x.source}, frame ${x.first_frame})`,
  );
  const codes = Object.entries(s.anomalies_by_code);
  out.push('');
  if (codes.length === 0) out.push(`${b('Anomalies')}: none`);
  else {
    out.push(b('Anomalies'));
    for (const [code, a] of codes) out.push(`  ${pad(String(a.count), 6)} ${pad(code, 28)} ${a.description}`);
  }
  if (o.outDir) {
    out.push('');
    out.push(`Case folder: ${clean(o.outDir)}  (summary.json, sessions, transcript, messages, credentials, anomalies, clients .jsonl; messages/, attachments/; docs/case-folder.md explains every field)`);
  }
  return out.join('\n') + '\n';
}

function section<T>(out: string[], title: string, rows: T[], max: number, total: number, fmt: (x: T) => string): void {
  out.push('');
  if (rows.length === 0) {
    out.push(`${title}: none`);
    return;
  }
  out.push(title);
  for (const r of rows.slice(0, max)) out.push(fmt(r));
  const more = Math.max(total, rows.length) - Math.min(rows.length, max);
  if (more > 0) out.push(`  ... and ${more} more (see the case folder)`);
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
/**
 * Values come from the capture and may carry terminal escape sequences (hostile input):
 * every C0/C1 control character and DEL is shown as \xNN instead of being printed.
 */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
function pad(s: string, n: number): string {
  s = clean(s);
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function trunc(s: string, n: number): string {
  s = clean(s);
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}
function short(iso: string): string {
  return iso.slice(0, 19).replace('T', ' ');
}
