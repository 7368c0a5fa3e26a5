/**
 * Runs analyze() on corpus captures into throw-away case folders and compares the result with
 * the corpus expectations. Shared by `npm run corpus` (scripts/corpus.ts) and the node:test
 * suite (test/corpus/smtp-corpus.test.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { analyze as analyzeImpl } from '../../src/pipeline/analyze.js';
import { compareExternal, compareLab, comparePublic, comparePublicMailbox, type CheckResult } from './compare.js';
import { isMailboxCapture, loadCaseFolder, loadLabCorpus, loadPublicCorpus, type CaseData, type LabCapture, type PublicCapture } from './loaders.js';

/**
 * The pipeline entry point (src/pipeline/analyze.ts). Loaded lazily so that a pipeline that
 * fails to load is reported as a failure of each capture instead of breaking the harness.
 */
export type AnalyzeFn = typeof analyzeImpl;

let analyzeFn: AnalyzeFn | null = null;

/** Loads analyze() from src/pipeline/analyze(.ts|.js), relative to this file (works from dist/ too). */
export async function loadAnalyze(): Promise<AnalyzeFn> {
  if (analyzeFn) return analyzeFn;
  const spec = '../../src/pipeline/analyze.js';
  const mod = (await import(spec)) as { analyze?: AnalyzeFn };
  if (typeof mod.analyze !== 'function') throw new Error('src/pipeline/analyze.js exports no analyze()');
  analyzeFn = mod.analyze;
  return analyzeFn;
}

/** The captures the corpus run covers. */
export interface CorpusSelection {
  /** Public captures that carry SMTP (see isSmtpCapture). */
  publicSmtp: PublicCapture[];
  /** Public captures without SMTP whose tshark POP/IMAP listing has rows: frame checks. */
  publicMailbox: PublicCapture[];
  /** Public captures with neither (TLS-only, DNS ...): listed as skipped, not analysed. */
  publicOther: PublicCapture[];
  lab: LabCapture[];
}

/** Reads the corpus under `<sharedDir>/corpus`. */
export function selectCorpus(sharedDir: string): CorpusSelection {
  const pub = loadPublicCorpus(join(sharedDir, 'corpus', 'public'));
  return {
    publicSmtp: pub.filter((c) => c.smtp),
    publicMailbox: pub.filter((c) => !c.smtp && isMailboxCapture(c)),
    publicOther: pub.filter((c) => !c.smtp && !isMailboxCapture(c)),
    lab: loadLabCorpus(join(sharedDir, 'corpus', 'lab')),
  };
}

/**
 * Runs analyze() on one capture into a temporary case folder, loads it, and removes the folder.
 * `keyLogFiles`: NSS key logs for TLS decryption (lab captures with a `.keylog`).
 */
export async function analyzeToCase(file: string, keyLogFiles: readonly string[] = []): Promise<CaseData> {
  const analyze = await loadAnalyze();
  const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-corpus-'));
  try {
    await analyze(file, { outDir: dir, ...(keyLogFiles.length > 0 ? { keyLogFiles } : {}) });
    return loadCaseFolder(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function failure(capture: string, err: unknown): CheckResult {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { capture, check: 'analyze', status: 'mismatch', expected: 'analyze() completes', got: msg, reason: 'analyze() threw' };
}

/** All checks of one public capture (an analyze() failure is one mismatch). */
export async function runPublicCapture(c: PublicCapture): Promise<CheckResult[]> {
  let data: CaseData;
  try {
    data = await analyzeToCase(c.file);
  } catch (err) {
    return [failure(c.id, err)];
  }
  return comparePublic(c, data);
}

/** POP3/IMAP frame checks of one public capture without SMTP. */
export async function runPublicMailboxCapture(c: PublicCapture): Promise<CheckResult[]> {
  let data: CaseData;
  try {
    data = await analyzeToCase(c.file);
  } catch (err) {
    return [failure(c.id, err)];
  }
  return comparePublicMailbox(c, data);
}

/** True when a public capture has Arkime or suricata-verify expectations. */
export function hasExternalExpectations(c: PublicCapture): boolean {
  return (c.arkimeExpected !== undefined && c.arkimeExpected !== null) || (c.suricataTests?.length ?? 0) > 0;
}

/** Only the Arkime / suricata-verify checks of one public capture (an analyze() failure is one mismatch). */
export async function runExternalCapture(c: PublicCapture): Promise<CheckResult[]> {
  let data: CaseData;
  try {
    data = await analyzeToCase(c.file);
  } catch (err) {
    return [failure(c.id, err)];
  }
  return compareExternal(c, data);
}

/** The key logs a lab capture's truths name (`"keylog": "X.keylog"`), that exist. */
export function labKeyLogs(c: LabCapture): string[] {
  const names = new Set(c.truths.map((t) => t.keylog).concat(c.truth.keylog).filter((k): k is string => typeof k === 'string' && k !== ''));
  return [...names].map((k) => join(c.labDir, k)).filter((p) => existsSync(p));
}

/** All checks of one lab capture (decrypted with its key log when it has one). */
export async function runLabCapture(c: LabCapture): Promise<CheckResult[]> {
  let data: CaseData;
  try {
    data = await analyzeToCase(c.file, labKeyLogs(c));
  } catch (err) {
    return [failure(c.id, err)];
  }
  return compareLab(c, data);
}

/** True when a lab capture has a POP3, IMAP or ManageSieve session in its truth. */
export function labHasMailbox(c: LabCapture): boolean {
  return c.truths.some((t) => (t.sessions ?? []).some((s) => s.protocol === 'pop3' || s.protocol === 'imap' || s.protocol === 'managesieve' || s.protocol === 'sieve'));
}

/** True when a lab capture has at least one SMTP session in its truth. */
export function labHasSmtp(c: LabCapture): boolean {
  return c.truths.some((t) => (t.sessions ?? []).some((s) => s.protocol === 'smtp'));
}
