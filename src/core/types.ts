/**
 * Vocabulary shared by every stage of the pipeline. Depends on nothing.
 *
 * Ownership rule used throughout: a `Uint8Array` passed into a callback is *borrowed*
 * (valid only during the call; `slice()` what you keep). A field that holds bytes is owned.
 */

/** Capture time, exact to the nanosecond. Never derived from the wall clock. */
export interface Timestamp {
  /** Whole seconds since the Unix epoch. */
  readonly sec: number;
  /** 0 .. 999_999_999 */
  readonly nsec: number;
}

/** Where a byte, line or packet was seen: the Wireshark frame number (1-based) and its time. */
export interface At {
  readonly frame: number;
  readonly ts: Timestamp;
}

/** Application role. The client opened the connection (SYN), or is inferred from ports and content. */
export type Side = 'client' | 'server';

/**
 * What part of a message a transfer carried when it was not all of it by request (an IMAP
 * section or partial FETCH, a POP3 TOP): `'head'` when the bytes start with a header block,
 * `'content'` when they do not (see MessageSink.endBytes).
 */
export type MessageExcerpt = 'head' | 'content';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

/** One frame from a capture file. */
export interface CaptureFrame {
  /** 1-based over the whole file, exactly as Wireshark numbers frames. */
  readonly index: number;
  readonly ts: Timestamp;
  /** LINKTYPE_* value of the interface the frame came from. */
  readonly linkType: number;
  /** 0 for classic pcap. */
  readonly interfaceId: number;
  readonly capturedLength: number;
  /** Larger than capturedLength when the frame was cut by the snaplen. */
  readonly originalLength: number;
  /** Borrowed: valid until the next frame is pulled. */
  readonly data: Uint8Array;
}

/** TCP flag bits as in the header. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

/** A decoded TCP segment (after link, IP and fragment handling). */
export interface TcpPacket {
  readonly frame: number;
  readonly ts: Timestamp;
  readonly ipVersion: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Unsigned 32-bit sequence number. */
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  /** Borrowed view into the frame (or into a reassembled IP datagram). */
  readonly payload: Uint8Array;
  /** Payload bytes the IP header announced but the capture did not hold (snaplen cut). 0 normally. */
  readonly missingPayload: number;
  /**
   * Optional 32-bit numbers identifying src/dst (IPv4: the address; IPv6: a hash of it), set by
   * the decoder so the reassembler can find the connection without building a string key.
   * Equal addresses give equal ids; different addresses may collide (callers verify).
   */
  readonly srcId?: number;
  readonly dstId?: number;
}

/** A UDP datagram (DNS and later protocols use it). */
export interface UdpPacket {
  readonly frame: number;
  readonly ts: Timestamp;
  readonly ipVersion: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Borrowed. */
  readonly payload: Uint8Array;
}

/**
 * The seconds a record's time can hold: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z, the
 * ISO-8601 four-digit years. A pcapng timestamp is 64 bits of ticks plus a 64-bit offset, so a
 * corrupt block or option can name an instant far outside them (even outside what a JavaScript
 * Date holds, ±8.64e12 s); the capture readers move such a frame's time to the nearest end of
 * this range and report it (capture_timestamp_out_of_range).
 */
export const MIN_TS_SEC = -62_167_219_200;
export const MAX_TS_SEC = 253_402_300_799;

/** `ts`, or the nearest instant of [MIN_TS_SEC, MAX_TS_SEC] when it lies outside (NaN counts as below). */
export function clampTimestamp(ts: Timestamp): Timestamp {
  if (ts.sec >= MIN_TS_SEC && ts.sec <= MAX_TS_SEC) return ts;
  return ts.sec > MAX_TS_SEC ? { sec: MAX_TS_SEC, nsec: 999_999_999 } : { sec: MIN_TS_SEC, nsec: 0 };
}

/**
 * Formats a timestamp as ISO-8601 UTC with all nine fractional digits. Never throws: a time
 * outside [MIN_TS_SEC, MAX_TS_SEC] (the readers clamp and report those) is formatted clamped.
 */
export function isoTime(ts: Timestamp): string {
  const sec = ts.sec;
  // Records come in capture order: the same second is formatted again and again. The first
  // calls format it anyway, while V8 still collects type feedback for the callers (a branch
  // first met in optimised code deoptimises it: here once per run, in the transcript writer).
  let base = isoSecond === sec && isoWarm <= 0 ? isoSecondText : null;
  if (base === null) {
    isoWarm--;
    if (!(sec >= MIN_TS_SEC && sec <= MAX_TS_SEC)) return isoTime(clampTimestamp(ts));
    base = new Date(sec * 1000).toISOString().slice(0, 19); // 2024-01-01T00:00:00
    isoSecond = sec;
    isoSecondText = base;
  }
  const ns = ts.nsec;
  return `${base}.${ns >= 100000000 ? String(ns) : String(ns).padStart(9, '0')}Z`;
}
let isoSecond = Number.NaN;
let isoSecondText = '';
/** Calls of isoTime that format the second whatever the cache holds (see isoTime). */
let isoWarm = 256;

/**
 * Compares two timestamps: negative when a is earlier, 0 when equal. Without a branch, so that
 * optimised callers never meet an operation they have not run (the seconds differ only once per
 * capture second); the sign is exact for any pair (|nsec difference| < 1e9).
 */
export function compareTs(a: Timestamp, b: Timestamp): number {
  return (a.sec - b.sec) * 1e9 + (a.nsec - b.nsec);
}

/** Seconds (float) between two timestamps, b - a. */
export function tsDiff(a: Timestamp, b: Timestamp): number {
  return b.sec - a.sec + (b.nsec - a.nsec) / 1e9;
}
