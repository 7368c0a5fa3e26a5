// Preloaded into every test process by scripts/run-tests.mjs: property tests use a fixed seed,
// so `npm test` is deterministic (CI never flakes on a new random case). Explore with
// FC_SEED=random npm test (each run then prints the seed of any counterexample it finds).
import fc from 'fast-check';

const env = process.env.FC_SEED;
if (env !== 'random') fc.configureGlobal({ seed: env ? Number(env) : 20261128 });
