/**
 * `npm run corpus`: runs mailsleuth on every SMTP, POP3 and IMAP capture of ../shared/corpus (public + lab)
 * and prints how the output compares with tshark, Zeek and the lab ground truth.
 *
 * Usage: node dist/scripts/corpus.js [--strict] [--verbose] [--json FILE] [filter ...]
 *   filter    only captures whose id contains one of the strings
 *   --strict  exit 1 when any mismatch remains (default: exit 0, report only)
 *   --verbose also list tshark-error and skipped checks with their reasons
 *   --json    write every check result to FILE
 */
import { writeFileSync } from 'node:fs';
import { tally, type CheckResult } from './corpus/compare.js';
import { hasExternalExpectations, runExternalCapture, runLabCapture, runPublicCapture, runPublicMailboxCapture, selectCorpus } from './corpus/run.js';
import { sharedDir } from '../test/helpers/paths.js';

interface Row {
  capture: string;
  results: CheckResult[];
  ms: number;
}

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  if (t.length >= n) return t;
  return right ? t.padStart(n) : t.padEnd(n);
}

function short(v: unknown, max = 160): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? 'undefined' : s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const strict = args.includes('--strict');
  const verbose = args.includes('--verbose');
  const jsonAt = args.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  const filters = args.filter((a, i) => !a.startsWith('--') && !(jsonAt >= 0 && i === jsonAt + 1));

  if (sharedDir === null) {
    console.log('corpus: ../shared is not beside the clone; nothing to compare (skipped).');
    return 0;
  }
  const sel = selectCorpus(sharedDir);
  const want = (id: string): boolean => filters.length === 0 || filters.some((f) => id.includes(f));
  const rows: Row[] = [];
  const started = Date.now();

  for (const c of sel.publicSmtp) {
    if (!want(c.id)) continue;
    const t0 = Date.now();
    rows.push({ capture: c.id, results: await runPublicCapture(c), ms: Date.now() - t0 });
  }
  for (const c of sel.publicMailbox) {
    if (!want(c.id)) continue;
    const t0 = Date.now();
    rows.push({ capture: c.id, results: await runPublicMailboxCapture(c), ms: Date.now() - t0 });
  }
  // Arkime / suricata-verify expectations (compareArkime / compareSuricata): own rows, "+ext".
  for (const c of [...sel.publicSmtp, ...sel.publicMailbox, ...sel.publicOther]) {
    if (!want(c.id) || !hasExternalExpectations(c)) continue;
    const t0 = Date.now();
    rows.push({ capture: `${c.id} +ext`, results: await runExternalCapture(c), ms: Date.now() - t0 });
  }
  for (const c of sel.lab) {
    if (!want(c.id)) continue;
    const t0 = Date.now();
    rows.push({ capture: c.id, results: await runLabCapture(c), ms: Date.now() - t0 });
  }

  const W = Math.min(70, Math.max(...rows.map((r) => r.capture.length), 10));
  console.log(`${pad('capture', W)}  ${pad('match', 6, true)} ${pad('mism.', 6, true)} ${pad('tshark', 6, true)} ${pad('skip', 5, true)} ${pad('ms', 6, true)}`);
  console.log('-'.repeat(W + 36));
  for (const r of rows) {
    const t = tally(r.results);
    const mark = t.mismatch > 0 ? ' !' : '';
    console.log(`${pad(r.capture.slice(-W), W)}  ${pad(t.match, 6, true)} ${pad(t.mismatch, 6, true)} ${pad(t['tshark-error'], 6, true)} ${pad(t.skipped, 5, true)} ${pad(r.ms, 6, true)}${mark}`);
  }
  const all = rows.flatMap((r) => r.results);
  const mism = all.filter((r) => r.status === 'mismatch');
  if (mism.length > 0) {
    console.log(`\nMismatches (${mism.length}):`);
    for (const m of mism) {
      console.log(`  ${m.capture}  [${m.check}] ${m.reason}`);
      console.log(`      expected: ${short(m.expected)}`);
      console.log(`      got:      ${short(m.got)}`);
    }
  }
  if (verbose) {
    for (const status of ['tshark-error', 'expected-difference', 'skipped'] as const) {
      const list = all.filter((r) => r.status === status);
      if (list.length === 0) continue;
      console.log(`\n${status} (${list.length}):`);
      for (const m of list) console.log(`  ${m.capture}  [${m.check}] ${short(m.expected, 80)}: ${m.reason}`);
    }
  }
  const t = tally(all);
  const byCheck = new Map<string, { match: number; mismatch: number }>();
  for (const r of all) {
    const k = r.check.split(':')[0]!;
    const e = byCheck.get(k) ?? { match: 0, mismatch: 0 };
    if (r.status === 'match') e.match++;
    if (r.status === 'mismatch') e.mismatch++;
    byCheck.set(k, e);
  }
  console.log(`\nBy check: ${[...byCheck].map(([k, v]) => `${k} ${v.match}/${v.match + v.mismatch}`).join(', ')}`);
  console.log(
    `Totals: ${rows.length} captures (${rows.filter((r) => tally(r.results).mismatch > 0).length} with mismatches), ` +
      `${t.match} match, ${t.mismatch} mismatch, ${t['tshark-error']} tshark-error, ${t['expected-difference']} expected-difference, ${t.skipped} skipped; ` +
      `${sel.publicOther.length} public captures without SMTP/POP3/IMAP not run; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(all, null, 1));
  return strict && t.mismatch > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
