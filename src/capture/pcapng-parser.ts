import { MAX_TS_SEC, MIN_TS_SEC, clampTimestamp, isoTime, type CaptureFrame, type Timestamp } from '../core/types.js';
import type { CaptureInfo } from './capture-source.js';
import { ChunkedRecordParser, type FrameSink, type RecordParserOptions } from './record-parser.js';

// Block types (draft-ietf-opsawg-pcapng §4 and §10.1).
export const PCAPNG_SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const PB_OBSOLETE = 0x00000002;
const SPB = 0x00000003;
const NRB = 0x00000004;
const ISB = 0x00000005;
const EPB = 0x00000006;
const DSB = 0x0000000a;
const BOM = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a;

// Option codes (§4.2 IDB options).
const OPT_ENDOFOPT = 0;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

const TWO32 = 4294967296;
const ZERO_TS: Timestamp = Object.freeze({ sec: 0, nsec: 0 });

/** One Interface Description Block, with its timestamp conversion precomputed. */
interface Iface {
  readonly globalId: number;
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamp units per second (10^k or 2^k). */
  readonly units: number;
  /** Nanoseconds per unit when units is 10^k with k <= 9 (exact integer); 0 otherwise (slow path). */
  readonly nsPerUnit: number;
  readonly unitsBig: bigint;
  /** if_tsoffset, seconds. */
  readonly offsetSec: number;
  snaplenWarned: boolean;
}

/**
 * pcapng reader (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/): sections (SHB) each
 * with their own byte order and interfaces (IDB: link type, snaplen, if_tsresol, if_tsoffset),
 * packets from EPB, SPB and the obsolete PB; DSB bodies are kept; every other block is skipped.
 * Frames are numbered over all sections; `interfaceId` is the index into info.interfaces (global).
 *
 * After a corrupt block header (impossible or too large total length, mismatched trailing length,
 * bad byte-order magic) the reader resynchronises (see RecordParser) on the next block of a known
 * type (SHB, IDB, PB, SPB, NRB, ISB, EPB, DSB) with a sane length, a matching trailing length
 * (an EPB also naming a known interface and fitting its data) and followed by another known block
 * header or by the end of the input. Frames after a resync are numbered on from the last good frame.
 */
export class PcapngParser extends ChunkedRecordParser {
  /** Byte order of the current section. */
  private le = true;
  private ifaces: Iface[] = [];
  private lastTs: Timestamp = ZERO_TS;
  private secretsBytes = 0;
  private tooManyReported = false;

  constructor(info: CaptureInfo, opts: RecordParserOptions) {
    super(info, opts, 12);
  }

  protected truncatedCode(): string {
    return 'capture_truncated_record';
  }

  protected measure(_buf: Uint8Array, dv: DataView, off: number): number {
    let le = this.le;
    const type = dv.getUint32(off, le);
    if (type === PCAPNG_SHB) {
      const bom = dv.getUint32(off + 8, true);
      if (bom === BOM) le = true;
      else if (bom === BOM_SWAPPED) le = false;
      else {
        this.corrupt('capture_corrupt_record', `section header with bad byte-order magic 0x${bom.toString(16)}`);
        return -1;
      }
    }
    const total = dv.getUint32(off + 4, le);
    if (total < 12 || (total & 3) !== 0 || (type === PCAPNG_SHB && total < 28)) {
      this.corrupt('capture_corrupt_record', `block type 0x${type.toString(16)} with impossible length ${total}`);
      return -1;
    }
    if (total > this.opts.maxRecordBytes) {
      this.corrupt(
        'capture_record_too_large',
        `block type 0x${type.toString(16)} length ${total} exceeds maxRecordBytes ${this.opts.maxRecordBytes}`,
      );
      return -1;
    }
    return total;
  }

  /** A known type with matching leading and trailing lengths is strong evidence alone. */
  protected lastRecordAlone(): boolean {
    return true;
  }

  protected plausible(_buf: Uint8Array, dv: DataView, off: number, avail: number, prev: number): number {
    if (avail < 12) return 0;
    let le = this.le;
    // A block following a candidate SHB is in that section's byte order.
    if (prev >= 0 && dv.getUint32(prev, true) === PCAPNG_SHB) le = dv.getUint32(prev + 8, true) === BOM;
    const type = dv.getUint32(off, le);
    let min: number;
    switch (type) {
      case PCAPNG_SHB: {
        const bom = dv.getUint32(off + 8, true);
        if (bom === BOM) le = true;
        else if (bom === BOM_SWAPPED) le = false;
        else return -1;
        min = 28;
        break;
      }
      case EPB:
      case PB_OBSOLETE:
        min = 32;
        break;
      case IDB:
      case DSB:
        min = 20;
        break;
      case SPB:
      case ISB:
        min = 16;
        break;
      case NRB:
        min = 12;
        break;
      default:
        return -1;
    }
    const total = dv.getUint32(off + 4, le);
    if (total < min || (total & 3) !== 0 || total > this.opts.maxRecordBytes) return -1;
    if (prev >= 0) return total; // the block after a candidate: its header is enough
    if (avail < total) return 0;
    if (dv.getUint32(off + total - 4, le) !== total) return -1;
    if (type === EPB) {
      if (this.ifaces.length > 0 && dv.getUint32(off + 8, le) >= this.ifaces.length) return -1;
      if (dv.getUint32(off + 20, le) > total - 32) return -1;
    }
    return total;
  }

  protected handle(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void {
    let le = this.le;
    const type = dv.getUint32(off, le);
    if (type === PCAPNG_SHB) le = dv.getUint32(off + 8, true) === BOM;
    // The trailing copy of the length must match (§3.1).
    const trailing = dv.getUint32(off + total - 4, le);
    if (trailing !== total) {
      this.corrupt('capture_corrupt_record', `block type 0x${type.toString(16)} length ${total} but trailing length ${trailing}`);
      return;
    }
    switch (type) {
      case EPB:
        this.enhancedPacket(buf, dv, off, total, onFrame);
        return;
      case SPB:
        this.simplePacket(buf, dv, off, total, onFrame);
        return;
      case PB_OBSOLETE:
        this.obsoletePacket(buf, dv, off, total, onFrame);
        return;
      case IDB:
        this.interfaceBlock(buf, dv, off, total);
        return;
      case PCAPNG_SHB:
        this.sectionHeader(dv, off, le);
        return;
      case DSB:
        this.secretsBlock(buf, dv, off, total);
        return;
      default:
        return; // ISB, NRB, custom and unknown blocks are skipped
    }
  }

  /** EPB (§4.3): interface id, 64-bit timestamp, caplen, origlen, data, options. */
  private enhancedPacket(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void {
    if (total < 32) {
      this.badBlock('enhanced packet block too short');
      return;
    }
    this.timedPacket('enhanced packet block', dv.getUint32(off + 8, this.le), buf, dv, off, total, onFrame);
  }

  /**
   * The layout EPB and the obsolete PB share after the interface id (at 8): timestamp high/low
   * (12, 16), captured length (20), original length (24), data (28). `total` is at least 32.
   */
  private timedPacket(name: string, ifid: number, buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void {
    const le = this.le;
    const iface = this.ifaces[ifid];
    if (iface === undefined) {
      this.unknownInterface(ifid);
      return;
    }
    const caplen = dv.getUint32(off + 20, le);
    if (caplen > total - 32) {
      this.badBlock(`${name} captured length ${caplen} larger than the block`);
      return;
    }
    const ts = this.timestamp(iface, dv.getUint32(off + 12, le), dv.getUint32(off + 16, le));
    this.emit(iface, ts, caplen, dv.getUint32(off + 24, le), buf, off + 28, onFrame);
  }

  /** SPB (§4.4): original length and data; captured length is min(origlen, snaplen of interface 0, block room). */
  private simplePacket(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void {
    if (total < 16) {
      this.badBlock('simple packet block too short');
      return;
    }
    const iface = this.ifaces[0];
    if (iface === undefined) {
      this.unknownInterface(0);
      return;
    }
    const origlen = dv.getUint32(off + 8, this.le);
    let caplen = Math.min(origlen, total - 16);
    if (iface.snaplen > 0 && caplen > iface.snaplen) caplen = iface.snaplen;
    // No timestamp in an SPB: the previous frame's time is used so capture time stays monotonic.
    this.emit(iface, this.lastTs, caplen, origlen, buf, off + 12, onFrame);
  }

  /** Obsolete Packet Block (type 2, Appendix A): u16 interface id, u16 drops, then as EPB. */
  private obsoletePacket(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void {
    if (total < 32) {
      this.badBlock('packet block too short');
      return;
    }
    this.timedPacket('packet block', dv.getUint16(off + 8, this.le), buf, dv, off, total, onFrame);
  }


  private emit(
    iface: Iface,
    ts: Timestamp,
    caplen: number,
    origlen: number,
    buf: Uint8Array,
    dataOff: number,
    onFrame: FrameSink,
  ): void {
    const index = ++this.info.frames;
    if (!(ts.sec >= MIN_TS_SEC && ts.sec <= MAX_TS_SEC)) {
      const raw = ts.sec;
      ts = clampTimestamp(ts);
      this.opts.report({
        code: 'capture_timestamp_out_of_range',
        detail: `frame ${index}: timestamp of ${raw} s since 1970 on interface ${iface.globalId} is outside the years 0000-9999; the frame's time is set to ${isoTime(ts)}`,
        at: { frame: index, ts },
      });
    }
    this.lastTs = ts;
    if (caplen > origlen) {
      this.opts.report({
        code: 'capture_caplen_exceeds_origlen',
        detail: `frame ${index}: captured ${caplen} > original ${origlen}`,
        at: { frame: index, ts },
      });
    }
    if (iface.snaplen > 0 && caplen > iface.snaplen && !iface.snaplenWarned) {
      iface.snaplenWarned = true;
      this.opts.report({
        code: 'capture_caplen_exceeds_snaplen',
        detail: `frame ${index}: captured ${caplen} > snaplen ${iface.snaplen} of interface ${iface.globalId} (reported once)`,
        at: { frame: index, ts },
      });
    }
    const pf = this.prefilter;
    if (pf !== null && pf(buf, dataOff, caplen, iface.linkType, index, ts)) return;
    const frame: CaptureFrame = {
      index,
      ts,
      linkType: iface.linkType,
      interfaceId: iface.globalId,
      capturedLength: caplen,
      originalLength: origlen,
      data: new Uint8Array(this.bufMemory, this.bufStart + dataOff, caplen),
    };
    onFrame(frame);
  }

  /** Converts a 64-bit tick count to a Timestamp, exactly. */
  private timestamp(iface: Iface, hi: number, lo: number): Timestamp {
    const U = iface.units;
    let sec: number;
    let rem: number;
    if (iface.nsPerUnit > 0) {
      if (hi < 0x200000) {
        // ticks < 2^53: plain float arithmetic is exact up to a rounding fix-up.
        const t = hi * TWO32 + lo;
        sec = Math.floor(t / U);
        rem = t - sec * U;
        if (rem < 0) {
          sec--;
          rem += U;
        } else if (rem >= U) {
          sec++;
          rem -= U;
        }
      } else {
        // Long division by 16-bit digits (every partial value < U * 2^16 < 2^53).
        let r = 0;
        let q = 0;
        let cur = r * 65536 + (hi >>> 16);
        let d = Math.floor(cur / U);
        r = cur - d * U;
        q = d;
        cur = r * 65536 + (hi & 0xffff);
        d = Math.floor(cur / U);
        r = cur - d * U;
        q = q * 65536 + d;
        cur = r * 65536 + (lo >>> 16);
        d = Math.floor(cur / U);
        r = cur - d * U;
        q = q * 65536 + d;
        cur = r * 65536 + (lo & 0xffff);
        d = Math.floor(cur / U);
        r = cur - d * U;
        q = q * 65536 + d;
        sec = q;
        rem = r;
      }
      return { sec: sec + iface.offsetSec, nsec: rem * iface.nsPerUnit };
    }
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const ub = iface.unitsBig;
    const r = t % ub;
    return { sec: Number(t / ub) + iface.offsetSec, nsec: Number((r * 1_000_000_000n) / ub) };
  }

  /** SHB (§4.1): starts a section with its own byte order and interface list. */
  private sectionHeader(dv: DataView, off: number, le: boolean): void {
    this.le = le;
    this.ifaces = [];
    const info = this.info;
    if (info.sections === 0) info.byteOrder = le ? 'le' : 'be';
    info.sections++;
    const major = dv.getUint16(off + 12, le);
    const minor = dv.getUint16(off + 14, le);
    if (major !== 1) {
      this.opts.report({
        code: 'capture_unsupported_version',
        detail: `pcapng section ${info.sections} version ${major}.${minor}, expected 1.0`,
      });
    }
  }

  /** IDB (§4.2). */
  private interfaceBlock(buf: Uint8Array, dv: DataView, off: number, total: number): void {
    const le = this.le;
    if (total < 20) {
      this.badBlock('interface description block too short');
      return;
    }
    const linkType = dv.getUint16(off + 8, le);
    const snaplen = dv.getUint32(off + 12, le);
    let tsresol = 6;
    let offsetSec = 0;
    let name: string | undefined;
    const end = off + total - 4;
    let o = off + 16;
    while (o + 4 <= end) {
      const code = dv.getUint16(o, le);
      const len = dv.getUint16(o + 2, le);
      if (code === OPT_ENDOFOPT) break;
      if (o + 4 + len > end) {
        this.opts.report({
          code: 'capture_bad_options',
          detail: `interface ${this.info.interfaces.length}: option ${code} runs past the block (offset ${this.recordOffset})`,
        });
        break;
      }
      const v = o + 4;
      if (code === IF_TSRESOL && len >= 1) tsresol = buf[v]!;
      else if (code === IF_TSOFFSET && len >= 8) {
        // Signed 64-bit seconds; in the section's byte order.
        const lo = dv.getUint32(le ? v : v + 4, le);
        const hi = dv.getInt32(le ? v + 4 : v, le);
        offsetSec = hi * TWO32 + lo;
      } else if (code === IF_NAME) {
        name = new TextDecoder().decode(buf.subarray(v, v + len)).replace(/\0+$/, '');
      }
      o = v + ((len + 3) & ~3);
    }
    // if_tsresol: MSB clear = 10^-v, set = 2^-v (§4.2).
    const pow2 = (tsresol & 0x80) !== 0;
    const exp = tsresol & 0x7f;
    const units = pow2 ? 2 ** exp : 10 ** exp;
    const unitsBig = pow2 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
    const nsPerUnit = !pow2 && exp <= 9 ? 10 ** (9 - exp) : 0;
    const tsResolution = pow2 ? `2^-${exp}` : exp === 3 ? 'ms' : exp === 6 ? 'us' : exp === 9 ? 'ns' : `1e-${exp}`;
    const info = this.info;
    const globalId = info.interfaces.length;
    if (globalId >= this.opts.maxCaptureInterfaces) {
      if (!this.tooManyReported) {
        this.tooManyReported = true;
        this.opts.report({
          code: 'capture_too_many_interfaces',
          detail: `more than ${this.opts.maxCaptureInterfaces} interfaces (offset ${this.recordOffset}); further IDBs ignored`,
        });
      }
      return;
    }
    this.ifaces.push({ globalId, linkType, snaplen, units, nsPerUnit, unitsBig, offsetSec, snaplenWarned: false });
    info.interfaces.push(name === undefined ? { linkType, snaplen, tsResolution } : { linkType, snaplen, tsResolution, name });
    if (!info.linkTypes.includes(linkType)) info.linkTypes.push(linkType);
  }

  /** DSB (§4.7): secrets type, length, data; the body is copied into info.decryptionSecrets. */
  private secretsBlock(buf: Uint8Array, dv: DataView, off: number, total: number): void {
    if (total < 20) {
      this.badBlock('decryption secrets block too short');
      return;
    }
    const type = dv.getUint32(off + 8, this.le);
    const len = dv.getUint32(off + 12, this.le);
    if (len > total - 20) {
      this.badBlock(`decryption secrets length ${len} larger than the block`);
      return;
    }
    if (this.secretsBytes + len > this.opts.maxDecryptionSecretsBytes) {
      this.opts.report({
        code: 'capture_secrets_dropped',
        detail: `${len} bytes of secrets type 0x${type.toString(16)} at offset ${this.recordOffset} (limit ${this.opts.maxDecryptionSecretsBytes})`,
      });
      return;
    }
    this.secretsBytes += len;
    const data = new Uint8Array(len);
    data.set(buf.subarray(off + 16, off + 16 + len));
    this.info.decryptionSecrets.push({ type, data });
  }

  private unknownInterface(ifid: number): void {
    this.opts.report({
      code: 'capture_unknown_interface',
      detail: `packet block at offset ${this.recordOffset} names interface ${ifid}; section has ${this.ifaces.length}`,
    });
  }

  /** A block whose framing is intact but whose body is inconsistent: skipped, reading goes on. */
  private badBlock(detail: string): void {
    this.opts.report({ code: 'capture_corrupt_record', detail: `${detail} (offset ${this.recordOffset}); block skipped` });
  }
}
