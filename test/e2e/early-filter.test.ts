// The early filters (TcpEarlyFilter, wired to TcpReassembler.consumeIgnoredV4/V6, and the
// record-level PacketDecoder.consumeIgnoredRecord) drop segments of ignored connections before a
// packet is built. They must change nothing: the same frames, decoded with and without them,
// must give the reassembler's handlers exactly the same
// calls (data, gaps, ends, closes with their frames), the same anomalies and the same stats.
// Scenarios mix ignored and kept connections, IPv4 and IPv6, port reuse after FIN and RST,
// idle expiry, mid-stream starts, retransmissions, reordering and 4-tuples sharing ports.
import test from 'node:test';
import assert from 'node:assert/strict';
import { resolveLimits } from '../../src/core/limits.js';
import type { CaptureFrame, Timestamp } from '../../src/core/types.js';
import { PacketDecoder } from '../../src/decode/packet-decoder.js';
import { TcpReassembler } from '../../src/reassembly/tcp-reassembler.js';
import { fastKeyOf } from '../../src/reassembly/connection-table.js';
import { RecordingFactory } from '../../src/reassembly/recording-handler.js';
import { ACK, buildFrame, PSH, TcpConversation, type SynthPacket } from '../helpers/pcap-writer.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 4294967296;
  };
}

const HOSTS = ['10.0.0.1', '10.0.0.2', '192.168.7.9', 'fd00::1', 'fd00::2'];

function scenario(seed: number): SynthPacket[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const all: SynthPacket[] = [];
  const conversations = 2 + Math.floor(rnd() * 5);
  let t0 = 1704067200;
  for (let i = 0; i < conversations; i++) {
    const v6 = rnd() < 0.25;
    const hosts = HOSTS.filter((h) => h.includes(':') === v6);
    const client = { ip: pick(hosts), port: pick([40000, 40001, 40002]) };
    // Few ports, so 4-tuples repeat (port reuse) and keys collide in interesting ways.
    const server = { ip: pick(hosts), port: pick([25, 80, 443, 8080]) };
    // Sometimes far later than the previous one (idle expiry, TIME_WAIT over).
    t0 += rnd() < 0.3 ? 700 : Math.floor(rnd() * 5);
    const conv = new TcpConversation(client, server, {
      isn: { client: Math.floor(rnd() * 2 ** 32), server: Math.floor(rnd() * 2 ** 32) },
      start: { sec: t0, nsec: Math.floor(rnd() * 1e9) },
      mss: 200 + Math.floor(rnd() * 800),
    });
    const midStream = rnd() < 0.2;
    if (!midStream) conv.handshake();
    const exchanges = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < exchanges; k++) {
      conv.clientSends(`C${i}.${k} `.repeat(1 + Math.floor(rnd() * 300)));
      conv.serverSends(`S${i}.${k} `.repeat(1 + Math.floor(rnd() * 300)));
      if (rnd() < 0.2) conv.send('client', ACK); // pure ACK
    }
    const end = rnd();
    if (end < 0.5) conv.fin('client').fin('server');
    else if (end < 0.7) conv.rst(rnd() < 0.5 ? 'client' : 'server');
    let pkts = conv.packets();
    if (midStream) pkts = pkts.slice(1 + Math.floor(rnd() * 3));
    // VLAN tags: none, one, two (the record-level filter's limit) or three (decoded only).
    const v = rnd();
    const vlan = v < 0.6 ? undefined : v < 0.8 ? [100] : v < 0.95 ? [100, 200] : [1, 2, 3];
    if (vlan) pkts = pkts.map((p) => ({ ...p, vlan }));
    all.push(...pkts);
  }
  // Capture order: by time, with some local disorder and duplicates (retransmissions).
  all.sort((a, b) => a.ts.sec - b.ts.sec || a.ts.nsec - b.ts.nsec);
  for (let i = 0; i + 1 < all.length; i++) {
    const r = rnd();
    if (r < 0.04) [all[i], all[i + 1]] = [all[i + 1]!, all[i]!];
    else if (r < 0.07) all.splice(i + 1, 0, { ...all[i]!, ts: all[i + 1]!.ts });
  }
  return all;
}

/**
 * Decodes the packets as frames: with no early filter, with the decoder's (after the IP header),
 * or with the record-level one first (consumeIgnoredRecord, as the pipeline's parser prefilter
 * calls it) and the decoder's after it. Now and then a frame is cut short (snaplen), so its IP
 * length runs past the frame: only decode() may take those.
 */
function run(packets: SynthPacket[], early: 'none' | 'decoder' | 'record', seed = 0): { rec: RecordingFactory; stats: unknown } {
  const rec = new RecordingFactory({ ignoreAfterData: 1 });
  const limits = resolveLimits({});
  const decoder = new PacketDecoder({ report: rec.report, limits });
  const reassembler = new TcpReassembler({ factory: rec, limits, report: rec.report, serverPorts: new Set([25, 80, 443, 8080]) });
  if (early !== 'none') decoder.earlyFilter = reassembler;
  const rnd = prng(seed ^ 0x5bd1e995);
  let last: Timestamp | null = null;
  packets.forEach((p, i) => {
    const full = buildFrame(p);
    const cut = full.length > 80 && rnd() < 0.03 ? 1 + Math.floor(rnd() * 20) : 0;
    const data = cut > 0 ? full.subarray(0, full.length - cut) : full;
    last = p.ts;
    if (early === 'record' && decoder.consumeIgnoredRecord(data, 0, data.length, 1, i + 1, p.ts)) return;
    const frame: CaptureFrame = {
      index: i + 1,
      ts: p.ts,
      linkType: 1,
      interfaceId: 0,
      capturedLength: data.length,
      originalLength: full.length,
      data,
    };
    const r = decoder.decode(frame);
    if (r.kind === 'tcp') reassembler.add(r.packet);
  });
  reassembler.flushAll(last ? { frame: packets.length, ts: last } : undefined);
  return { rec, stats: reassembler.stats };
}

function comparable(rec: RecordingFactory): unknown {
  return {
    events: rec.events.map((e) => (e.kind === 'data' ? { ...e, view: undefined, bytes: Buffer.from(e.bytes).toString('latin1') } : e)),
    connections: rec.connections,
    anomalies: rec.anomalies,
  };
}

test('early filters (decoder and record level): handlers, anomalies and stats are the same as without them (300 scenarios)', () => {
  let consumedSomewhere = false;
  for (let seed = 1; seed <= 300; seed++) {
    const packets = scenario(seed);
    const a = run(packets, 'none', seed);
    for (const mode of ['decoder', 'record'] as const) {
      const b = run(packets, mode, seed);
      assert.deepEqual(comparable(b.rec), comparable(a.rec), `seed ${seed} (${mode})`);
      assert.deepEqual(b.stats, a.stats, `seed ${seed} (${mode})`);
    }
    if (a.rec.events.length > 0) consumedSomewhere = true;
  }
  assert.ok(consumedSomewhere);
});

test('early filters: the record level consumes data segments of ignored IPv4 connections (untagged, up to two VLAN tags), the decoder level the IPv6 ones and deeper stacks; never SYN/FIN/RST or cut frames', () => {
  for (const vlan of [undefined, [7], [7, 8], [7, 8, 9]]) {
    for (const v6 of [false, true]) {
      const limits = resolveLimits({});
      const rec = new RecordingFactory({ ignoreAfterData: 1 });
      const decoder = new PacketDecoder({ report: rec.report, limits });
      const reassembler = new TcpReassembler({ factory: rec, limits, report: rec.report });
      decoder.earlyFilter = reassembler;
      const conv = new TcpConversation(v6 ? { ip: 'fd00::1', port: 40000 } : { ip: '10.1.1.1', port: 40000 }, v6 ? { ip: 'fd00::2', port: 80 } : { ip: '10.2.2.2', port: 80 });
      conv.handshake().clientSends('GET / HTTP/1.1\r\n\r\n').serverSends('x'.repeat(5000)).fin('client').fin('server');
      let consumed = 0;
      let cutConsumed = 0;
      let decodedOther = 0;
      conv.packets().forEach((p0, i) => {
        const p = vlan ? { ...p0, vlan } : p0;
        const data = buildFrame(p);
        const special = (p.flags & ~(ACK | PSH)) !== 0;
        // A copy cut short by one byte: its IP length runs past the frame, so never consumed here.
        if (decoder.consumeIgnoredRecord(data.subarray(0, data.length - 1), 0, data.length - 1, 1, i + 1, p.ts)) cutConsumed++;
        if (decoder.consumeIgnoredRecord(data, 0, data.length, 1, i + 1, p.ts)) {
          assert.ok(!special, 'a SYN, FIN or RST segment was consumed');
          consumed++;
          return;
        }
        const r = decoder.decode({ index: i + 1, ts: p.ts, linkType: 1, interfaceId: 0, capturedLength: data.length, originalLength: data.length, data });
        if (r.kind === 'tcp') reassembler.add(r.packet);
        else {
          assert.ok(!special, 'a SYN, FIN or RST segment was consumed by the decoder');
          decodedOther++;
        }
      });
      assert.equal(cutConsumed, 0);
      if (v6 || (vlan?.length ?? 0) > 2) assert.equal(consumed, 0, `v6 ${v6} vlan ${vlan?.length}`);
      else assert.ok(consumed > 0, `vlan ${vlan?.length ?? 0}`);
      // What the record level leaves (IPv6, deeper VLAN stacks) the decoder's filter consumes.
      if (v6 || (vlan?.length ?? 0) > 2) assert.ok(decodedOther > 0, `decoder-level consumption, v6 ${v6} vlan ${vlan?.length}`);
      assert.deepEqual(rec.closes(), ['C1:fin']);
    }
  }
});

test('early filter: it really consumes segments of ignored IPv4 connections, and only those', () => {
  const limits = resolveLimits({});
  const rec = new RecordingFactory({ ignoreAfterData: 1 });
  const decoder = new PacketDecoder({ report: rec.report, limits });
  const reassembler = new TcpReassembler({ factory: rec, limits, report: rec.report });
  decoder.earlyFilter = reassembler;
  const conv = new TcpConversation({ ip: '10.1.1.1', port: 40000 }, { ip: '10.2.2.2', port: 80 });
  conv.handshake().clientSends('GET / HTTP/1.1\r\n\r\n').serverSends('x'.repeat(5000)).fin('client').fin('server');
  const kinds: string[] = [];
  conv.packets().forEach((p, i) => {
    const data = buildFrame(p);
    const r = decoder.decode({ index: i + 1, ts: p.ts, linkType: 1, interfaceId: 0, capturedLength: data.length, originalLength: data.length, data });
    kinds.push(`${r.kind}${(p.flags & ~(ACK | PSH)) !== 0 ? '*' : ''}`);
    if (r.kind === 'tcp') reassembler.add(r.packet);
  });
  // Handshake and the first data segment are decoded (the connection is not ignored yet); after
  // that, data/ACK segments are consumed early; FIN segments (marked *) always go through.
  assert.deepEqual(kinds.slice(0, 4), ['tcp*', 'tcp*', 'tcp', 'tcp']);
  assert.ok(kinds.slice(4).some((k) => k === 'other'), kinds.join(' '));
  for (const k of kinds) if (k.endsWith('*')) assert.equal(k, 'tcp*');
  assert.deepEqual(rec.closes(), ['C1:fin']);
});

test('connections whose numeric fast keys collide are each reassembled whole, with or without the early filters', () => {
  // Birthday search for two IPv4 client endpoints (same server) with the same 30-bit fast key.
  const server = (10 << 24) | (9 << 16) | 9;
  const seen = new Map<number, [number, number]>();
  let pair: [[number, number], [number, number]] | null = null;
  let x = 12345;
  while (pair === null) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const ip = ((10 << 24) | ((x >>> 8) & 0xffff) << 8 | 1) >>> 0;
    const port = 1024 + ((x >>> 0) % 60000);
    const k = fastKeyOf(ip, port, server, 80);
    const other = seen.get(k);
    if (other !== undefined && (other[0] !== ip || other[1] !== port)) pair = [other, [ip, port]];
    else seen.set(k, [ip, port]);
  }
  const text = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const packets: SynthPacket[] = [];
  pair.forEach(([ip, port], i) => {
    const conv = new TcpConversation({ ip: text(ip), port }, { ip: text(server), port: 80 }, { start: { sec: 1704067200 + i, nsec: 0 } });
    conv.handshake().clientSends(`GET /${i} HTTP/1.1\r\n\r\n`).serverSends(`${i}`.repeat(4000)).fin('client').fin('server');
    packets.push(...conv.packets());
  });
  packets.sort((a, b) => a.ts.sec - b.ts.sec || a.ts.nsec - b.ts.nsec);
  const a = run(packets, 'none');
  assert.deepEqual(a.rec.closes().length, 2);
  for (const mode of ['decoder', 'record'] as const) {
    const b = run(packets, mode);
    assert.deepEqual(comparable(b.rec), comparable(a.rec), mode);
    assert.deepEqual(b.stats, a.stats, mode);
  }
});
