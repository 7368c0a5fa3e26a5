import type { At } from './types.js';

/**
 * A named, non-fatal irregularity (Zeek's "weird"). Codes are stable snake_case, prefixed by
 * layer (`capture_`, `ip_`, `tcp_`, `smtp_`, `mime_` ...). Each layer lists its codes with a
 * one-line description in its own `anomaly-codes.ts`; docs/anomalies.md is built from them.
 */
export interface Anomaly {
  readonly code: string;
  readonly detail?: string;
  /** Where it was seen (frame + time), when known. */
  readonly at?: At;
  /** Connection id, when the anomaly belongs to one. */
  readonly connId?: string;
}

export type AnomalyReporter = (a: Anomaly) => void;

/** Description of one anomaly code, for the catalog. */
export interface AnomalyCodeInfo {
  readonly code: string;
  readonly severity: 'info' | 'warning' | 'error';
  readonly description: string;
}
