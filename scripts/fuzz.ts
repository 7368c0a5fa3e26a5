/**
 * `npm run fuzz`: mutation campaigns over the shared corpus's captures, with seeds the test suite
 * does not use. Not a test (`npm test` runs fixed seeds: test/robustness/); a way to look for new
 * failures, each printed with what reproduces it (file, seed, mutation ops, limits).
 *
 *   npm run fuzz -- [--mode all|bytes|tls|limits|split|worker|reorder] [--seeds N] [--base B]
 *
 * Modes (--seeds is per capture; lab and lab-webmail captures, plus the public mail captures in
 * `bytes` mode at a tenth of the seeds):
 *   bytes   mutated capture bytes (flips, scribbles, inserts, deletes, record lengths): analyze()
 *           never throws (except for an unrecognisable container), never reports internal_error,
 *           and its counts agree with its records;
 *   tls     the TLS lab captures, mutated, decrypted with their key logs (every 4th run a key log
 *           with scribbled characters too): the same checks;
 *   limits  mutated lab captures under random tight limits (0, 1 and small values): the same;
 *   split   a mutated capture fed whole and in random pieces of up to 4 KiB: the same transcript,
 *           messages, credentials and anomaly counts;
 *   worker  a mutated capture through the message worker into a case folder (tmpfs when
 *           present) and inline into memory: the same messages and attachments;
 *   reorder an unmutated capture (TLS ones with their key logs) with neighbouring frames of the
 *           two directions of a connection swapped at random, as when a tap's two directions
 *           are merged by timestamp: the same transcript per session, messages, credentials,
 *           and no gaps or reorder overflows that the original did not have.
 * Exit code 0 when every run passed, 1 when one failed, 2 when ../shared is missing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { analyze } from '../src/pipeline/analyze.js';
import type { CaseSummary } from '../src/pipeline/analyze.js';
import { MailsleuthError } from '../src/core/errors.js';
import type { Limits } from '../src/core/limits.js';
import type { RecordSet } from '../src/output/memory-sink.js';
import { analyzeBytes, mutateCapture, recordLayout, reorderView, swapDirections, tcpFlows, withTimeout, wireTranscript } from '../test/helpers/mutate.js';
import type { RecordLayout } from '../test/helpers/mutate.js';
import { mulberry32, splitRandom } from '../test/helpers/chunkings.js';
import { sharedDir } from '../test/helpers/paths.js';

type Mode = 'bytes' | 'tls' | 'limits' | 'split' | 'worker' | 'reorder';
const MODES: readonly Mode[] = ['bytes', 'tls', 'limits', 'split', 'worker', 'reorder'];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const RUN_MS = 20_000;
/** Errors a mutated input may end with: the container itself became unrecognisable. */
const ACCEPTABLE = new Set(['CAPTURE_UNKNOWN_FORMAT', 'CAPTURE_CORRUPT']);
/** Values drawn for the limits mode (each limit is set in ~30 % of the runs). */
const TIGHT: Partial<Record<keyof Limits, number[]>> = {
  maxRecordBytes: [64, 200, 2000],
  maxResyncBytes: [0, 16, 1000],
  maxCaptureInterfaces: [1, 2],
  maxFragmentBytes: [0, 100, 2000],
  fragmentTimeoutSeconds: [0, 1],
  maxBufferedBytesPerStream: [0, 1, 100, 3000],
  maxBufferedBytesTotal: [0, 100, 5000],
  maxConnections: [1, 2, 5],
  idleTimeoutSeconds: [0, 1, 5],
  maxSniffBytes: [0, 1, 10, 100],
  maxRetainedBytesPerStream: [0, 1, 16],
  timeWaitSeconds: [0, 1],
  maxLineBytes: [1, 8, 64, 512],
  maxReplyLines: [1, 2, 5],
  maxTranscriptEntriesPerSession: [0, 1, 5, 20],
  maxRecipients: [0, 1, 2],
  maxPendingCommands: [0, 1, 3],
  maxInflateBytesPerChunk: [1, 100, 4096],
  maxMessageBytes: [0, 1, 100, 5000],
  maxInMemoryMessageBytes: [0, 1, 100, 5000],
  maxMimeDepth: [0, 1, 2],
  maxMimeParts: [0, 1, 3],
  maxHeaderBytes: [0, 10, 200],
  maxAnomalyRecordsPerCode: [0, 1, 3],
};

interface Capture {
  path: string;
  bytes: Uint8Array;
  layout: RecordLayout | undefined;
  keylog: string | null;
}

function load(path: string): Capture {
  const bytes = readFileSync(path);
  let layout: RecordLayout | undefined;
  try {
    layout = recordLayout(bytes);
  } catch {
    layout = undefined;
  }
  const kl = path.replace(/\.pcap(ng)?$/, '.keylog');
  return { path, bytes, layout, keylog: existsSync(kl) ? readFileSync(kl, 'latin1') : null };
}

function labCaptures(shared: string): Capture[] {
  const out: Capture[] = [];
  for (const d of ['lab', 'lab-webmail']) {
    const dir = join(shared, 'corpus', d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (/\.(pcap|pcapng)$/.test(f)) out.push(load(join(dir, f)));
  }
  return out;
}

/** Public captures (under 2 MB) that tshark's listings show carry SMTP, POP3 or IMAP. */
function publicMailCaptures(shared: string): Capture[] {
  const out: Capture[] = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.(pcap|pcapng|cap)$/.test(f) && st.size < 2_000_000 && ['smtp', 'imap', 'pop'].some((k) => existsSync(`${p}.tshark.${k}.tsv`))) out.push(load(p));
    }
  };
  const root = join(shared, 'corpus', 'public');
  if (existsSync(root)) walk(root);
  return out;
}

type Run = CaseSummary & { records: RecordSet };

/** What a run must never show, or null. */
function problems(s: Run): string | null {
  const ie = s.records.anomalies.find((a) => a.code === 'internal_error');
  if (ie) return `internal_error: ${ie.detail}`;
  if (s.counts.messages !== s.records.messages.length) return `counts.messages ${s.counts.messages} != ${s.records.messages.length} records`;
  if (s.counts.credentials !== s.records.credentials.length) return `counts.credentials ${s.counts.credentials} != ${s.records.credentials.length} records`;
  return null;
}

function describeError(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 5).join(' | ') : String(e);
}

/** The parts of a run that must not depend on how the input was cut. */
function comparable(s: Run): string {
  return JSON.stringify({
    frames: s.input.frames,
    counts: s.counts,
    anomalies: Object.fromEntries(Object.entries(s.anomalies_by_code).map(([k, v]) => [k, v.count])),
    messages: s.records.messages.map((m) => [m.sha256, m.partial, m.size]),
    credentials: s.records.credentials.map((c) => [c.mechanism, c.username, c.outcome]),
    transcript: wireTranscript(s.records.transcript),
  });
}

function messagesView(ms: readonly { sha256: string; partial: boolean; size: number; attachments: readonly { sha256: string }[] }[]): string {
  return JSON.stringify(ms.map((m) => [m.sha256, m.partial, m.size, m.attachments.map((a) => a.sha256)]));
}

/** Anomalies of the original capture that put it outside the reorder mode's claim. */
const REORDER_SKIP = ['tcp_content_gap', 'tcp_midstream_start', 'tcp_payload_truncated', 'tcp_data_after_close', 'tcp_segment_out_of_window'];

/** The `reorder` mode for one capture: `seeds` swapped versions against the original. */
async function reorderRuns(cap: Capture, base: number, seeds: number, work: string, fail: (mode: Mode, label: string, what: string) => void): Promise<number> {
  if (cap.layout === undefined) return 0;
  let keyLogFiles: string[] | undefined;
  if (cap.keylog !== null) {
    const klPath = join(work, 'keys.log');
    writeFileSync(klPath, cap.keylog);
    keyLogFiles = [klPath];
  }
  const run = async (bytes: Uint8Array, label: string): Promise<Run> =>
    (await withTimeout(analyze(Readable.from([Buffer.from(bytes)]), { outDir: null, keyLogFiles }), RUN_MS, label)) as Run;
  const original = await run(cap.bytes, basename(cap.path));
  // The claim holds for whole connections: with holes or a missing handshake, which side's bytes
  // come first decides where a stream starts and what a gap swallows.
  if (REORDER_SKIP.some((code) => original.anomalies_by_code[code] !== undefined)) return 0;
  const want = reorderView(original.records);
  const flows = await tcpFlows(cap.bytes);
  let runs = 0;
  for (let seed = base; seed < base + seeds; seed++) {
    const { bytes, swaps } = swapDirections(cap.bytes, flows, seed, (seed % 4) / 4 + 0.25);
    const label = `${cap.path.replace(/^.*corpus\//, '')} seed ${seed} (${swaps} swaps)`;
    runs++;
    try {
      const s = await run(bytes, label);
      const p = problems(s);
      if (p) fail('reorder', label, p);
      const got = reorderView(s.records);
      if (got !== want) {
        let i = 0;
        while (i < want.length && want[i] === got[i]) i++;
        fail('reorder', label, `differs from the original at ${i}: ...${want.slice(Math.max(0, i - 100), i + 100)} vs ...${got.slice(Math.max(0, i - 100), i + 100)}`);
      }
      for (const code of ['tcp_content_gap', 'tcp_reorder_overflow']) {
        const n = s.anomalies_by_code[code]?.count ?? 0;
        if (n > (original.anomalies_by_code[code]?.count ?? 0)) fail('reorder', label, `${n} ${code}`);
      }
    } catch (e) {
      fail('reorder', label, `threw ${describeError(e)}`);
    }
  }
  return runs;
}

async function main(): Promise<number> {
  const shared = sharedDir;
  if (shared === null) {
    process.stderr.write('fuzz: ../shared is not beside the repository (the campaigns mutate its corpus captures)\n');
    return 2;
  }
  const modeArg = arg('--mode', 'all');
  const modes: readonly Mode[] = modeArg === 'all' ? MODES : (modeArg.split(',') as Mode[]);
  for (const m of modes) {
    if (!MODES.includes(m)) {
      process.stderr.write(`fuzz: unknown mode ${m} (expected all or ${MODES.join(', ')})\n`);
      return 2;
    }
  }
  const seeds = Math.max(1, Number(arg('--seeds', '50')));
  const base = Number(arg('--base', String(Date.now() % 1_000_000_000)));
  const lab = labCaptures(shared);
  const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mailsleuth-fuzz-'));
  let failures = 0;
  const fail = (mode: Mode, label: string, what: string): void => {
    failures++;
    process.stdout.write(`FAIL ${mode} ${label}: ${what}\n`);
  };
  try {
    for (const mode of modes) {
      const t0 = Date.now();
      let runs = 0;
      const caps = mode === 'bytes' || mode === 'reorder' ? [...lab, ...publicMailCaptures(shared)] : mode === 'tls' ? lab.filter((c) => c.keylog !== null) : lab;
      for (const cap of caps) {
        if (mode === 'reorder') {
          runs += await reorderRuns(cap, base, seeds, work, fail);
          continue;
        }
        const n = mode === 'bytes' && cap.path.includes('/public/') ? Math.max(1, Math.round(seeds / 10)) : seeds;
        for (let seed = base; seed < base + n; seed++) {
          runs++;
          const m = mutateCapture(cap.bytes, seed, cap.layout, { protect: 4 });
          let label = `${basename(cap.path)} seed ${seed} [${m.ops.join(' ')}]`;
          const rnd = mulberry32(seed);
          try {
            if (mode === 'bytes' || mode === 'limits') {
              const limits: Partial<Limits> = {};
              if (mode === 'limits') {
                for (const [k, vs] of Object.entries(TIGHT)) if (rnd() < 0.3) limits[k as keyof Limits] = vs[Math.floor(rnd() * vs.length)]!;
                label += ` limits ${JSON.stringify(limits)}`;
              }
              const p = problems(await withTimeout(analyzeBytes(m.bytes, limits), RUN_MS, label));
              if (p) fail(mode, label, p);
            } else if (mode === 'tls') {
              let kl = cap.keylog!;
              if (seed % 4 === 0) {
                const chars = kl.split('');
                for (let k = 0; k < 6; k++) chars[Math.floor(rnd() * chars.length)] = '0123456789abcdefz \n'[Math.floor(rnd() * 19)]!;
                kl = chars.join('');
                label += ' (key log scribbled)';
              }
              const klPath = join(work, 'keys.log');
              writeFileSync(klPath, kl);
              const s = await withTimeout(analyze(Readable.from([Buffer.from(m.bytes)]), { outDir: null, keyLogFiles: [klPath] }), RUN_MS, label);
              const p = problems(s as Run);
              if (p) fail(mode, label, p);
            } else if (mode === 'split') {
              const whole = comparable(await withTimeout(analyzeBytes(m.bytes), RUN_MS, label));
              const cut = comparable(await withTimeout(analyzeBytes(m.bytes, undefined, splitRandom(seed, 4096)), RUN_MS, label));
              if (whole !== cut) {
                let i = 0;
                while (i < whole.length && whole[i] === cut[i]) i++;
                fail(mode, label, `whole and split differ at ${i}: ...${whole.slice(Math.max(0, i - 80), i + 80)} vs ...${cut.slice(Math.max(0, i - 80), i + 80)}`);
              }
            } else {
              const inline = await withTimeout(analyzeBytes(m.bytes), RUN_MS, label);
              const out = join(work, 'case');
              rmSync(out, { recursive: true, force: true });
              const s = await withTimeout(analyze(Readable.from([Buffer.from(m.bytes)]), { outDir: out, messageWorker: true }), RUN_MS, label);
              if (s.anomalies_by_code.internal_error) fail(mode, label, 'internal_error in worker mode');
              const written = readFileSync(join(out, 'messages.jsonl'), 'utf8')
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l) as { sha256: string; partial: boolean; size: number; attachments: { sha256: string }[] });
              const a = messagesView(inline.records.messages);
              const b = messagesView(written);
              if (a !== b) fail(mode, label, `inline ${a.slice(0, 200)} vs worker ${b.slice(0, 200)}`);
            }
          } catch (e) {
            if (e instanceof MailsleuthError && ACCEPTABLE.has(e.code)) continue;
            fail(mode, label, `threw ${describeError(e)}`);
          }
        }
      }
      process.stdout.write(`${mode}: ${runs} runs over ${caps.length} captures, seeds from ${base}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(failures === 0 ? 'no failures\n' : `${failures} failure(s)\n`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${describeError(e)}\n`);
    process.exit(1);
  },
);
