/** Error codes a user can see. The CLI maps them to exit codes in one place (src/cli/exit-codes.ts). */
export type ErrorCode =
  | 'CAPTURE_UNKNOWN_FORMAT'
  | 'CAPTURE_UNREADABLE'
  | 'CAPTURE_CORRUPT'
  | 'OUTPUT_UNWRITABLE'
  | 'USAGE';

/**
 * The only error thrown across stage boundaries: the container cannot go on (unknown format,
 * unreadable file, bad usage). Hostile bytes inside packets never throw; they become anomalies.
 */
export class MailsleuthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailsleuthError';
    this.code = code;
  }
}
