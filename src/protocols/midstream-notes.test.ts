import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { At } from '../core/types.js';
import { MidstreamNotes } from './midstream-notes.js';
import { UnparsedRuns } from './unparsed-runs.js';

const at = (frame: number): At => ({ frame, ts: { sec: 1700000000, nsec: frame } });

function setup(sawHandshake: boolean) {
  const anomalies: { code: string; detail: string; frame: number }[] = [];
  const transcript: { side: string; bytes?: number; lines: string[] }[] = [];
  const ctx = {
    conn: { sawHandshake },
    anomaly: (code: string, detail: string, a: At) => anomalies.push({ code, detail, frame: a.frame }),
    transcript: (e: { side: string; bytes?: number; lines: string[] }) => transcript.push(e),
  };
  const unparsed = new UnparsedRuns(ctx as never);
  const notes = new MidstreamNotes(ctx as never, unparsed, 'x_midstream');
  return { anomalies, transcript, unparsed, notes };
}

test('mid-stream: unparsed lines are one run per side; the anomaly is reported once, first cause wins', () => {
  const { anomalies, transcript, unparsed, notes } = setup(false);
  notes.unparsedLine('client', 'garbage one', 11, at(3), at(3), 'client bytes before the first command line');
  notes.unparsedLine('client', 'garbage two', 11, at(4), at(4), 'client bytes before the first command line');
  notes.note('first server reply is not a greeting', at(5));
  unparsed.flush('client');
  assert.deepEqual(anomalies, [{ code: 'x_midstream', detail: 'client bytes before the first command line', frame: 3 }]);
  assert.deepEqual(transcript, [{ side: 'client', kind: 'unparsed', lines: ['garbage one'], bytes: 26 }]);
});

test('mid-stream: after a seen handshake, unparsed lines are garbage (no anomaly), but an explicit note still counts', () => {
  const { anomalies, notes } = setup(true);
  notes.unparsedLine('server', 'noise', 5, at(7), at(7), 'server bytes before the first line that parses');
  assert.deepEqual(anomalies, []);
  notes.note('first server reply is not a greeting', at(9));
  notes.note('again', at(10));
  assert.deepEqual(anomalies, [{ code: 'x_midstream', detail: 'first server reply is not a greeting', frame: 9 }]);
});
