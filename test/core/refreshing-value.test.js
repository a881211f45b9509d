'use strict';
const assert = require('node:assert/strict');
const { RefreshingValue } = require('../../dist/core/refreshing-value');
const { IdentityError } = require('../../dist/core/errors');
const { fixedClock } = require('../support/keys');
const { rejectsWithCode } = require('../support/assert');

describe('core: refreshing value (cached promise, backoff, stale-while-unreachable)', () => {
  function setup(outcomes) {
    const clock = fixedClock();
    let loads = 0;
    const value = new RefreshingValue({
      now: clock.now,
      maxAgeMs: 10_000,
      backoffMinMs: 1000,
      backoffMaxMs: 4000,
      load: async () => {
        const outcome = outcomes[Math.min(loads, outcomes.length - 1)];
        loads += 1;
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
    });
    return { clock, value, loads: () => loads };
  }
  const down = new IdentityError('ERR_HTTP_UNREACHABLE', 'down');

  it('backoff doubles after each failure up to the maximum, and resets after a success', async () => {
    const { clock, value, loads } = setup([down, down, down, down, 'v1']);
    const waits = [];
    for (let i = 0; i < 4; i += 1) {
      await rejectsWithCode(value.get(), 'ERR_HTTP_UNREACHABLE');
      waits.push(value.retryAfterMs());
      clock.advance(value.retryAfterMs());
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 4000]);
    assert.equal(await value.get(), 'v1');
    assert.equal(value.retryAfterMs(), 0);
    assert.equal(value.error, undefined);
    assert.equal(loads(), 5);
  });

  it('a long outage keeps the wait finite (no Infinity or NaN after 1,100 failures), then recovers', async () => {
    for (const backoffMinMs of [0, 1000]) {
      const clock = fixedClock();
      let up = false;
      const value = new RefreshingValue({
        now: clock.now, maxAgeMs: 10_000, backoffMinMs, backoffMaxMs: 60_000,
        load: async () => {
          if (!up) throw down;
          return 'back';
        },
      });
      for (let i = 0; i < 1100; i += 1) {
        await rejectsWithCode(value.get(), 'ERR_HTTP_UNREACHABLE').catch(() => undefined);
        const wait = value.retryAfterMs();
        assert.ok(Number.isFinite(wait) && wait <= 60_000, `wait ${wait} after ${i + 1} failures`);
        clock.advance(wait);
      }
      up = true;
      assert.equal(await value.get(), 'back');
    }
  });

  it('an old value is served while a background refresh runs, and replaced when it lands', async () => {
    const { clock, value, loads } = setup(['v1', 'v2']);
    assert.equal(await value.get(), 'v1');
    clock.advance(10_000);
    assert.equal(await value.get(), 'v1');
    await new Promise(setImmediate);
    assert.equal(await value.get(), 'v2');
    assert.equal(loads(), 2);
  });

  it('refresh() joins a load in flight instead of starting another', async () => {
    const { value, loads } = setup(['v1']);
    const results = await Promise.all([value.refresh(), value.refresh(), value.get()]);
    assert.deepEqual(results, ['v1', 'v1', 'v1']);
    assert.equal(loads(), 1);
  });

  it('a failed refresh keeps the old value and records the error', async () => {
    const { clock, value } = setup(['v1', down]);
    await value.get();
    clock.advance(1);
    assert.equal(await value.refresh(), 'v1');
    assert.equal(value.error.code, 'ERR_HTTP_UNREACHABLE');
    assert.equal(await value.refresh(), 'v1', 'within the backoff: no attempt, old value');
  });

  it('an unexpected throw from the loader is an IdentityError with ERR_INTERNAL, not a provider outage', async () => {
    const { value } = setup([new TypeError('boom')]);
    await rejectsWithCode(value.get(), 'ERR_INTERNAL');
  });

  it('close() aborts the signal given to the loader', async () => {
    let seen;
    const value = new RefreshingValue({
      now: Date.now, maxAgeMs: 1, backoffMinMs: 0, backoffMaxMs: 0,
      load: (signal) => {
        seen = signal;
        return Promise.resolve(1);
      },
    });
    await value.get();
    value.close();
    assert.equal(seen.aborted, true);
  });
});
