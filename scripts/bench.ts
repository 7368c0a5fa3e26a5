/**
 * `npm run bench`: throughput and peak memory of mailsleuth against tshark on the same capture.
 *
 * Generates (or reuses, outside the repository) captures with ../shared/bench/make-bench-pcap,
 * runs `mailsleuth analyze` and `tshark -r F -o tcp.reassemble_out_of_order:TRUE -q
 * --export-objects imf,DIR` on each, and prints MiB/s, the ratio, both peak RSS values, and
 * whether every message of the truth sidecar was found (by SHA-256).
 *
 * Options: --sizes 256,1024 (MiB; default 256,1024)  --dir DIR (default $MAILSLEUTH_BENCH_DIR or
 * /tmp/mailsleuth-bench)  --no-tshark  --runs N (mailsleuth runs per size; the median is shown)
 * --tshark-runs N (tshark runs per size, default 1; the ratio uses their median: on a shared VM
 * tshark's own speed varies by half, and with it a single-run ratio).
 *
 * Every timed run writes into a folder of its own, and nothing is deleted until all runs are
 * timed: on a file system that avoids reusing recently freed inodes (ext4 without a journal, as
 * on the project's VMs: for 60-300 s after a delete), creating the ~1,250 case files of a 1 GiB
 * run right after deleting the previous run's cost 0.15-0.65 s more kernel time than in a quiet
 * folder (measured with perf: ext4 find_inode_bit/recently_deleted). The last mailsleuth case
 * folder of each size is kept as DIR/case-<size>m; the rest is removed at the end.
 * The runs are interleaved (mailsleuth, mailsleuth --no-message-worker, tshark, and again), so
 * that each tshark run meets the VM in the state the mailsleuth run before it met; the ratio of
 * each such pair is printed beside the ratio of the medians.
 * This is a benchmark, not a test: it is never part of `npm test`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, sharedDir } from '../test/helpers/paths.js';

interface RunResult {
  seconds: number;
  peakRssMiB: number;
  exitCode: number;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const sizes = arg('--sizes', '256,1024').split(',').map(Number);
const dir = arg('--dir', process.env.MAILSLEUTH_BENCH_DIR ?? '/tmp/mailsleuth-bench');
const runs = Number(arg('--runs', '1'));
const tsharkRuns = Math.max(1, Number(arg('--tshark-runs', '1')));
const withTshark = !process.argv.includes('--no-tshark') && spawnSync('tshark', ['--version']).status === 0;

/** Runs a command, sampling its peak RSS (VmHWM) from /proc, which every Linux has. */
function measure(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolveRun) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let peakKiB = 0;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    const sample = (): void => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      } catch {
        /* process already gone */
      }
    };
    const timer = setInterval(sample, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0 && cmd !== 'tshark') process.stderr.write(stderr);
      resolveRun({ seconds, peakRssMiB: peakKiB / 1024, exitCode: code ?? -1 });
    });
  });
}

function ensureCapture(sizeMiB: number): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${sizeMiB}m.pcap`);
  if (existsSync(file) && existsSync(`${file}.truth.json`)) return file;
  if (!sharedDir) throw new Error('../shared/bench/make-bench-pcap is needed to generate the benchmark capture');
  console.log(`generating ${file} (${sizeMiB} MiB) ...`);
  const r = spawnSync(join(sharedDir, 'bench', 'make-bench-pcap'), ['--out', file, '--size-mib', String(sizeMiB), '--truth-detail', '--quiet'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('make-bench-pcap failed');
  return file;
}

function messageHashesFound(caseDir: string, truthFile: string): { expected: number; found: number; hidden: number } {
  const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as {
    detail?: { messages: { sha256: string; proto: string }[] };
    totals: { messages: number; tls_hidden_messages: number };
  };
  const ours = new Map<string, number>();
  const lines = readFileSync(join(caseDir, 'messages.jsonl'), 'utf8').split('\n');
  for (const l of lines) {
    if (!l) continue;
    const m = JSON.parse(l) as { sha256: string; partial: boolean };
    if (!m.partial) ours.set(m.sha256, (ours.get(m.sha256) ?? 0) + 1);
  }
  const list = truth.detail?.messages ?? [];
  let found = 0;
  for (const t of list) {
    const n = ours.get(t.sha256) ?? 0;
    if (n > 0) {
      found++;
      ours.set(t.sha256, n - 1);
    }
  }
  return { expected: list.length, found, hidden: truth.totals.tls_hidden_messages };
}

/** ", runs 3.21 3.24 3.46 s" when there were several runs (the median alone hides the spread). */
function runList(rs: RunResult[]): string {
  return rs.length > 1 ? `; runs ${rs.map((r) => r.seconds.toFixed(2)).join(' ')} s` : '';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const cli = join(repoRoot, 'dist', 'mailsleuth.mjs');
  const rows: string[] = [];
  // Outputs of the timed runs; a folder left by an interrupted bench is moved aside (a rename
  // frees no inode) and removed with the rest at the end.
  mkdirSync(dir, { recursive: true });
  const runsDir = join(dir, 'runs');
  const stale = join(dir, `runs-stale-${process.pid}`);
  if (existsSync(runsDir)) renameSync(runsDir, stale);
  mkdirSync(runsDir);
  let n = 0;
  const runDir = (label: string): string => join(runsDir, `${String(++n).padStart(3, '0')}-${label}`);
  const lastCase = new Map<number, string>();
  for (const size of sizes) {
    const file = ensureCapture(size);
    const mib = statSync(file).size / 1048576;
    // The runs of each size are interleaved (ours, the inline fallback, tshark; again), so that
    // each tshark run is timed right after a run of ours, in the same state of the VM: its speed
    // drifts by up to a third within an hour, and timing all of one tool, then all of the other,
    // moved the ratio by as much (16.2x and 20.3x for the same build). Each pair's ratio is
    // printed beside the ratio of the medians.
    const ours: RunResult[] = [];
    const mw: RunResult[] = [];
    const tsRuns: RunResult[] = [];
    let caseDir = '';
    let caseDirW = '';
    const rounds = Math.max(runs, withTshark ? tsharkRuns : 0);
    for (let i = 0; i < rounds; i++) {
      if (i < runs) {
        caseDir = runDir(`${size}m-mailsleuth`);
        ours.push(await measure(process.execPath, [cli, 'analyze', file, '-o', caseDir, '--quiet']));
        // The slower fallback that builds messages on the main thread (--no-message-worker).
        caseDirW = runDir(`${size}m-mailsleuth-no-message-worker`);
        mw.push(await measure(process.execPath, [cli, 'analyze', file, '-o', caseDirW, '--quiet', '--no-message-worker']));
      }
      if (withTshark && i < tsharkRuns) {
        tsRuns.push(await measure('tshark', ['-r', file, '-o', 'tcp.reassemble_out_of_order:TRUE', '-q', '--export-objects', `imf,${runDir(`${size}m-tshark`)}`]));
      }
    }
    lastCase.set(size, caseDir);
    const t = median(ours.map((r) => r.seconds));
    const rss = Math.max(...ours.map((r) => r.peakRssMiB));
    const found = messageHashesFound(caseDir, `${file}.truth.json`);
    const tw = median(mw.map((r) => r.seconds));
    const rssw = Math.max(...mw.map((r) => r.peakRssMiB));
    const foundw = messageHashesFound(caseDirW, `${file}.truth.json`);
    let tsharkCol = 'tshark: not run';
    let ratio = '';
    let tsharkSeconds = 0;
    if (withTshark) {
      tsharkSeconds = median(tsRuns.map((r) => r.seconds));
      const speeds = tsRuns.map((r) => mib / r.seconds);
      const range = tsharkRuns > 1 ? `, median of ${tsharkRuns}: ${Math.min(...speeds).toFixed(1)}-${Math.max(...speeds).toFixed(1)} MiB/s` : '';
      tsharkCol = `tshark ${(mib / tsharkSeconds).toFixed(1)} MiB/s (${tsharkSeconds.toFixed(1)} s${range}), peak RSS ${Math.max(...tsRuns.map((r) => r.peakRssMiB)).toFixed(0)} MiB`;
      const pairs = tsRuns.slice(0, ours.length).map((r, i) => r.seconds / ours[i]!.seconds);
      const perPair = pairs.length > 1 ? ` (each pair: ${pairs.map((x) => x.toFixed(1)).join(' ')}x, median ${median(pairs).toFixed(1)}x)` : '';
      ratio = `ratio ${(tsharkSeconds / t).toFixed(1)}x${perPair}`;
    }
    const ratioW = tsharkSeconds > 0 ? ` (--no-message-worker ${(tsharkSeconds / tw).toFixed(1)}x)` : '';
    rows.push(
      `${size} MiB capture (${mib.toFixed(0)} MiB): mailsleuth ${(mib / t).toFixed(1)} MiB/s (${t.toFixed(2)} s${runList(ours)}), peak RSS ${rss.toFixed(0)} MiB | ${tsharkCol} | ${ratio}${ratioW}\n` +
        `    --no-message-worker: ${(mib / tw).toFixed(1)} MiB/s (${tw.toFixed(2)} s${runList(mw)}), peak RSS ${rssw.toFixed(0)} MiB, ${foundw.found} of ${foundw.expected} messages byte-exact\n` +
        `    messages found byte-exact: ${found.found} of ${found.expected} listed in the truth sidecar (another ${found.hidden} are random bytes inside STARTTLS sessions: not messages, not extractable)`,
    );
    console.log(rows[rows.length - 1]);
  }
  // Everything is timed: keep the last case folder of each size, remove the rest.
  for (const [size, caseDir] of lastCase) {
    const keep = join(dir, `case-${size}m`);
    rmSync(keep, { recursive: true, force: true });
    renameSync(caseDir, keep);
  }
  rmSync(runsDir, { recursive: true, force: true });
  rmSync(stale, { recursive: true, force: true });
  console.log('\nSummary');
  for (const r of rows) console.log('  ' + r);
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});
