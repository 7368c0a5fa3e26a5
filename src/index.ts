/**
 * mailsleuth library API. The CLI is a thin layer over `analyze()`.
 *
 * ```ts
 * import { analyze } from 'mailsleuth';
 * const summary = await analyze('capture.pcap', { outDir: 'case' });     // writes a case folder
 * const { records } = await analyze('capture.pcap', { outDir: null });   // records in memory
 * ```
 */
export { analyze, TOOL } from './pipeline/analyze.js';
export type { AnalyzeOptions, ProgressInfo } from './pipeline/analyze.js';
export type { CaseSummary } from './output/case-summary.js';
export type { RecordSet } from './output/memory-sink.js';
export type * from './core/records.js';
export type { Limits } from './core/limits.js';
export { DEFAULT_LIMITS } from './core/limits.js';
export { MailsleuthError } from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export { ANOMALY_CATALOG } from './pipeline/anomaly-catalog.js';
