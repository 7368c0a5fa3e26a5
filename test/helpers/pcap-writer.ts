/**
 * Deterministic synthetic captures for tests and fixture scripts.
 *
 * Layers:
 * - {@link buildFrame} / {@link buildUdpFrame} / {@link buildFragmentFrames}: one packet → link-layer
 *   frame bytes (Ethernet with optional VLAN tags, SLL, SLL2, NULL, LOOP, raw IP, IPv4, IPv6),
 *   with correct IPv4 header and TCP/UDP checksums.
 * - {@link writePcap} / {@link writePcapng} / {@link writePcapngSections}: frames → file bytes,
 *   any byte order, µs/ns or any pcapng if_tsresol, snaplen cuts, several interfaces/sections.
 * - {@link TcpConversation}: scripts a TCP dialogue (handshake, data in segments, FIN/RST)
 *   tracking sequence numbers modulo 2^32; `packets()` returns a mutable list that tests can
 *   reorder, duplicate, drop or overlap (see {@link swap}, {@link duplicate}, {@link subSegment}).
 *
 * Everything is a pure function of its arguments: same input, byte-identical output.
 */
import type { Timestamp } from '../../src/core/types.js';

/** TCP flag bits (same values as src/core/types.ts). */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** One TCP segment to put into a frame. */
export interface SynthPacket {
  ts: Timestamp;
  /** IPv4 dotted quad or IPv6 text (any valid form). */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  payload?: Uint8Array | string;
  /** Default: 6 when src contains ':', else 4. */
  ipVersion?: 4 | 6;
  /** 802.1Q VLAN ids, outermost first (Ethernet only). The outer tags of a stack of 2+ use TPID 0x88a8. */
  vlan?: number[];
  /** Default 65535. */
  window?: number;
  /** TCP options bytes (padded to 4 bytes with NOPs... zeros = EOL). */
  tcpOptions?: Uint8Array;
  /** IPv4 identification (default 0). */
  ipId?: number;
}

/** A UDP datagram to put into a frame. */
export interface SynthUdpPacket {
  ts: Timestamp;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload?: Uint8Array | string;
  ipVersion?: 4 | 6;
  vlan?: number[];
}

/** A frame for the file writers. `origLen` defaults to data.length. */
export interface SynthFrame {
  ts: Timestamp;
  data: Uint8Array;
  origLen?: number;
}

const enc = new TextEncoder();

/** Bytes of a string (UTF-8) or the array itself. */
export function bytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === 'string' ? enc.encode(p) : p;
}

/** Timestamp `sec` + `micros` µs (helper for tests). */
export function tsAt(sec: number, micros = 0): Timestamp {
  return { sec: sec + Math.floor(micros / 1e6), nsec: (micros % 1e6) * 1000 };
}

// ------------------------------------------------------------------------------------------------
// Addresses and checksums

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes. Throws on malformed text (test bug). */
export function parseIp(s: string): Uint8Array {
  if (!s.includes(':')) {
    const parts = s.split('.').map(Number);
    if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`bad IPv4 ${s}`);
    return Uint8Array.from(parts);
  }
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIp(text.slice(lastColon + 1));
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    text = text.slice(0, lastColon + 1) + '0'; // placeholder group, replaced below
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 ${s}`);
  const parse = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  let rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (tail.length) {
    if (halves.length === 2) rest = rest.slice(0, -1).concat(tail);
    else head.splice(head.length - 1, 1, ...tail);
  }
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) throw new Error(`bad IPv6 ${s}`);
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    if (!(g >= 0 && g <= 0xffff)) throw new Error(`bad IPv6 ${s}`);
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function sum16(b: Uint8Array, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) acc += b[b.length - 1]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536);
  return ~acc & 0xffff;
}

/** Internet checksum (RFC 1071) of `b`. */
export function inetChecksum(b: Uint8Array): number {
  return fold(sum16(b));
}

function pseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let acc = sum16(src) + sum16(dst);
  if (src.length === 4) acc += proto + len;
  else acc += Math.floor(len / 65536) + (len & 0xffff) + proto;
  return acc;
}

// ------------------------------------------------------------------------------------------------
// Headers

function tcpSegment(p: SynthPacket, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const payload = bytes(p.payload);
  const opts = p.tcpOptions ?? new Uint8Array(0);
  const optLen = (opts.length + 3) & ~3;
  const hlen = 20 + optLen;
  const seg = new Uint8Array(hlen + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, p.srcPort);
  dv.setUint16(2, p.dstPort);
  dv.setUint32(4, p.seq >>> 0);
  dv.setUint32(8, p.ack >>> 0);
  seg[12] = (hlen / 4) << 4;
  seg[13] = p.flags & 0xff;
  dv.setUint16(14, p.window ?? 65535);
  seg.set(opts, 20);
  seg.set(payload, hlen);
  dv.setUint16(16, fold(sum16(seg, pseudoSum(src, dst, 6, seg.length))));
  return seg;
}

function udpDatagram(p: SynthUdpPacket, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const payload = bytes(p.payload);
  const seg = new Uint8Array(8 + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, p.srcPort);
  dv.setUint16(2, p.dstPort);
  dv.setUint16(4, seg.length);
  seg.set(payload, 8);
  const c = fold(sum16(seg, pseudoSum(src, dst, 17, seg.length)));
  dv.setUint16(6, c === 0 ? 0xffff : c);
  return seg;
}

/** IPv4 header options for ipv4Packet (raw bytes, padded with zeros to 4). */
export interface Ipv4Extra {
  id?: number;
  ttl?: number;
  /** 13-bit fragment offset in 8-byte units and the MF flag. */
  fragOffset8?: number;
  moreFragments?: boolean;
  options?: Uint8Array;
}

/** An IPv4 packet around `l4` with a valid header checksum. */
export function ipv4Packet(src: Uint8Array, dst: Uint8Array, proto: number, l4: Uint8Array, extra: Ipv4Extra = {}): Uint8Array {
  const optLen = ((extra.options?.length ?? 0) + 3) & ~3;
  const ihl = 20 + optLen;
  const pkt = new Uint8Array(ihl + l4.length);
  const dv = new DataView(pkt.buffer);
  pkt[0] = 0x40 | (ihl / 4);
  dv.setUint16(2, pkt.length);
  dv.setUint16(4, extra.id ?? 0);
  dv.setUint16(6, ((extra.moreFragments ? 1 : 0) << 13) | (extra.fragOffset8 ?? 0));
  pkt[8] = extra.ttl ?? 64;
  pkt[9] = proto;
  pkt.set(src, 12);
  pkt.set(dst, 16);
  if (extra.options) pkt.set(extra.options, 20);
  dv.setUint16(10, inetChecksum(pkt.subarray(0, ihl)));
  pkt.set(l4, ihl);
  return pkt;
}

/** An IPv6 packet; `ext` are extension headers already encoded (their next-header chain ends in `proto`). */
export function ipv6Packet(src: Uint8Array, dst: Uint8Array, firstNextHeader: number, body: Uint8Array): Uint8Array {
  const pkt = new Uint8Array(40 + body.length);
  const dv = new DataView(pkt.buffer);
  pkt[0] = 0x60;
  dv.setUint16(4, body.length);
  pkt[6] = firstNextHeader;
  pkt[7] = 64;
  pkt.set(src, 8);
  pkt.set(dst, 24);
  pkt.set(body, 40);
  return pkt;
}

/** Link-layer framing of an IP packet for `linkType`. */
export function linkFrame(ip: Uint8Array, linkType: number, vlan: readonly number[] = []): Uint8Array {
  const v6 = ip[0]! >> 4 === 6;
  const etype = v6 ? 0x86dd : 0x0800;
  switch (linkType) {
    case 1: {
      const f = new Uint8Array(14 + 4 * vlan.length + ip.length);
      f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
      let o = 12;
      vlan.forEach((id, i) => {
        const tpid = vlan.length > 1 && i < vlan.length - 1 ? 0x88a8 : 0x8100;
        f[o] = tpid >> 8;
        f[o + 1] = tpid & 0xff;
        f[o + 2] = (id >> 8) & 0x0f;
        f[o + 3] = id & 0xff;
        o += 4;
      });
      f[o] = etype >> 8;
      f[o + 1] = etype & 0xff;
      f.set(ip, o + 2);
      return f;
    }
    case 113: {
      const f = new Uint8Array(16 + ip.length);
      f[1] = 0; // packet type: to us
      f[3] = 1; // ARPHRD_ETHER
      f[5] = 6;
      f.set([0x02, 0, 0, 0, 0, 0x01], 6);
      f[14] = etype >> 8;
      f[15] = etype & 0xff;
      f.set(ip, 16);
      return f;
    }
    case 276: {
      const f = new Uint8Array(20 + ip.length);
      f[0] = etype >> 8;
      f[1] = etype & 0xff;
      f[7] = 2; // interface index
      f[9] = 1; // ARPHRD_ETHER
      f[11] = 6;
      f.set([0x02, 0, 0, 0, 0, 0x01], 12);
      f.set(ip, 20);
      return f;
    }
    case 0:
    case 108: {
      // NULL: AF in host order (little-endian here); LOOP: network order. AF_INET6 = 30 (macOS).
      const af = v6 ? 30 : 2;
      const f = new Uint8Array(4 + ip.length);
      new DataView(f.buffer).setUint32(0, af, linkType === 0);
      f.set(ip, 4);
      return f;
    }
    case 12:
    case 14:
    case 101:
    case 228:
    case 229:
      return ip.slice();
    default:
      throw new Error(`linkFrame: unsupported link type ${linkType}`);
  }
}

function ipVersionOf(p: { src: string; ipVersion?: 4 | 6 }): 4 | 6 {
  return p.ipVersion ?? (p.src.includes(':') ? 6 : 4);
}

/** The IP packet (no link layer) of a TCP segment. */
export function buildIpPacket(p: SynthPacket): Uint8Array {
  const src = parseIp(p.src);
  const dst = parseIp(p.dst);
  const seg = tcpSegment(p, src, dst);
  return ipVersionOf(p) === 6 ? ipv6Packet(src, dst, 6, seg) : ipv4Packet(src, dst, 6, seg, { id: p.ipId ?? 0 });
}

/** One TCP segment as a frame of `linkType` (default Ethernet), with valid IPv4 and TCP checksums. */
export function buildFrame(p: SynthPacket, linkType = 1): Uint8Array {
  return linkFrame(buildIpPacket(p), linkType, p.vlan);
}

/** One UDP datagram as a frame of `linkType`. */
export function buildUdpFrame(p: SynthUdpPacket, linkType = 1): Uint8Array {
  const src = parseIp(p.src);
  const dst = parseIp(p.dst);
  const dg = udpDatagram(p, src, dst);
  const ip = ipVersionOf(p) === 6 ? ipv6Packet(src, dst, 17, dg) : ipv4Packet(src, dst, 17, dg);
  return linkFrame(ip, linkType, p.vlan);
}

/**
 * A TCP segment split into IP fragments carrying `fragmentBytes` of IP payload each (a multiple
 * of 8), in order. IPv4 uses the header's MF/offset; IPv6 a Fragment extension header.
 */
export function buildFragmentFrames(p: SynthPacket, fragmentBytes: number, linkType = 1, id = 0x1234): Uint8Array[] {
  if (fragmentBytes % 8 !== 0 || fragmentBytes <= 0) throw new Error('fragmentBytes must be a positive multiple of 8');
  const src = parseIp(p.src);
  const dst = parseIp(p.dst);
  const seg = tcpSegment(p, src, dst);
  const out: Uint8Array[] = [];
  for (let off = 0; off < seg.length; off += fragmentBytes) {
    const part = seg.subarray(off, Math.min(seg.length, off + fragmentBytes));
    const more = off + fragmentBytes < seg.length;
    let ip: Uint8Array;
    if (ipVersionOf(p) === 4) {
      ip = ipv4Packet(src, dst, 6, part, { id, fragOffset8: off / 8, moreFragments: more });
    } else {
      const body = new Uint8Array(8 + part.length);
      const dv = new DataView(body.buffer);
      body[0] = 6; // next header: TCP
      dv.setUint16(2, off | (more ? 1 : 0));
      dv.setUint32(4, id);
      body.set(part, 8);
      ip = ipv6Packet(src, dst, 44, body);
    }
    out.push(linkFrame(ip, linkType, p.vlan));
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// File writers

/** Options of {@link writePcap}. */
export interface PcapOptions {
  /** Nanosecond magic (a1b23c4d) instead of microseconds. */
  nanos?: boolean;
  bigEndian?: boolean;
  /** Default 1 (Ethernet). */
  linkType?: number;
  /** Header snaplen (default 262144); frames longer than it are cut (caplen = snaplen, origlen = full). */
  snaplen?: number;
  /** Value ORed into the header's link-type field (e.g. FCS bits 0x14000000). */
  linkTypeExtraBits?: number;
}

/** A classic pcap file (draft-ietf-opsawg-pcap) holding `frames`. */
export function writePcap(frames: readonly SynthFrame[], opts: PcapOptions = {}): Uint8Array {
  const le = !opts.bigEndian;
  const snaplen = opts.snaplen ?? 262144;
  let size = 24;
  for (const f of frames) size += 16 + Math.min(f.data.length, snaplen);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, snaplen, le);
  dv.setUint32(20, ((opts.linkType ?? 1) | (opts.linkTypeExtraBits ?? 0)) >>> 0, le);
  let o = 24;
  for (const f of frames) {
    const cap = Math.min(f.data.length, snaplen);
    dv.setUint32(o, f.ts.sec, le);
    dv.setUint32(o + 4, opts.nanos ? f.ts.nsec : Math.floor(f.ts.nsec / 1000), le);
    dv.setUint32(o + 8, cap, le);
    dv.setUint32(o + 12, f.origLen ?? f.data.length, le);
    out.set(f.data.subarray(0, cap), o + 16);
    o += 16 + cap;
  }
  return out;
}

/** One pcapng interface (IDB). */
export interface PcapngInterface {
  linkType: number;
  /** 0 = no limit (default). Frames are cut to it in EPB/SPB. */
  snaplen?: number;
  /** Raw if_tsresol byte: 6 = µs (default, option omitted), 9 = ns, 0x80|k = 2^-k. */
  tsresol?: number;
  /** if_tsoffset in seconds (timestamps are written relative to it). */
  tsoffset?: number;
  name?: string;
}

/** One block of a pcapng section (after its IDBs, which are written first). */
export type PcapngBlock =
  | { type: 'epb'; iface: number; ts: Timestamp; data: Uint8Array; origLen?: number }
  | { type: 'spb'; data: Uint8Array; origLen?: number }
  | { type: 'pb'; iface: number; ts: Timestamp; data: Uint8Array; origLen?: number }
  | { type: 'dsb'; secretsType: number; data: Uint8Array }
  | { type: 'raw'; blockType: number; body: Uint8Array };

/** One pcapng section: SHB, IDBs, then blocks. */
export interface PcapngSection {
  bigEndian?: boolean;
  interfaces: PcapngInterface[];
  blocks: PcapngBlock[];
}

/** A pcapng file of one section with one interface holding `frames` as EPBs. */
export function writePcapng(
  frames: readonly SynthFrame[],
  opts: { bigEndian?: boolean; linkType?: number; tsresol?: number; snaplen?: number } = {},
): Uint8Array {
  const iface: PcapngInterface = { linkType: opts.linkType ?? 1 };
  if (opts.tsresol !== undefined) iface.tsresol = opts.tsresol;
  if (opts.snaplen !== undefined) iface.snaplen = opts.snaplen;
  const section: PcapngSection = {
    interfaces: [iface],
    blocks: frames.map((f) => ({ type: 'epb' as const, iface: 0, ts: f.ts, data: f.data, ...(f.origLen !== undefined ? { origLen: f.origLen } : {}) })),
  };
  if (opts.bigEndian !== undefined) section.bigEndian = opts.bigEndian;
  return writePcapngSections([section]);
}

/** Timestamp → 64-bit tick count for a raw if_tsresol byte and if_tsoffset. */
export function pcapngTicks(ts: Timestamp, tsresol = 6, tsoffset = 0): bigint {
  const pow2 = (tsresol & 0x80) !== 0;
  const k = BigInt(tsresol & 0x7f);
  const units = pow2 ? 1n << k : 10n ** k;
  return BigInt(ts.sec - tsoffset) * units + (BigInt(ts.nsec) * units) / 1_000_000_000n;
}

/** A pcapng file (draft-ietf-opsawg-pcapng) of several sections, each with its own byte order. */
export function writePcapngSections(sections: readonly PcapngSection[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of sections) {
    const le = !s.bigEndian;
    const block = (type: number, body: Uint8Array): void => {
      const padded = (body.length + 3) & ~3;
      const total = 12 + padded;
      const b = new Uint8Array(total);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, type, le);
      dv.setUint32(4, total, le);
      b.set(body, 8);
      dv.setUint32(total - 4, total, le);
      parts.push(b);
    };
    const opt = (code: number, value: Uint8Array): Uint8Array => {
      const b = new Uint8Array(4 + ((value.length + 3) & ~3));
      const dv = new DataView(b.buffer);
      dv.setUint16(0, code, le);
      dv.setUint16(2, value.length, le);
      b.set(value, 4);
      return b;
    };
    // SHB: BOM, version 1.0, section length -1.
    const shb = new Uint8Array(16);
    const sdv = new DataView(shb.buffer);
    sdv.setUint32(0, 0x1a2b3c4d, le);
    sdv.setUint16(4, 1, le);
    sdv.setUint16(6, 0, le);
    sdv.setInt32(8, -1, le);
    sdv.setInt32(12, -1, le);
    block(0x0a0d0d0a, shb);
    for (const i of s.interfaces) {
      const opts: Uint8Array[] = [];
      if (i.name !== undefined) opts.push(opt(2, enc.encode(i.name)));
      if (i.tsresol !== undefined && i.tsresol !== 6) opts.push(opt(9, Uint8Array.of(i.tsresol)));
      if (i.tsoffset !== undefined) {
        const v = new Uint8Array(8);
        new DataView(v.buffer).setBigInt64(0, BigInt(i.tsoffset), le);
        opts.push(opt(14, v));
      }
      if (opts.length) opts.push(new Uint8Array(4)); // opt_endofopt
      const body = concat([new Uint8Array(8), ...opts]);
      const dv = new DataView(body.buffer);
      dv.setUint16(0, i.linkType, le);
      dv.setUint32(4, i.snaplen ?? 0, le);
      block(1, body);
    }
    for (const b of s.blocks) {
      if (b.type === 'epb' || b.type === 'pb') {
        const i = s.interfaces[b.iface];
        const snap = i?.snaplen ? i.snaplen : Infinity;
        const cap = Math.min(b.data.length, snap);
        const body = new Uint8Array(20 + cap);
        const dv = new DataView(body.buffer);
        if (b.type === 'epb') dv.setUint32(0, b.iface, le);
        else dv.setUint16(0, b.iface, le);
        const t = pcapngTicks(b.ts, i?.tsresol ?? 6, i?.tsoffset ?? 0);
        dv.setUint32(4, Number(t >> 32n), le);
        dv.setUint32(8, Number(t & 0xffffffffn), le);
        dv.setUint32(12, cap, le);
        dv.setUint32(16, b.origLen ?? b.data.length, le);
        body.set(b.data.subarray(0, cap), 20);
        block(b.type === 'epb' ? 6 : 2, body);
      } else if (b.type === 'spb') {
        const snap = s.interfaces[0]?.snaplen ? s.interfaces[0].snaplen : Infinity;
        const cap = Math.min(b.data.length, snap);
        const body = new Uint8Array(4 + cap);
        new DataView(body.buffer).setUint32(0, b.origLen ?? b.data.length, le);
        body.set(b.data.subarray(0, cap), 4);
        block(3, body);
      } else if (b.type === 'dsb') {
        const body = new Uint8Array(8 + b.data.length);
        const dv = new DataView(body.buffer);
        dv.setUint32(0, b.secretsType, le);
        dv.setUint32(4, b.data.length, le);
        body.set(b.data, 8);
        block(10, body);
      } else {
        block(b.blockType, b.body);
      }
    }
  }
  return concat(parts);
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// TCP conversations

/** Options of {@link TcpConversation}. */
export interface ConversationOptions {
  /** Initial sequence numbers (default client 1000, server 5000). Values near 2^32 test wrap-around. */
  isn?: { client?: number; server?: number };
  /** Default: from the client address. */
  ipVersion?: 4 | 6;
  /** Default segment size for sends (default 1460). */
  mss?: number;
  /** Time of the first packet (default 2024-01-01T00:00:00Z). */
  start?: Timestamp;
  /** Time between packets in µs (default 1000). */
  stepMicros?: number;
  vlan?: number[];
}

/**
 * Scripts one TCP connection. Each call appends packets with consecutive timestamps and
 * correct seq/ack (mod 2^32). `packets()` returns a fresh mutable copy of the list.
 */
export class TcpConversation {
  private readonly list: SynthPacket[] = [];
  /** Next sequence number each side sends. */
  clientSeq: number;
  serverSeq: number;
  private readonly mss: number;
  private readonly stepNs: number;
  private now: Timestamp;
  private readonly ipVersion: 4 | 6;

  constructor(
    readonly client: { ip: string; port: number },
    readonly server: { ip: string; port: number },
    private readonly opts: ConversationOptions = {},
  ) {
    this.clientSeq = (opts.isn?.client ?? 1000) >>> 0;
    this.serverSeq = (opts.isn?.server ?? 5000) >>> 0;
    this.mss = opts.mss ?? 1460;
    this.stepNs = (opts.stepMicros ?? 1000) * 1000;
    this.now = opts.start ?? { sec: 1704067200, nsec: 0 };
    this.ipVersion = opts.ipVersion ?? (client.ip.includes(':') ? 6 : 4);
  }

  private tick(): Timestamp {
    const t = this.now;
    const ns = t.nsec + this.stepNs;
    this.now = { sec: t.sec + Math.floor(ns / 1e9), nsec: ns % 1e9 };
    return t;
  }

  /** Appends one segment from `from` with explicit flags/payload; advances that side's seq. */
  send(from: 'client' | 'server', flags: number, payload: Uint8Array | string = new Uint8Array(0)): SynthPacket {
    const body = bytes(payload);
    const c = from === 'client';
    const a = c ? this.client : this.server;
    const b = c ? this.server : this.client;
    const seq = c ? this.clientSeq : this.serverSeq;
    const ack = (flags & ACK) !== 0 ? (c ? this.serverSeq : this.clientSeq) : 0;
    const p: SynthPacket = {
      ts: this.tick(),
      src: a.ip,
      dst: b.ip,
      srcPort: a.port,
      dstPort: b.port,
      seq,
      ack,
      flags,
      payload: body,
      ipVersion: this.ipVersion,
    };
    if (this.opts.vlan) p.vlan = this.opts.vlan;
    const adv = body.length + ((flags & SYN) !== 0 ? 1 : 0) + ((flags & FIN) !== 0 ? 1 : 0);
    if (c) this.clientSeq = (seq + adv) >>> 0;
    else this.serverSeq = (seq + adv) >>> 0;
    this.list.push(p);
    return p;
  }

  /** SYN, SYN-ACK, ACK. */
  handshake(): this {
    this.send('client', SYN);
    this.send('server', SYN | ACK);
    this.send('client', ACK);
    return this;
  }

  /** Data from the client in segments of `segmentSize` (default mss), PSH on the last, then an ACK from the server. */
  clientSends(data: Uint8Array | string, opts: { segmentSize?: number; noAck?: boolean } = {}): this {
    return this.sends('client', data, opts);
  }

  /** Data from the server, as {@link clientSends}. */
  serverSends(data: Uint8Array | string, opts: { segmentSize?: number; noAck?: boolean } = {}): this {
    return this.sends('server', data, opts);
  }

  private sends(from: 'client' | 'server', data: Uint8Array | string, opts: { segmentSize?: number; noAck?: boolean }): this {
    const b = bytes(data);
    const size = opts.segmentSize ?? this.mss;
    for (let o = 0; o < b.length; o += size) {
      const last = o + size >= b.length;
      this.send(from, ACK | (last ? PSH : 0), b.subarray(o, Math.min(b.length, o + size)));
    }
    if (!opts.noAck) this.send(from === 'client' ? 'server' : 'client', ACK);
    return this;
  }

  /** FIN from `from` (default client), FIN-ACK from the other side, final ACK. */
  fin(from: 'client' | 'server' = 'client'): this {
    const other = from === 'client' ? 'server' : 'client';
    this.send(from, FIN | ACK);
    this.send(other, FIN | ACK);
    this.send(from, ACK);
    return this;
  }

  /** RST from `from` (default client). */
  rst(from: 'client' | 'server' = 'client'): this {
    this.send(from, RST | ACK);
    return this;
  }

  /** A copy of the packets so far (objects are copies too: mutate freely). */
  packets(): SynthPacket[] {
    return this.list.map((p) => ({ ...p }));
  }

  /** The packets as frames of `linkType`. */
  frames(linkType = 1): SynthFrame[] {
    return this.list.map((p) => ({ ts: p.ts, data: buildFrame(p, linkType) }));
  }

  /** The packets as a classic pcap file. */
  pcap(opts: PcapOptions = {}): Uint8Array {
    return writePcap(this.frames(opts.linkType ?? 1), opts);
  }
}

/** Frames for a list of packets. */
export function framesOf(packets: readonly SynthPacket[], linkType = 1): SynthFrame[] {
  return packets.map((p) => ({ ts: p.ts, data: buildFrame(p, linkType) }));
}

/** Swaps two packets in place (out-of-order delivery). Timestamps move with the packets. */
export function swap<T>(list: T[], i: number, j: number): T[] {
  const t = list[i]!;
  list[i] = list[j]!;
  list[j] = t;
  return list;
}

/** Inserts a copy of packet `i` right after it (retransmission / duplicate). */
export function duplicate(list: SynthPacket[], i: number): SynthPacket[] {
  list.splice(i + 1, 0, { ...list[i]! });
  return list;
}

/** Removes packet `i` (capture loss). */
export function drop<T>(list: T[], i: number): T[] {
  list.splice(i, 1);
  return list;
}

/**
 * A segment carrying bytes [from, to) of `p`'s payload (seq adjusted mod 2^32), e.g. to build
 * overlapping retransmissions. `replacement` substitutes different bytes of the same length.
 */
export function subSegment(p: SynthPacket, from: number, to: number, replacement?: Uint8Array | string): SynthPacket {
  const body = bytes(p.payload).subarray(from, to);
  const r = replacement === undefined ? body : bytes(replacement);
  if (r.length !== body.length) throw new Error('replacement must have the same length');
  return { ...p, seq: (p.seq + from) >>> 0, payload: r.slice() };
}
