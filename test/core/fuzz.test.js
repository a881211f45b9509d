'use strict';
/**
 * Property-based tests (fast-check) of the core token path: the bearer parser and
 * Identity.authenticate with an in-memory provider and a fixed clock. The properties live in
 * scripts/fuzz.js, which also runs them with 100,000+ cases (`npm run fuzz`); here each runs a few
 * hundred cases. A failure prints the seed and the shrunk counterexample; FUZZ_SEED=<seed>
 * replays it.
 */
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { createContext, createProperties, stats } = require('../../scripts/fuzz');

const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const RUNS = {
  'extractBearerToken: any request': 1000,
  'extractBearerToken: a well-formed Bearer header': 300,
  'authenticate: random strings': 1000,
  'authenticate: random 3-part and 5-part': 1000,
  'authenticate: a mutated valid token': 1000,
  'authenticate: a non-canonical base64url spelling': 50,
  'authenticate: a token signed by the real key': 1000,
};

describe('core: fuzzing the token path (fast-check)', function () {
  this.timeout(30000);
  let properties;

  before(async () => {
    properties = createProperties(await createContext());
    assert.deepEqual(Object.keys(properties).map((name) => Object.keys(RUNS).find((prefix) => name.startsWith(prefix))),
      Object.keys(RUNS), 'every property has a run count here');
  });

  for (const [prefix, numRuns] of Object.entries(RUNS)) {
    it(`${prefix} … (${numRuns} cases)`, async () => {
      const [, { property }] = Object.entries(properties).find(([name]) => name.startsWith(prefix));
      await fc.assert(property, { numRuns, seed });
    });
  }

  it('the cases reach the verifier and both of its answers', () => {
    const mutated = stats.get('mutated');
    const signed = stats.get('signed');
    assert.ok(mutated?.get('accepted') > 0, 'some mutations leave a valid token as it was, and it is accepted');
    assert.ok(mutated?.get('ERR_TOKEN_SIGNATURE') > 0, 'some mutations reach the signature check');
    assert.ok(signed?.get('accepted') > 0, 'some signed claim sets pass the policy');
    const claimFailures = ['ERR_TOKEN_EXPIRED', 'ERR_TOKEN_NOT_YET_VALID', 'ERR_TOKEN_ISSUER', 'ERR_TOKEN_AUDIENCE', 'ERR_TOKEN_CLAIM_INVALID']
      .reduce((sum, code) => sum + (signed?.get(code) ?? 0), 0);
    assert.ok(claimFailures > 0, 'and some fail on their claims');
  });
});
