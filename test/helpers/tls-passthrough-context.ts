import type { At, Side } from '../../src/core/types.js';
import type { ProtocolAnalyzer } from '../../src/protocols/analyzer.js';
import { FakeContext } from './fake-context.js';
import type { FakeContextOptions } from './fake-context.js';
import { CHUNKINGS, runDialogue } from './chunkings.js';
import type { DialogueStep } from './chunkings.js';
import assert from 'node:assert/strict';

/**
 * A FakeContext for STARTTLS tests: keeps a copy of every byte handed to encryptedData (per side,
 * in order) and, when `passthrough` is on, plays an identity "TLS layer": after `handshake` leading
 * bytes per side (swallowed, like a TLS handshake), the same bytes come back at once through the
 * analyzer's onDecrypted, as the pipeline does with real plaintext.
 */
export class TlsPassthroughContext extends FakeContext {
  analyzer: ProtocolAnalyzer | null = null;
  readonly passthrough: boolean;
  readonly wire: Record<Side, Buffer[]> = { client: [], server: [] };
  readonly wireGaps: { side: Side; length: number }[] = [];
  /** Leading bytes per side swallowed as the "handshake" (not passed through). */
  readonly #handshake: Record<Side, number>;

  constructor(passthrough: boolean, handshake: Partial<Record<Side, number>> = {}, opts: FakeContextOptions = {}) {
    super(opts);
    this.passthrough = passthrough;
    this.#handshake = { client: handshake.client ?? 0, server: handshake.server ?? 0 };
  }

  override encryptedData(side: Side, bytes: Uint8Array, at?: At): void {
    super.encryptedData(side, bytes);
    this.wire[side].push(Buffer.from(bytes));
    const skip = Math.min(this.#handshake[side], bytes.length);
    this.#handshake[side] -= skip;
    if (this.passthrough && at !== undefined && skip < bytes.length) this.analyzer?.onDecrypted?.(side, bytes.subarray(skip), at);
  }

  override encryptedGap(side: Side, length: number): void {
    super.encryptedGap(side, length);
    this.wireGaps.push({ side, length });
  }

  /** Every encrypted byte of one side, concatenated. */
  wireBytes(side: Side): Buffer {
    return Buffer.concat(this.wire[side]);
  }
}

/**
 * Plays a dialogue under every chunking with a {@link TlsPassthroughContext}; asserts identical
 * observable results (snapshot + extra records + wire bytes) and returns the whole-chunk run.
 */
export function playTls<A extends ProtocolAnalyzer>(
  create: (ctx: TlsPassthroughContext) => A,
  steps: readonly DialogueStep[],
  passthrough: boolean,
  handshake: Partial<Record<Side, number>> = {},
): { ctx: TlsPassthroughContext; a: A } {
  let ref: unknown;
  let out: { ctx: TlsPassthroughContext; a: A } | null = null;
  for (const c of CHUNKINGS) {
    const ctx = new TlsPassthroughContext(passthrough, handshake);
    const a = create(ctx);
    ctx.analyzer = a;
    runDialogue(a, steps, c.split);
    const snap = {
      ...(ctx.snapshot(a) as object),
      extras: ctx.extras.map((e) => e.record),
      wire: { client: ctx.wireBytes('client').toString('hex'), server: ctx.wireBytes('server').toString('hex') },
      gaps: ctx.wireGaps,
    };
    if (out === null) {
      ref = snap;
      out = { ctx, a };
    } else assert.deepEqual(snap, ref, `chunking ${c.name} differs from whole`);
  }
  for (const m of out!.ctx.messages) assert.deepEqual(m.violations, [], `sink contract (${m.id})`);
  return out!;
}
