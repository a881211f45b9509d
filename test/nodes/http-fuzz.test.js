'use strict';
/**
 * HTTP fuzz: 10,000 random Authorization header values through a real `http in` → validate-token →
 * `http response`, against the demo provider, 20 requests at a time. Values are made of the bytes
 * Node's http client lets through (HTAB, 0x20-0x7E, 0x80-0xFF) and stay under Node's 16 KiB header
 * limit: bearer-like values, random schemes, random bytes, long values, and the provider's own
 * tokens mutated (scripts/fuzz.js). Asserted: no 5xx, every refusal is 400, 401 or 403, only an
 * unchanged valid token passes, no unhandled rejection, and the runtime still answers afterwards;
 * the resident memory before and after is printed. FUZZ_SEED=<seed> replays a run.
 */
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const fc = require('fast-check');
const { helper, startNodeRed, loadFlow, request } = require('../support/node-red');
const { startProvider, passwordToken } = require('../support/demo');
const {
  mutatedTokenArb, nonCanonicalTwin, isNonCanonicalSpellingOf, headerChar, HEADER_VALUE, schemeWord, separator, b64tokenChar, tokenishChar,
} = require('../../scripts/fuzz');

const REQUESTS = 10_000;
const CONCURRENCY = 20;
/** Node's server refuses (431) a request whose headers exceed 16 KiB; stay below with the other headers. */
const MAX_VALUE_LENGTH = 16_000;
const REFUSALS = new Set([400, 401, 403]);
const at = { x: 100, y: 100 };
const MiB = (bytes) => (bytes / 1024 / 1024).toFixed(1);

/**
 * node-red-node-test-helper spies on Node.prototype.send/status/log/…, and its sinon spies keep every
 * call's arguments: each msg with its req and res, some 40 kB a request. That is the harness, not the
 * runtime, so the fuzz forgets those calls as it goes and collects garbage before each reading.
 */
const SPIED = ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'];
function forgetSpiedCalls() {
  for (const name of SPIED) helper._NodePrototype[name].resetHistory?.();
  helper._logSpy?.resetHistory();
}
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc');
/** rss and heap used, after forgetting the spied calls and a full GC. */
function residentMemory() {
  forgetSpiedCalls();
  collectGarbage();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

function protectedFlow(issuer, audience) {
  return [
    { id: 'tab', type: 'tab', label: 'fuzzed API' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', backoffMinMs: '0' },
    { id: 'in', type: 'http in', z: 'tab', name: '', url: '/api/orders', method: 'get', upload: false, ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', ...at, wires: [['ok'], ['out']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

/** Only bytes Node's http client sends as they are; anything else becomes '?'. */
const headerSafe = (value) => [...value].map((c) => (HEADER_VALUE.test(c) ? c : '?')).join('').slice(0, MAX_VALUE_LENGTH);

/** The random Authorization values: { kind, value }. */
function headerValues(realTokens, seed) {
  const tokenPrefix = fc.oneof({ weight: 6, arbitrary: fc.constant('Bearer ') }, fc.constantFrom('bearer ', 'BEARER  ', 'Bearer', 'Bearer\t', 'Basic ', ' Bearer ', ''));
  const kinds = {
    bearerish: fc.tuple(schemeWord, separator, fc.oneof(fc.string({ unit: b64tokenChar, maxLength: 200 }), fc.string({ unit: tokenishChar, maxLength: 200 }))),
    'random scheme': fc.tuple(schemeWord, separator, fc.string({ unit: headerChar, maxLength: 300 })),
    'random bytes': fc.tuple(fc.string({ unit: headerChar, maxLength: 400 })),
    long: fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Basic ', 'Bearer eyJ', ''), fc.string({ unit: fc.oneof(b64tokenChar, headerChar), minLength: 1, maxLength: 8 }), fc.integer({ min: 1000, max: MAX_VALUE_LENGTH }))
      .map(([prefix, unit, length]) => [(prefix + unit.repeat(Math.ceil(length / unit.length))).slice(0, length)]),
    'mutated token': fc.tuple(tokenPrefix, mutatedTokenArb(realTokens).map(({ mutated }) => mutated)),
    'valid token': fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER   '), fc.constantFrom(...realTokens)),
    'non-canonical twin': fc.tuple(fc.constant('Bearer '), fc.tuple(fc.constantFrom(...realTokens), fc.nat()).map(([token, choice]) => nonCanonicalTwin(token, choice) ?? token)),
  };
  const weights = { bearerish: 20, 'random scheme': 15, 'random bytes': 15, long: 5, 'mutated token': 42, 'valid token': 2, 'non-canonical twin': 1 };
  const arbitrary = fc.oneof(...Object.entries(kinds).map(([kind, parts]) => ({
    weight: weights[kind], arbitrary: parts.map((pieces) => ({ kind, value: headerSafe(pieces.join('')) })),
  })));
  return fc.sample(arbitrary, { numRuns: REQUESTS, seed });
}

/** Runs `task` over `items`, `limit` at a time. */
async function pool(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

describe('validate-token under an HTTP fuzz of the Authorization header', function () {
  this.timeout(120_000);
  const seed = process.env.FUZZ_SEED === undefined ? (Date.now() ^ (Math.random() * 0x100000000)) | 0 : Number(process.env.FUZZ_SEED);
  let provider;
  let alice;
  let bob;
  /** Status of each unchanged valid token: alice 200, bob 403 (no orders:read). */
  let validStatus;
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  const results = [];
  let memoryBefore;
  let memoryAfter;
  let seconds;

  before(async () => {
    provider = await startProvider();
    await startNodeRed();
    alice = await passwordToken(provider, 'alice');
    bob = await passwordToken(provider, 'bob');
    await loadFlow(protectedFlow(provider.issuer, provider.audience));
    validStatus = new Map([[alice, 200], [bob, 403]]);
    for (const [token, status] of validStatus) {
      assert.equal((await request('/api/orders', { headers: { Authorization: `Bearer ${token}` } })).status, status, 'warm-up');
    }
    const values = headerValues([alice, bob], seed);
    process.on('unhandledRejection', onUnhandled);
    memoryBefore = residentMemory();
    const started = process.hrtime.bigint();
    await pool(values, CONCURRENCY, async ({ kind, value }, index) => {
      try {
        const response = await request('/api/orders', { headers: { Authorization: value } });
        results[index] = { kind, value, status: response.status, error: response.body?.error };
      } catch (error) {
        results[index] = { kind, value, failure: `${error.code ?? error.name}: ${error.message}` };
      }
      if (index % 500 === 499) forgetSpiedCalls();
    });
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
    memoryAfter = residentMemory();
    const byStatus = {};
    for (const { status, failure } of results) byStatus[failure ? 'failed' : status] = (byStatus[failure ? 'failed' : status] ?? 0) + 1;
    console.log(`      http fuzz: ${results.length} requests in ${seconds.toFixed(1)} s (${CONCURRENCY} at a time, seed ${seed}), `
      + `statuses ${Object.entries(byStatus).map(([status, n]) => `${status}×${n}`).join(' ')}, `
      + `rss ${MiB(memoryBefore.rss)} → ${MiB(memoryAfter.rss)} MiB (heap used after GC ${MiB(memoryBefore.heapUsed)} → ${MiB(memoryAfter.heapUsed)} MiB)`);
  });

  after(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    await helper.unload();
    await helper.stopServer();
    await provider.close();
  });

  /** The token a header value presents, as the server reads it (surrounding whitespace trimmed). */
  const presented = (value) => /^bearer +(\S+)$/i.exec(value.replace(/^[\t ]+|[\t ]+$/g, ''))?.[1];
  const show = (cases) => cases.slice(0, 5).map(({ kind, value, status, error, failure }) =>
    `${kind} ${JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…(${value.length})` : value)} → ${failure ?? `${status} ${error ?? ''}`}`).join('\n');

  it(`sends all ${REQUESTS} requests, each answered`, () => {
    assert.equal(results.length, REQUESTS);
    const failed = results.filter((result) => result.failure);
    assert.equal(failed.length, 0, `seed ${seed}:\n${show(failed)}`);
  });

  /** Non-canonical spellings of a valid signature have a case of their own, below. */
  const twin = ({ value }) => isNonCanonicalSpellingOf(presented(value) ?? '', [alice, bob]);

  it('answers no 5xx', () => {
    const wrong = results.filter(({ status }) => status >= 500);
    assert.equal(wrong.length, 0, `seed ${seed}:\n${show(wrong)}`);
  });

  it('answers every request 400, 401 or 403, but an unchanged valid token (200, or 403 for bob who lacks the scope)', () => {
    const wrong = results.filter((result) => !twin(result) && (validStatus.has(presented(result.value))
      ? result.status !== validStatus.get(presented(result.value)) : !REFUSALS.has(result.status)));
    assert.equal(wrong.length, 0, `seed ${seed}:\n${show(wrong)}`);
    assert.ok(results.some(({ status }) => status === 400) && results.some(({ status }) => status === 401), 'the mix reaches both refusals');
    assert.ok(results.some(({ status }) => status === 200), 'the mix contains unchanged valid tokens');
  });

  it('accepts no changed token (a 403 insufficient_scope means the token itself passed)', () => {
    const passed = results.filter((result) => !twin(result) && !validStatus.has(presented(result.value))
      && (result.status === 200 || result.error === 'insufficient_scope'));
    assert.equal(passed.length, 0, `seed ${seed}:\n${show(passed)}`);
  });

  it('refuses a valid token whose signature is spelled non-canonically (RFC 4648 §3.5)', () => {
    const twins = results.filter(twin);
    assert.ok(twins.length > 0, 'the mix contains non-canonical spellings');
    const accepted = twins.filter(({ status, error }) => status === 200 || error === 'insufficient_scope');
    assert.equal(accepted.length, 0, `seed ${seed}: ${accepted.length} of ${twins.length} accepted, e.g.\n${show(accepted)}`);
  });

  it('raises no unhandled rejection', () => {
    assert.deepEqual(unhandled.map(String), []);
  });

  it('still answers a valid token with 200 afterwards', async () => {
    const response = await request('/api/orders', { headers: { Authorization: `Bearer ${alice}` } });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.subject, 'alice');
    assert.ok(seconds < 60, `took ${seconds.toFixed(1)} s`);
  });

  it('keeps no per-request memory: the heap after GC grows by less than 32 MiB (the results of this test included)', () => {
    const growth = memoryAfter.heapUsed - memoryBefore.heapUsed;
    assert.ok(growth < 32 * 1024 * 1024, `heap used grew ${MiB(growth)} MiB`);
  });
});
