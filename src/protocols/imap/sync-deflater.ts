import * as zlib from 'node:zlib';

/**
 * A streaming raw deflater flushed with Z_SYNC_FLUSH per message (what RFC 4978 peers do), driven
 * synchronously through the same zlib handle interface the module uses (test support: builds COMPRESS=DEFLATE dialogues; not used by the analyzer).
 */
export class SyncDeflater {
  readonly #z = zlib.createDeflateRaw() as unknown as {
    _handle: { writeSync(f: number, i: Uint8Array, io: number, il: number, o: Uint8Array, oo: number, ol: number): void };
    _writeState: Uint32Array;
    close(): void;
  };

  /** Compressed bytes of one message, flushed. */
  push(data: string | Uint8Array): Buffer {
    const input = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const out = Buffer.alloc(65536);
    const parts: Buffer[] = [];
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      this.#z._handle.writeSync(zlib.constants.Z_SYNC_FLUSH, input, inOff, inLen, out, 0, out.length);
      const availOut = this.#z._writeState[0]!;
      const availIn = this.#z._writeState[1]!;
      parts.push(Buffer.from(out.subarray(0, out.length - availOut)));
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut !== 0) break;
    }
    return Buffer.concat(parts);
  }

  close(): void {
    this.#z.close();
  }
}

