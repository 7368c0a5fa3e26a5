import type { ErrorCode } from '../core/errors.js';

/**
 * Exit codes (documented in README and `mailsleuth --help`):
 *   0  analysis finished; the capture was read to its end
 *   1  the input cannot be analysed (missing/unreadable file, not a pcap/pcapng/gzip capture)
 *   2  usage error (bad option or argument)
 *   3  the output folder cannot be written (or exists and is not empty without --force)
 *   4  analysis finished, but the capture is damaged and reading stopped early (see summary.json)
 *   5  interrupted (SIGINT/SIGTERM): the case folder covers the part of the input that was read
 *  70  internal error (a bug: please report it)
 */
export const EXIT = {
  OK: 0,
  INPUT: 1,
  USAGE: 2,
  OUTPUT: 3,
  DAMAGED: 4,
  INTERRUPTED: 5,
  INTERNAL: 70,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'CAPTURE_UNKNOWN_FORMAT':
    case 'CAPTURE_UNREADABLE':
    case 'CAPTURE_CORRUPT':
      return EXIT.INPUT;
    case 'OUTPUT_UNWRITABLE':
      return EXIT.OUTPUT;
    case 'USAGE':
      return EXIT.USAGE;
  }
}
