'use strict';
/** The verified-token cache: what a hit skips (the signature) and what it never skips. */
const assert = require('node:assert/strict');
const { Identity } = require('../../dist/core/identity');
const { TokenVerifier } = require('../../dist/core/verifier');
const t = require('../support/keys');
const { rejectsWithCode } = require('../support/assert');

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
const ANY = { scopes: [], roles: [] };

describe('core: verified-token cache', () => {
  let a;
  let b;
  let clock;
  let http;
  let verifications;
  const original = TokenVerifier.prototype.verify;

  before(async () => {
    a = await t.signingKey('RS256', 'key-a');
    b = await t.signingKey('RS256', 'key-b');
    TokenVerifier.prototype.verify = function countingVerify(...args) {
      verifications += 1;
      return original.apply(this, args);
    };
  });
  after(() => {
    TokenVerifier.prototype.verify = original;
  });

  beforeEach(() => {
    verifications = 0;
    clock = t.fixedClock();
    http = t.fakeHttp({
      [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument(),
      [t.JWKS_URI]: { keys: [a.publicJwk, b.publicJwk] },
    });
  });

  const identity = (options = {}) => new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, now: clock.now, keysCooldownMs: 0, ...options });

  it('a repeated token is verified once; its later requests skip the signature', async () => {
    const id = identity();
    const token = await t.mint(a);
    for (let i = 0; i < 5; i += 1) assert.equal((await id.authenticate(bearer(token), ANY)).subject, 'alice');
    assert.equal(verifications, 1);
    assert.equal(id.cachedTokens, 1);
  });

  it('tokenCacheEntries 0 turns it off', async () => {
    const id = identity({ tokenCacheEntries: 0 });
    const token = await t.mint(a);
    await id.authenticate(bearer(token), ANY);
    await id.authenticate(bearer(token), ANY);
    assert.equal(verifications, 2);
  });

  it('a hit never skips the time checks: a cached token expires at its exp, and past the tolerance it is refused', async () => {
    const id = identity();
    const token = await t.mint(a, t.baseClaims({ exp: t.NOW_SEC + 300 }));
    await id.authenticate(bearer(token), ANY);
    clock.advance(299_000);
    await id.authenticate(bearer(token), ANY);
    assert.equal(verifications, 1, 'still cached one second before exp');
    clock.advance(32_000);
    await rejectsWithCode(id.authenticate(bearer(token), ANY), 'ERR_TOKEN_EXPIRED');
    assert.equal(id.cachedTokens, 0);
  });

  it('a hit checks nbf against the clock too', async () => {
    const id = identity();
    const token = await t.mint(a, t.baseClaims({ nbf: t.NOW_SEC + 20 }));
    await id.authenticate(bearer(token), ANY); // within the 30 s tolerance
    await id.authenticate(bearer(token), ANY);
    assert.equal(verifications, 1);
  });

  it('never outlives its key: once the JWKS no longer publishes the key, the cached token is refused', async () => {
    const id = identity();
    const token = await t.mint(a);
    await id.authenticate(bearer(token), ANY);
    http.documents[t.JWKS_URI] = { keys: [b.publicJwk] };
    await rejectsWithCode(id.authenticate(bearer(await t.mint(a, t.baseClaims(), { kid: 'rotated-in' })), ANY), 'ERR_TOKEN_KEY_UNKNOWN');
    await rejectsWithCode(id.authenticate(bearer(token), ANY), 'ERR_TOKEN_KEY_UNKNOWN');
  });

  it('even when every request is a hit, the key set is refetched when old, and a removed key stops counting', async () => {
    const id = identity();
    const token = await t.mint(a, t.baseClaims({ exp: t.NOW_SEC + 3600 }));
    await id.authenticate(bearer(token), ANY);
    http.documents[t.JWKS_URI] = { keys: [b.publicJwk] };
    clock.advance(10 * 60_000); // the key set's maximum age
    await id.authenticate(bearer(token), ANY); // a hit: it starts the refetch, still served meanwhile
    await new Promise(setImmediate);
    await rejectsWithCode(id.authenticate(bearer(token), ANY), 'ERR_TOKEN_KEY_UNKNOWN');
  });

  for (const [change, keys] of [
    ['its alg changes (RS256 → PS256)', () => [{ ...a.publicJwk, alg: 'PS256' }, b.publicJwk]],
    ['its kid is listed twice', () => [a.publicJwk, { ...a.publicJwk }, b.publicJwk]],
    ['a second key appears under its kid', () => [a.publicJwk, { ...b.publicJwk, kid: 'key-a' }]],
  ]) {
    it(`a hit is refused like a full verification when, after a refetch, ${change}`, async () => {
      const id = identity();
      const token = await t.mint(a);
      await id.authenticate(bearer(token), ANY);
      http.documents[t.JWKS_URI] = { keys: keys() };
      await rejectsWithCode(id.authenticate(bearer(await t.mint(b, t.baseClaims(), { kid: 'force-refetch' })), ANY), 'ERR_TOKEN_KEY_UNKNOWN');
      await rejectsWithCode(id.authenticate(bearer(token), ANY), 'ERR_TOKEN_KEY_UNKNOWN');
    });
  }

  it('route rules still run on every request', async () => {
    const id = identity();
    const token = await t.mint(a);
    await id.authenticate(bearer(token), { scopes: ['orders:read'], roles: [] });
    await rejectsWithCode(id.authenticate(bearer(token), { scopes: ['orders:write'], roles: [] }), 'ERR_SCOPE_INSUFFICIENT');
    assert.equal(verifications, 1);
  });

  it('only tokens that passed every check are kept', async () => {
    const id = identity();
    const wrongAudience = await t.mint(a, t.baseClaims({ aud: 'other' }));
    await rejectsWithCode(id.authenticate(bearer(wrongAudience), ANY), 'ERR_TOKEN_AUDIENCE');
    await rejectsWithCode(id.authenticate(bearer(wrongAudience), ANY), 'ERR_TOKEN_AUDIENCE');
    assert.equal(id.cachedTokens, 0);
    assert.equal(verifications, 2);
  });

  it('is bounded in entries and in bytes, least recently used first', async () => {
    const id = identity({ tokenCacheEntries: 3 });
    const tokens = [];
    for (let i = 0; i < 5; i += 1) tokens.push(await t.mint(a, t.baseClaims({ jti: `j${i}` })));
    for (const token of tokens) await id.authenticate(bearer(token), ANY);
    assert.equal(id.cachedTokens, 3);
    verifications = 0;
    await id.authenticate(bearer(tokens[4]), ANY);
    await id.authenticate(bearer(tokens[0]), ANY);
    assert.equal(verifications, 1, 'the newest is kept, the oldest is gone');
    const small = identity({ tokenCacheMaxBytes: 2000 });
    for (const token of tokens) await small.authenticate(bearer(token), ANY);
    assert.ok(small.cachedTokens >= 1 && small.cachedTokens < 3, `kept ${small.cachedTokens}`);
  });

  it('msg.auth can be added to, but what the cache holds cannot be changed by a flow', async () => {
    const id = identity();
    const token = await t.mint(a);
    const first = await id.authenticate(bearer(token), ANY);
    first.note = 'added by a flow';
    assert.throws(() => {
      first.claims.sub = 'mallory';
    }, TypeError);
    assert.throws(() => first.scopes.push('orders:admin'), TypeError);
    const second = await id.authenticate(bearer(token), ANY);
    assert.equal(second.claims.sub, 'alice');
    assert.deepEqual(second.scopes, ['orders:read']);
    assert.equal(second.note, undefined);
  });
});
