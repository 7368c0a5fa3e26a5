#!/usr/bin/env node
import { basename } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { MailsleuthError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { Limits } from '../core/limits.js';
import { analyze, TOOL } from '../pipeline/analyze.js';
import type { ProgressInfo } from '../pipeline/analyze.js';
import { renderTerminalSummary } from '../output/terminal-summary.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { exitWhenFlushed } from './exit-when-flushed.js';
import { startHeapGrowthPolicy } from './heap-growth.js';
import { applyScavengePolicy } from './scavenge-policy.js';

// V8's heap growth is held to a fixed headroom (bounded peak RSS without near-continuous major
// GCs; heap-growth.ts, docs/performance.md). Applies to this process and its worker threads; the
// library (analyze()) leaves the host's V8 settings alone.
startHeapGrowthPolicy();
// Serial scavenges on machines with two cores or fewer (scavenge-policy.ts). launch.ts, the
// bundle's entry, has set it already; this covers running dist/src/cli/main.js directly.
applyScavengePolicy();

const EXIT_HELP = `
Exit codes:
  0   analysis finished; the capture was read to its end
  1   the input cannot be analysed (missing or unreadable file; not a pcap, pcapng or gzip capture)
  2   usage error
  3   the output folder cannot be written (or is not empty and --force was not given)
  4   analysis finished, but the capture is damaged and reading stopped early (see summary.json)
  5   interrupted (Ctrl-C / SIGTERM): the case folder covers the part of the input that was read
  70  internal error (a bug; please report it with the capture)`;

function parseLimit(value: string, previous: Partial<Limits> = {}): Partial<Limits> {
  const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?|Infinity)$/.exec(value);
  if (!m || !(m[1] in DEFAULT_LIMITS)) {
    throw new InvalidArgumentError(`expected NAME=NUMBER with NAME one of: ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
  }
  return { ...previous, [m[1]]: Number(m[2]) };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function defaultOutDir(capture: string): string {
  if (capture === '-') return 'mailsleuth-case';
  const base = basename(capture).replace(/\.(pcapng|pcap|cap|gz)$/gi, '').replace(/\.(pcapng|pcap|cap)$/i, '');
  return `${base || 'capture'}.case`;
}

function progressPrinter(): ((p: ProgressInfo) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (p) => {
    const mib = (p.bytes / 1048576).toFixed(1);
    const pct = p.totalBytes ? ` (${Math.min(100, (100 * p.bytes) / p.totalBytes).toFixed(0)}%)` : '';
    process.stderr.write(`\r\x1b[K${p.frames} frames, ${mib} MiB${pct}, ${p.sessions} sessions, ${p.messages} messages`);
  };
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  let exitCode: number = EXIT.OK;
  program
    .name('mailsleuth')
    .description('Turns packet captures of email traffic (SMTP, POP3, IMAP, ManageSieve; TLS with your keys) into evidence: transcripts, rebuilt messages, credentials, client identities, anomalies.')
    .version(TOOL.version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', EXIT_HELP);

  program
    .command('analyze')
    .description('Analyse a capture (pcap, pcapng, optionally gzip-compressed; "-" reads stdin) and write a case folder.')
    .argument('<capture>', 'capture file, or - for standard input')
    .option('-o, --out <dir>', 'case folder to write (default: <capture name>.case in the current folder)')
    .option('--json', 'print summary.json to stdout instead of the human summary')
    .option('-f, --force', 'write into an output folder that exists and is not empty')
    .option('-q, --quiet', 'print nothing on success (the case folder is still written)')
    .option('--keylog <file>', 'TLS key log (SSLKEYLOGFILE / NSS format) to decrypt STARTTLS and implicit TLS (repeatable)', collect, [])
    .option('--rsa-key <file>', "server's RSA private key (PEM) for TLS 1.2 RSA key exchange (repeatable)", collect, [])
    .option('--no-message-worker', 'build messages on the main thread instead of a second one (slower; see docs/performance.md)')
    .option('--limit <name=value>', 'override a resource limit (repeatable), e.g. --limit maxMessageBytes=1048576', parseLimit)
    .addHelpText(
      'after',
      `
Examples:
  mailsleuth analyze capture.pcap -o case/
  mailsleuth analyze starttls.pcapng --keylog sslkeys.log -o case/
  cat capture.pcap.gz | mailsleuth analyze - -o case/
  tcpdump -i eth0 -w - 'tcp port 25 or tcp port 587' | mailsleuth analyze - -o case/
${EXIT_HELP}`,
    )
    .action(async (capture: string, opts: { out?: string; json?: boolean; force?: boolean; quiet?: boolean; limit?: Partial<Limits>; keylog: string[]; rsaKey: string[]; messageWorker?: boolean }) => {
      const outDir = opts.out ?? defaultOutDir(capture);
      const progress = opts.quiet ? undefined : progressPrinter();
      // Ctrl-C (or SIGTERM) once: stop reading, finish the case folder with what was read.
      // A second one exits at once.
      const stop = new AbortController();
      const onSignal = (): void => {
        if (stop.signal.aborted) process.exit(130);
        process.stderr.write('\nmailsleuth: stopping; finishing the case folder with what was read (again to abort)\n');
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const summary = await analyze(capture, {
        signal: stop.signal,
        outDir,
        overwrite: opts.force,
        limits: opts.limit,
        onProgress: progress,
        keyLogFiles: opts.keylog,
        rsaKeyFiles: opts.rsaKey,
        messageWorker: opts.messageWorker !== false,
      });
      if (progress) process.stderr.write('\r\x1b[K');
      if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else if (!opts.quiet) process.stdout.write(renderTerminalSummary(summary, { color: Boolean(process.stdout.isTTY), outDir }));
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (summary.input.interrupted) {
        process.stderr.write('mailsleuth: interrupted before the end of the input; the case folder covers what was read\n');
        exitCode = EXIT.INTERRUPTED;
      } else if (!summary.input.complete) {
        process.stderr.write(`mailsleuth: the capture is damaged; reading stopped at byte ${summary.input.stopped_at_offset} (everything before it was analysed)\n`);
        exitCode = EXIT.DAMAGED;
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    if (e instanceof MailsleuthError) {
      process.stderr.write(`mailsleuth: ${e.message}\n`);
      return exitCodeFor(e.code);
    }
    const err = e as Error;
    process.stderr.write(`mailsleuth: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.MAILSLEUTH_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    else process.stderr.write('mailsleuth: this is a bug; run again with MAILSLEUTH_DEBUG=1 for details and report it\n');
    return EXIT.INTERNAL;
  }
}

main(process.argv.slice(2)).then(exitWhenFlushed, () => exitWhenFlushed(EXIT.INTERNAL));
