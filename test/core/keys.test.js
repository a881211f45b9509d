'use strict';
/** The key set: kid lookup, refetch on rotation with a cooldown, one fetch in flight, stale keys while the provider is down. */
const assert = require('node:assert/strict');
const { KeyStore } = require('../../dist/core/keys');
const { IdentityError } = require('../../dist/core/errors');
const t = require('../support/keys');
const { rejectsWithCode } = require('../support/assert');

describe('core: key store (RFC 7517, RFC 8725 §3.10)', () => {
  let a;
  let b;
  let clock;
  let http;
  let jwks;

  before(async () => {
    a = await t.signingKey('RS256', 'key-a');
    b = await t.signingKey('RS256', 'key-b');
  });

  beforeEach(() => {
    clock = t.fixedClock();
    jwks = { keys: [a.publicJwk] };
    http = t.fakeHttp({ [t.JWKS_URI]: () => jwks });
  });

  const store = (options = {}) => new KeyStore({
    http, now: clock.now, jwksUri: async () => t.JWKS_URI, backoffMinMs: 1000, backoffMaxMs: 8000, ...options,
  });

  it('finds a key by kid and imports it once per key set', async () => {
    const keys = store();
    const first = await keys.keyFor('key-a', 'RS256');
    const second = await keys.keyFor('key-a', 'RS256');
    assert.equal(first, second);
    assert.equal(first.type, 'public');
    assert.equal(http.count(t.JWKS_URI), 1);
  });

  it('shares one fetch among concurrent first callers', async () => {
    const keys = store();
    await Promise.all(Array.from({ length: 50 }, () => keys.keyFor('key-a', 'RS256')));
    assert.equal(http.count(t.JWKS_URI), 1);
  });

  it('key rotation: an unknown kid refetches once, then the new key is found', async () => {
    const keys = store();
    await keys.keyFor('key-a', 'RS256');
    jwks = { keys: [b.publicJwk, a.publicJwk] };
    assert.equal((await keys.keyFor('key-b', 'RS256')).type, 'public', 'right after the first load, too');
    assert.equal(http.count(t.JWKS_URI), 2);
  });

  it('key rotation under load: concurrent requests with the new kid all wait for the one refetch', async () => {
    const keys = store();
    await keys.keyFor('key-a', 'RS256');
    jwks = { keys: [b.publicJwk, a.publicJwk] };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => keys.keyFor('key-b', 'RS256')));
    assert.deepEqual(results.map((result) => result.status), Array(5).fill('fulfilled'));
    assert.equal(http.count(t.JWKS_URI), 2);
  });

  it('a refetch skipped by the backoff does not use up the cooldown', async () => {
    const keys = store({ cooldownMs: 30_000 });
    await keys.keyFor('key-a', 'RS256');
    http.documents[t.JWKS_URI] = () => {
      throw new IdentityError('ERR_HTTP_UNREACHABLE', 'down');
    };
    clock.advance(10 * 60_000);
    await keys.keyFor('key-a', 'RS256'); // starts a background refresh, which fails: backoff 1 s
    await new Promise(setImmediate);
    await rejectsWithCode(keys.keyFor('key-b', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN'); // within the backoff: no fetch
    assert.equal(http.count(t.JWKS_URI), 2);
    http.documents[t.JWKS_URI] = () => ({ keys: [b.publicJwk, a.publicJwk] });
    clock.advance(1000);
    assert.equal((await keys.keyFor('key-b', 'RS256')).type, 'public', 'the provider is back: the new kid is fetched at once');
  });

  it('close() stops the store: a load cut short is an aborted one', async () => {
    let signal;
    http.documents[t.JWKS_URI] = () => new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new IdentityError('ERR_HTTP_ABORTED', 'aborted')));
    });
    const keys = new KeyStore({
      http: { getJson: (url, given) => { signal = given; return http.getJson(url); } },
      now: clock.now, jwksUri: async () => t.JWKS_URI, backoffMinMs: 0, backoffMaxMs: 0,
    });
    const pending = keys.keyFor('key-a', 'RS256');
    await new Promise(setImmediate);
    keys.close();
    await rejectsWithCode(pending, 'ERR_JWKS_UNAVAILABLE');
  });

  it('an unknown kid refetches at most once per cooldown', async () => {
    const keys = store({ cooldownMs: 30_000 });
    await keys.keyFor('key-a', 'RS256');
    for (let i = 0; i < 20; i += 1) await rejectsWithCode(keys.keyFor(`invented-${i}`, 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
    assert.equal(http.count(t.JWKS_URI), 2, 'one initial fetch, one refetch');
    clock.advance(29_999);
    await rejectsWithCode(keys.keyFor('invented', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
    assert.equal(http.count(t.JWKS_URI), 2);
    clock.advance(1);
    await rejectsWithCode(keys.keyFor('invented', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
    assert.equal(http.count(t.JWKS_URI), 3);
  });

  it('a removed key is refused after the refetch', async () => {
    const keys = store();
    await keys.keyFor('key-a', 'RS256');
    jwks = { keys: [b.publicJwk] };
    clock.advance(10 * 60_000); // past maxAge: the next call refreshes in the background
    await keys.keyFor('key-a', 'RS256');
    await new Promise(setImmediate);
    await rejectsWithCode(keys.keyFor('key-a', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
  });

  it('keeps serving cached keys while the provider is unreachable', async () => {
    const keys = store();
    await keys.keyFor('key-a', 'RS256');
    http.documents[t.JWKS_URI] = () => {
      throw new IdentityError('ERR_HTTP_UNREACHABLE', 'down');
    };
    clock.advance(60 * 60_000);
    assert.equal((await keys.keyFor('key-a', 'RS256')).type, 'public');
    await new Promise(setImmediate);
    assert.equal((await keys.keyFor('key-a', 'RS256')).type, 'public');
  });

  it('provider down before the first fetch: ERR_JWKS_UNAVAILABLE with Retry-After, then recovers after the backoff', async () => {
    http.documents[t.JWKS_URI] = () => {
      throw new IdentityError('ERR_HTTP_UNREACHABLE', 'down');
    };
    const keys = store();
    const error = await rejectsWithCode(keys.keyFor('key-a', 'RS256'), 'ERR_JWKS_UNAVAILABLE');
    assert.equal(error.retryAfterSec, 1);
    await rejectsWithCode(keys.keyFor('key-a', 'RS256'), 'ERR_JWKS_UNAVAILABLE');
    assert.equal(http.count(t.JWKS_URI), 1, 'no new attempt within the backoff');
    http.documents[t.JWKS_URI] = () => jwks;
    clock.advance(1000);
    assert.equal((await keys.keyFor('key-a', 'RS256')).type, 'public');
  });

  it('rejects a document that is not a JWK Set: ERR_JWKS_INVALID', async () => {
    http.documents[t.JWKS_URI] = { not: 'keys' };
    await rejectsWithCode(store().keyFor('key-a', 'RS256'), 'ERR_JWKS_INVALID');
  });

  it('ignores encryption keys, private keys, symmetric keys and keys limited to other operations', async () => {
    const ec = await t.signingKey('ES256', 'ec');
    jwks = {
      keys: [
        { ...a.publicJwk, kid: 'enc', use: 'enc' },
        { ...a.publicJwk, kid: 'ops', key_ops: ['encrypt'] },
        { kty: 'oct', kid: 'oct', k: 'c2VjcmV0' },
        { ...(await require('jose').exportJWK(ec.privateKey)), kid: 'private' },
        'not an object',
        { ...a.publicJwk, kid: 42 },
      ],
    };
    const keys = store();
    for (const [kid, alg] of [['enc', 'RS256'], ['ops', 'RS256'], ['oct', 'HS256'], ['private', 'ES256']]) {
      await rejectsWithCode(keys.keyFor(kid, alg), 'ERR_TOKEN_KEY_UNKNOWN');
    }
  });

  it('matches the algorithm: a key whose alg or kty differs is not used', async () => {
    jwks = { keys: [{ ...a.publicJwk, alg: 'PS256' }] };
    await rejectsWithCode(store().keyFor('key-a', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
    await rejectsWithCode(store().keyFor('key-a', 'ES256'), 'ERR_TOKEN_KEY_UNKNOWN');
  });

  it('a token without kid uses the single matching key, and refuses when several match', async () => {
    const { kid, ...noKid } = a.publicJwk;
    jwks = { keys: [noKid] };
    assert.equal((await store().keyFor(undefined, 'RS256')).type, 'public');
    jwks = { keys: [a.publicJwk, b.publicJwk] };
    await rejectsWithCode(store().keyFor(undefined, 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
    assert.equal(kid, 'key-a');
  });

  it('duplicate kids in the key set are ambiguous and refused', async () => {
    jwks = { keys: [a.publicJwk, { ...b.publicJwk, kid: 'key-a' }] };
    await rejectsWithCode(store().keyFor('key-a', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
  });

  it('a key that cannot be imported is refused for its tokens only', async () => {
    jwks = { keys: [{ kty: 'RSA', kid: 'broken', e: 'AQAB' }, b.publicJwk] };
    const keys = store();
    await rejectsWithCode(keys.keyFor('broken', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
    assert.equal((await keys.keyFor('key-b', 'RS256')).type, 'public');
  });

  it('reads at most maxKeys keys', async () => {
    jwks = { keys: [a.publicJwk, b.publicJwk] };
    await rejectsWithCode(store({ maxKeys: 1 }).keyFor('key-b', 'RS256'), 'ERR_TOKEN_KEY_UNKNOWN');
  });
});
