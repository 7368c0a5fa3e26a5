import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERIAL_SCAVENGE_MAX_CORES, serialScavengeWanted } from './scavenge-policy.js';

const policyModule = fileURLToPath(new URL('./scavenge-policy.js', import.meta.url));

test('scavenges are serial on machines with at most two cores', () => {
  assert.equal(SERIAL_SCAVENGE_MAX_CORES, 2);
  assert.equal(serialScavengeWanted(1), true);
  assert.equal(serialScavengeWanted(2), true);
  assert.equal(serialScavengeWanted(3), false);
  assert.equal(serialScavengeWanted(16), false);
});

/**
 * Runs a child that optionally applies the policy (as if on `cores` cores), then allocates
 * short-lived objects with a live set large enough to give the scavenger work, and returns the
 * background scavenging time V8 reports for each scavenge (--trace-gc-nvp).
 */
function backgroundScavengeTimes(cores: number | null): { applied: string; times: number[] } {
  const script = `
    import { applyScavengePolicy } from ${JSON.stringify(policyModule)};
    const applied = ${cores === null ? 'null' : `applyScavengePolicy(${cores})`};
    const live = [];
    for (let i = 0; i < 300000; i++) {
      const o = { i, s: 'x' + i, a: [i, i + 1, i + 2] };
      if (i % 3 === 0) live.push(o);
      if (live.length > 60000) live.splice(0, 30000);
    }
    console.log('applied=' + applied);`;
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', '--v8-pool-size=4', '--max-semi-space-size=8', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const times = [...r.stdout.matchAll(/gc=s .*?background\.scavenge\.parallel=([\d.]+)/g)].map((m) => Number(m[1]));
  const applied = /applied=(\w+)/.exec(r.stdout)?.[1] ?? '';
  return { applied, times };
}

test('with the policy applied, no scavenge uses a helper thread (child process, --trace-gc-nvp)', () => {
  const serial = backgroundScavengeTimes(2);
  assert.equal(serial.applied, 'true');
  assert.ok(serial.times.length >= 3, `only ${serial.times.length} scavenges`);
  assert.deepEqual(
    serial.times.filter((t) => t > 0),
    [],
  );
  // On more cores the policy leaves V8 alone: helpers take part (some background time).
  const parallel = backgroundScavengeTimes(8);
  assert.equal(parallel.applied, 'false');
  assert.ok(parallel.times.length >= 3, `only ${parallel.times.length} scavenges`);
  assert.ok(
    parallel.times.some((t) => t > 0),
    `no background scavenging in ${parallel.times.length} scavenges`,
  );
});
