import type { CaptureFrame, Timestamp } from '../core/types.js';
import type { CaptureInfo } from './capture-source.js';
import { ChunkedRecordParser, type FrameSink, type RecordParserOptions } from './record-parser.js';

/** Classic pcap magic numbers as read big-endian from the first 4 bytes. */
export const PCAP_MAGIC_US_BE = 0xa1b2c3d4;
export const PCAP_MAGIC_US_LE = 0xd4c3b2a1;
export const PCAP_MAGIC_NS_BE = 0xa1b23c4d;
export const PCAP_MAGIC_NS_LE = 0x4d3cb2a1;

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Resync: a candidate record's time may differ from the previous record's by at most this (seconds). */
const RESYNC_MAX_CLOCK_STEP = 86400;

/**
 * Classic libpcap file reader (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/):
 * 24-byte file header, then records of a 16-byte header (ts_sec, ts_frac, caplen, origlen)
 * and caplen bytes. Both byte orders, microsecond and nanosecond magic.
 *
 * After a corrupt record header (caplen over maxRecordBytes) the reader resynchronises (see
 * RecordParser): a candidate record has a fraction below 1e6/1e9, 0 < origlen, caplen <= origlen,
 * caplen <= snaplen (maxRecordBytes when the snaplen is 0 or larger), a time within one day of the
 * last good frame's, and is followed by another such record or by the end of the input. Frames
 * after a resync are numbered on from the last good frame.
 */
export class PcapParser extends ChunkedRecordParser {
  private headerDone = false;
  private le = true;
  private nanos = false;
  private snaplen = 0;
  private linkType = 0;
  private snaplenWarned = false;
  /** Fraction units per second (1e6 or 1e9) and the factor to nanoseconds. */
  private fracLimit = 1e6;
  private fracToNs = 1000;
  /** Seconds of the last record read, -1 before the first. */
  private lastSec = -1;

  constructor(info: CaptureInfo, opts: RecordParserOptions) {
    super(info, opts, RECORD_HEADER);
  }

  protected truncatedCode(): string {
    return this.headerDone ? 'capture_truncated_record' : 'capture_truncated_header';
  }

  protected measure(_buf: Uint8Array, dv: DataView, off: number): number {
    if (!this.headerDone) return GLOBAL_HEADER;
    const caplen = dv.getUint32(off + 8, this.le);
    if (caplen > this.opts.maxRecordBytes) {
      this.corrupt(
        'capture_record_too_large',
        `record length ${caplen} exceeds maxRecordBytes ${this.opts.maxRecordBytes} (snaplen ${this.snaplen})`,
      );
      return -1;
    }
    return RECORD_HEADER + caplen;
  }

  /** Only with a previous frame's time to compare with. */
  protected lastRecordAlone(): boolean {
    return this.lastSec >= 0;
  }

  protected plausible(_buf: Uint8Array, dv: DataView, off: number, avail: number, prev: number): number {
    if (!this.headerDone) return -1;
    if (avail < RECORD_HEADER) return 0;
    const le = this.le;
    const sec = dv.getUint32(off, le);
    const caplen = dv.getUint32(off + 8, le);
    const origlen = dv.getUint32(off + 12, le);
    if (dv.getUint32(off + 4, le) >= this.fracLimit || origlen === 0 || caplen > origlen) return -1;
    const max = this.opts.maxRecordBytes;
    if (caplen > (this.snaplen > 0 && this.snaplen < max ? this.snaplen : max)) return -1;
    const ref = prev >= 0 ? dv.getUint32(prev, le) : this.lastSec;
    if (ref >= 0 && Math.abs(sec - ref) > RESYNC_MAX_CLOCK_STEP) return -1;
    return RECORD_HEADER + caplen;
  }

  protected handle(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void {
    if (!this.headerDone) {
      this.fileHeader(dv, off);
      return;
    }
    const le = this.le;
    let sec = dv.getUint32(off, le);
    let frac = dv.getUint32(off + 4, le);
    const caplen = total - RECORD_HEADER;
    const origlen = dv.getUint32(off + 12, le);
    const index = ++this.info.frames;
    if (frac >= this.fracLimit) {
      this.opts.report({
        code: 'capture_bad_timestamp',
        detail: `frame ${index}: fraction ${frac} >= ${this.fracLimit}`,
        at: { frame: index, ts: { sec, nsec: 0 } },
      });
      sec += Math.floor(frac / this.fracLimit);
      frac %= this.fracLimit;
    }
    const ts: Timestamp = { sec, nsec: frac * this.fracToNs };
    this.lastSec = sec;
    if (caplen > origlen) {
      this.opts.report({
        code: 'capture_caplen_exceeds_origlen',
        detail: `frame ${index}: captured ${caplen} > original ${origlen}`,
        at: { frame: index, ts },
      });
    }
    if (caplen > this.snaplen && this.snaplen > 0 && !this.snaplenWarned) {
      this.snaplenWarned = true;
      this.opts.report({
        code: 'capture_caplen_exceeds_snaplen',
        detail: `frame ${index}: captured ${caplen} > snaplen ${this.snaplen} (reported once)`,
        at: { frame: index, ts },
      });
    }
    const pf = this.prefilter;
    if (pf !== null && pf(buf, off + RECORD_HEADER, caplen, this.linkType, index, ts)) return;
    const frame: CaptureFrame = {
      index,
      ts,
      linkType: this.linkType,
      interfaceId: 0,
      capturedLength: caplen,
      originalLength: origlen,
      data: new Uint8Array(this.bufMemory, this.bufStart + off + RECORD_HEADER, caplen),
    };
    onFrame(frame);
  }

  private fileHeader(dv: DataView, off: number): void {
    const magic = dv.getUint32(off, false);
    this.le = magic === PCAP_MAGIC_US_LE || magic === PCAP_MAGIC_NS_LE;
    this.nanos = magic === PCAP_MAGIC_NS_BE || magic === PCAP_MAGIC_NS_LE;
    this.fracLimit = this.nanos ? 1e9 : 1e6;
    this.fracToNs = this.nanos ? 1 : 1000;
    const major = dv.getUint16(off + 4, this.le);
    const minor = dv.getUint16(off + 6, this.le);
    if (major !== 2 || minor !== 4) {
      this.opts.report({ code: 'capture_unsupported_version', detail: `pcap version ${major}.${minor}, expected 2.4` });
    }
    this.snaplen = dv.getUint32(off + 16, this.le);
    // Upper bits of the link-type field carry the FCS length (draft-ietf-opsawg-pcap §4, "LinkType
    // and additional information"): the link type proper is the low 16 bits (libpcap LT_LINKTYPE).
    this.linkType = dv.getUint32(off + 20, this.le) & 0xffff;
    this.headerDone = true;
    const info = this.info;
    info.byteOrder = this.le ? 'le' : 'be';
    info.tsPrecision = this.nanos ? 'ns' : 'us';
    info.sections = 1;
    info.linkTypes.push(this.linkType);
    info.interfaces.push({ linkType: this.linkType, snaplen: this.snaplen, tsResolution: this.nanos ? 'ns' : 'us' });
  }
}
