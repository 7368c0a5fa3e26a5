import * as zlib from 'node:zlib';
import pako from 'pako';

/**
 * Synchronous, stateful raw-DEFLATE inflater for one direction of an IMAP COMPRESS=DEFLATE
 * session (RFC 4978 §4: raw deflate, RFC 1951, flushed with Z_SYNC_FLUSH per message).
 *
 * Node's zlib has no public synchronous *streaming* API: `inflateRawSync` starts a new stream
 * per call, and `_processChunk` closes its handle after one call. This module drives the native
 * handle of a `zlib.createInflateRaw()` object the same way Node's own `processChunkSync` does
 * (`handle.writeSync(flush, in, inOff, inLen, out, outOff, outLen)` + `_writeState`), without
 * closing it, so the dictionary and bit state carry over between chunks. Those are internals
 * (stable across Node 12-22): if they are missing, {@link DeflateStream.supported} is false and
 * the caller counts bytes instead (`imap_compress_unsupported`).
 *
 * Output is handed out in pieces of up to {@link INFLATE_OUT_CHUNK} bytes as borrowed views of
 * one reused buffer (no copies). Output per input chunk is bounded (decompression bombs).
 */

/** Size of the reused output buffer (bytes per onOutput call at most). */
export const INFLATE_OUT_CHUNK = 64 * 1024;

/** Result of one push. */
export type InflateResult = 'ok' | 'error' | 'bomb' | 'unsupported';

interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  close?(): void;
}

interface ZlibInternals {
  _handle: NativeHandle | null;
  _writeState: Uint32Array;
}

/** A failed stream stays failed: every later push returns the same result and emits nothing. */
export class DeflateStream {
  readonly #z: (zlib.InflateRaw & ZlibInternals) | null;
  /** Fallback when Node's zlib internals are not there (pako, RFC 1951 raw inflate). */
  readonly #js: pako.Inflate | null = null;
  readonly #out = new Uint8Array(INFLATE_OUT_CHUNK);
  readonly #maxPerChunk: number;
  #failed: InflateResult | null = null;
  /** Compressed bytes pushed. */
  compressedBytes = 0;
  /** Inflated bytes handed out. */
  inflatedBytes = 0;
  /** Detail of the failure, when failed. */
  failure: string | null = null;

  constructor(maxBytesPerChunk: number, opts: { forceJs?: boolean } = {}) {
    this.#maxPerChunk = maxBytesPerChunk;
    let z: (zlib.InflateRaw & ZlibInternals) | null = null;
    if (!opts.forceJs) try {
      const cand = zlib.createInflateRaw() as zlib.InflateRaw & ZlibInternals;
      // A zlib error destroys the stream and emits 'error' later: keep it from being uncaught.
      cand.on('error', () => undefined);
      if (cand._handle !== null && typeof cand._handle?.writeSync === 'function' && cand._writeState instanceof Uint32Array) z = cand;
    } catch {
      z = null;
    }
    this.#z = z;
    if (z === null) {
      try {
        this.#js = new pako.Inflate({ raw: true, chunkSize: INFLATE_OUT_CHUNK });
      } catch {
        this.#failed = 'unsupported';
        this.failure = 'no usable inflater (zlib internals missing, pako failed)';
      }
    }
  }

  /** Which inflater runs: Node's native zlib handle, or the pure-JavaScript fallback. */
  get engine(): 'native' | 'js' | 'none' {
    return this.#z !== null ? 'native' : this.#js !== null ? 'js' : 'none';
  }

  #pushJs(js: pako.Inflate, input: Uint8Array, onOutput: (bytes: Uint8Array) => void): InflateResult {
    let produced = 0;
    let bomb = false;
    js.onData = (chunk: Uint8Array) => {
      if (bomb) return;
      produced += chunk.length;
      if (produced > this.#maxPerChunk) {
        bomb = true;
        return;
      }
      this.inflatedBytes += chunk.length;
      onOutput(chunk);
    };
    try {
      js.push(input, pako.constants.Z_SYNC_FLUSH);
    } catch (e) {
      return this.#fail('error', String(e).slice(0, 200));
    }
    if (bomb) return this.#fail('bomb', `more than ${this.#maxPerChunk} bytes inflated from a ${input.length}-byte chunk`);
    if (js.err) return this.#fail('error', `invalid deflate data (${js.msg || js.err})`);
    return 'ok';
  }

  /** False when the inflater could not be set up (the caller records `imap_compress_unsupported`). */
  get supported(): boolean {
    return this.#z !== null || this.#js !== null;
  }

  /** Null while working; else why it stopped. */
  get failed(): InflateResult | null {
    return this.#failed;
  }

  /**
   * Inflates `input` (borrowed), calling `onOutput` with each inflated piece (borrowed view, valid
   * during the call). Returns 'ok', or why it stopped (then nothing more is ever emitted).
   */
  push(input: Uint8Array, onOutput: (bytes: Uint8Array) => void): InflateResult {
    this.compressedBytes += input.length;
    if (this.#failed !== null) return this.#failed;
    if (this.#js !== null) return this.#pushJs(this.#js, input, onOutput);
    const z = this.#z!;
    const out = this.#out;
    let inOff = 0;
    let inLen = input.length;
    let produced = 0;
    try {
      for (;;) {
        const h = z._handle;
        if (h === null) return this.#fail('error', 'inflater closed');
        h.writeSync(zlib.constants.Z_SYNC_FLUSH, input, inOff, inLen, out, 0, out.length);
        if (z._handle === null) return this.#fail('error', 'invalid deflate data');
        const availOut = z._writeState[0]!;
        const availIn = z._writeState[1]!;
        const have = out.length - availOut;
        if (have > 0) {
          produced += have;
          if (produced > this.#maxPerChunk) {
            return this.#fail('bomb', `more than ${this.#maxPerChunk} bytes inflated from a ${input.length}-byte chunk`);
          }
          this.inflatedBytes += have;
          onOutput(out.subarray(0, have));
        }
        inOff += inLen - availIn;
        inLen = availIn;
        // Output buffer full: there may be more; else all input was consumed.
        if (availOut !== 0) break;
      }
    } catch (e) {
      return this.#fail('error', String(e).slice(0, 200));
    }
    return 'ok';
  }

  /** Releases the native handle. */
  close(): void {
    const z = this.#z;
    if (z !== null && z._handle !== null) {
      try {
        z.close();
      } catch {
        // already closed
      }
    }
  }

  #fail(r: InflateResult, detail: string): InflateResult {
    this.#failed = r;
    this.failure = detail;
    this.close();
    return r;
  }
}
