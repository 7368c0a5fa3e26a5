/**
 * Robustness-test support: record boundaries of pcap/pcapng files, seeded byte mutations,
 * and small wrappers to run the whole pipeline on bytes with a time bound.
 *
 * Everything is a pure function of its arguments (mutations take a seed): the same seed gives
 * the same mutated capture, so a failure is reproducible from the seed printed in the message.
 */
import { Readable } from 'node:stream';
import { analyze } from '../../src/pipeline/analyze.js';
import type { CaseSummary } from '../../src/pipeline/analyze.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import type { Limits } from '../../src/core/limits.js';
import { openCapture } from '../../src/capture/open-capture.js';
import { PacketDecoder } from '../../src/decode/packet-decoder.js';
import type { RecordSet } from '../../src/output/memory-sink.js';
import type { TranscriptRecord } from '../../src/core/records.js';
import { mulberry32 } from './chunkings.js';
import type { Splitter } from './chunkings.js';

/** Where each record of a capture starts, and where its length field is. */
export interface RecordLayout {
  format: 'pcap' | 'pcapng';
  littleEndian: boolean;
  /** Offset of every record/block start after the file header (pcap) or of every block (pcapng), then the file end. */
  boundaries: number[];
  /** Offset of each record's length field (pcap caplen, pcapng block total length), same order as boundaries (without the end). */
  lengthFields: number[];
}

/**
 * Walks a well-formed pcap or pcapng file and returns its record layout.
 * Throws on malformed input (a test bug: only use it on the original, unmutated capture).
 */
export function recordLayout(bytes: Uint8Array): RecordLayout {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  const boundaries: number[] = [];
  const lengthFields: number[] = [];
  if (magic === 0xa1b2c3d4 || magic === 0xd4c3b2a1 || magic === 0xa1b23c4d || magic === 0x4d3cb2a1) {
    const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
    let off = 24;
    while (off + 16 <= bytes.length) {
      boundaries.push(off);
      lengthFields.push(off + 8);
      off += 16 + dv.getUint32(off + 8, le);
    }
    if (off !== bytes.length) throw new Error(`pcap does not end on a record boundary (${off} vs ${bytes.length})`);
    boundaries.push(off);
    return { format: 'pcap', littleEndian: le, boundaries, lengthFields };
  }
  if (magic === 0x0a0d0d0a) {
    let off = 0;
    let le = true;
    while (off + 12 <= bytes.length) {
      if (dv.getUint32(off, false) === 0x0a0d0d0a) le = dv.getUint32(off + 8, true) === 0x1a2b3c4d;
      boundaries.push(off);
      lengthFields.push(off + 4);
      const total = dv.getUint32(off + 4, le);
      if (total < 12) throw new Error(`bad pcapng block length at ${off}`);
      off += total;
    }
    if (off !== bytes.length) throw new Error(`pcapng does not end on a block boundary (${off} vs ${bytes.length})`);
    boundaries.push(off);
    return { format: 'pcapng', littleEndian: le, boundaries, lengthFields };
  }
  throw new Error('not a pcap/pcapng file');
}

/** A seeded mutation: what was done, for failure messages. */
export interface Mutation {
  bytes: Uint8Array;
  ops: string[];
}

/** Interesting 32-bit values to write into a length field. */
const LENGTHS = [0, 1, 3, 11, 12, 15, 16, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 65535, 65536, 262145];

/**
 * Applies 1..maxOps seeded mutations to a copy of `original`: byte flips, runs of random bytes
 * written over the data, insertions, deletions, and (when `layout` is given) record length
 * fields overwritten with hostile or off-by-a-little values. The first `protect` bytes are left
 * alone (e.g. 4 to keep the magic so the reader gets past format detection).
 */
export function mutateCapture(original: Uint8Array, seed: number, layout?: RecordLayout, opts: { maxOps?: number; protect?: number } = {}): Mutation {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const protect = opts.protect ?? 4;
  let b = Uint8Array.from(original);
  const ops: string[] = [];
  const nOps = 1 + int(opts.maxOps ?? 4);
  for (let k = 0; k < nOps; k++) {
    const pos = protect + int(Math.max(1, b.length - protect));
    switch (int(6)) {
      case 0: {
        const bit = 1 << int(8);
        if (pos < b.length) b[pos] ^= bit;
        ops.push(`flip@${pos}^${bit}`);
        break;
      }
      case 1: {
        const n = 1 + int(16);
        for (let i = 0; i < n && pos + i < b.length; i++) b[pos + i] = int(256);
        ops.push(`scribble@${pos}+${n}`);
        break;
      }
      case 2: {
        const n = 1 + int(64);
        const ins = new Uint8Array(n);
        for (let i = 0; i < n; i++) ins[i] = int(256);
        const out = new Uint8Array(b.length + n);
        out.set(b.subarray(0, pos), 0);
        out.set(ins, pos);
        out.set(b.subarray(pos), pos + n);
        b = out;
        ops.push(`insert@${pos}+${n}`);
        break;
      }
      case 3: {
        const n = 1 + int(64);
        const end = Math.min(b.length, pos + n);
        const out = new Uint8Array(b.length - (end - pos));
        out.set(b.subarray(0, pos), 0);
        out.set(b.subarray(end), pos);
        b = out;
        ops.push(`delete@${pos}-${end - pos}`);
        break;
      }
      default: {
        // Record length corruption (twice as likely: it is the interesting case for framing).
        if (!layout || layout.lengthFields.length === 0) break;
        const f = layout.lengthFields[int(layout.lengthFields.length)]!;
        if (f + 4 > b.length) break;
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const cur = dv.getUint32(f, layout.littleEndian);
        const v = rnd() < 0.5 ? LENGTHS[int(LENGTHS.length)]! : (cur + int(9) - 4) >>> 0;
        dv.setUint32(f, v, layout.littleEndian);
        ops.push(`length@${f}=${v}`);
      }
    }
  }
  return { bytes: b, ops };
}

/**
 * Runs the whole pipeline on capture bytes (as a stream, records kept in memory). `split` cuts the
 * bytes into the stream's chunks (default: one chunk); each chunk is a fresh copy.
 */
export async function analyzeBytes(bytes: Uint8Array, limits?: Partial<Limits>, split?: Splitter): Promise<CaseSummary & { records: RecordSet }> {
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stream = Readable.from(split ? split(whole).map((c) => Buffer.from(c)) : [whole]);
  const s = await analyze(stream, { outDir: null, limits });
  if (!s.records) throw new Error('analyze(outDir: null) returned no records');
  return s as CaseSummary & { records: RecordSet };
}

/** Rejects when `p` has not settled within `ms` (the pipeline is synchronous per chunk: a hang shows as this). */
export function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A transcript entry without provenance that depends on frame numbering or the capture hash. */
export type WireEntry = Pick<TranscriptRecord, 'side' | 'kind' | 'command' | 'argument' | 'code' | 'status' | 'tag' | 'lines' | 'bytes'> & {
  protocol: string;
};

/** The transcript as wire facts only (frames, times, hashes and session ids dropped), for equivalence checks. */
export function wireTranscript(t: readonly TranscriptRecord[]): WireEntry[] {
  return t.map((e) => {
    const w: WireEntry = { protocol: e.protocol, side: e.side, kind: e.kind, lines: e.lines };
    if (e.command !== undefined) w.command = e.command;
    if (e.argument !== undefined) w.argument = e.argument;
    if (e.code !== undefined) w.code = e.code;
    if (e.status !== undefined) w.status = e.status;
    if (e.tag !== undefined) w.tag = e.tag;
    if (e.bytes !== undefined) w.bytes = e.bytes;
    return w;
  });
}

/** The TCP flow of each frame, in frame order (`src:port>dst:port`), or null for other frames. */
export async function tcpFlows(bytes: Uint8Array): Promise<(string | null)[]> {
  const report = (): void => {};
  const src = await openCapture(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]), { report });
  const decoder = new PacketDecoder({ report, limits: DEFAULT_LIMITS });
  const flows: (string | null)[] = [];
  for await (const f of src) {
    const r = decoder.decode(f);
    flows[f.index - 1] = r.kind === 'tcp' ? `${r.packet.src}:${r.packet.srcPort}>${r.packet.dst}:${r.packet.dstPort}` : null;
  }
  return flows;
}

/**
 * The capture with adjacent frames of the two directions of one TCP connection swapped (each
 * such pair with probability `rate`), as when a tap's two directions are merged by timestamp:
 * each direction keeps its own order, timestamps stay in file order. Frame numbers change; a
 * correct analysis gives the same wire transcript, messages and credentials.
 */
export function swapDirections(bytes: Uint8Array, flows: readonly (string | null)[], seed: number, rate = 0.5): { bytes: Uint8Array; swaps: number } {
  const layout = recordLayout(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Record index of each frame (pcapng: only packet blocks are frames).
  const packetRecords: number[] = [];
  for (let i = 0; i + 1 < layout.boundaries.length; i++) {
    if (layout.format === 'pcap') packetRecords.push(i);
    else {
      const type = dv.getUint32(layout.boundaries[i]!, layout.littleEndian);
      if (type === 6 || type === 3 || type === 2) packetRecords.push(i);
    }
  }
  const order = layout.boundaries.slice(0, -1).map((_, i) => i);
  const rnd = mulberry32(seed);
  let swaps = 0;
  const reverse = (f: string): string => {
    const [a, b] = f.split('>');
    return `${b}>${a}`;
  };
  for (let k = 0; k + 1 < packetRecords.length; k++) {
    const r0 = packetRecords[k]!;
    const r1 = packetRecords[k + 1]!;
    const f0 = flows[k];
    const f1 = flows[k + 1];
    if (r1 !== r0 + 1 || f0 == null || f1 == null || f1 !== reverse(f0) || rnd() >= rate) continue;
    order[r0] = r1;
    order[r1] = r0;
    swaps++;
    k++;
  }
  const out = new Uint8Array(bytes.length);
  out.set(bytes.subarray(0, layout.boundaries[0]!), 0);
  let o = layout.boundaries[0]!;
  for (let i = 0; i < order.length; i++) {
    const j = order[i]!;
    const piece = bytes.subarray(layout.boundaries[j]!, layout.boundaries[j + 1]!);
    out.set(piece, o);
    if (j !== i) {
      // Keep the timestamp of the position (the merge was by timestamp).
      const tsAt = layout.format === 'pcap' ? 0 : 12;
      out.set(bytes.subarray(layout.boundaries[i]! + tsAt, layout.boundaries[i]! + tsAt + 8), o + tsAt);
    }
    o += piece.length;
  }
  return { bytes: out, swaps };
}

/**
 * What must not depend on the order the two directions were captured in: each session's
 * transcript (wire facts only), messages and credentials, as a string (sessions, messages and
 * credentials sorted, since ids and frame numbers change).
 */
export function reorderView(r: RecordSet): string {
  const bySession = new Map<string, WireEntry[]>();
  const wire = wireTranscript(r.transcript);
  r.transcript.forEach((t, i) => {
    const list = bySession.get(t.session_id) ?? [];
    list.push(wire[i]!);
    bySession.set(t.session_id, list);
  });
  const sessions = [...bySession.values()].map((l) => JSON.stringify(l)).sort();
  const messages = r.messages.map((m) => JSON.stringify([m.sha256, m.partial, m.size, m.attachments.map((a) => a.sha256)])).sort();
  const credentials = r.credentials.map((c) => JSON.stringify([c.protocol, c.mechanism, c.username, c.outcome, c.secret ?? null])).sort();
  return JSON.stringify({ sessions, messages, credentials });
}
