'use strict';
/**
 * The verification policy (RFC 8725, RFC 7515/7519, RFC 9068) through the whole core pipeline:
 * Identity → discovery → key store → verifier, with a fixed clock and tokens minted here.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const jose = require('jose');
const { Identity } = require('../../dist/core/identity');
const { ASYMMETRIC_ALGORITHMS } = require('../../dist/core/keys');
const t = require('../support/keys');
const { rejectsWithCode } = require('../support/assert');

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
const NO_RULES = { scopes: [], roles: [] };

describe('core: token verification', () => {
  let rsa;
  let ec;
  let ed;
  let http;
  let clock;

  before(async () => {
    rsa = await t.signingKey('RS256', 'rsa-1');
    ec = await t.signingKey('ES256', 'ec-1');
    ed = await t.signingKey('EdDSA', 'ed-1', { crv: 'Ed25519' });
  });

  beforeEach(() => {
    clock = t.fixedClock();
    http = t.fakeHttp({
      [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument(),
      [t.JWKS_URI]: { keys: [rsa.publicJwk, ec.publicJwk, ed.publicJwk] },
    });
  });

  function identity(options = {}) {
    return new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, now: clock.now, ...options });
  }

  const authenticate = (token, options, rules = NO_RULES) => identity(options).authenticate(bearer(token), rules);

  describe('accepts valid tokens', () => {
    for (const name of ['rsa', 'ec', 'ed']) {
      it(`signed with ${name === 'rsa' ? 'RS256' : name === 'ec' ? 'ES256' : 'EdDSA'} by a provider key`, async () => {
        const key = { rsa, ec, ed }[name];
        const auth = await authenticate(await t.mint(key));
        assert.equal(auth.subject, 'alice');
        assert.equal(auth.clientId, 'demo-client');
        assert.deepEqual(auth.scopes, ['orders:read']);
        assert.deepEqual(auth.audience, [t.AUDIENCE]);
        assert.equal(auth.issuer, t.ISSUER);
        assert.equal(auth.expiresAt, new Date((t.NOW_SEC + 300) * 1000).toISOString());
        assert.equal(auth.claims.jti, 'jti-1');
      });
    }

    it('when aud is an array that contains one configured audience', async () => {
      const token = await t.mint(rsa, t.baseClaims({ aud: ['account', t.AUDIENCE] }));
      const auth = await authenticate(token, { audience: `other ${t.AUDIENCE}` });
      assert.deepEqual(auth.audience, ['account', t.AUDIENCE]);
    });


    it('expired by less than the clock tolerance (default 30 s)', async () => {
      const token = await t.mint(rsa, t.baseClaims({ exp: t.NOW_SEC - 29 }));
      assert.equal((await authenticate(token)).subject, 'alice');
    });
  });

  describe('RFC 8725 §3.1 / §2.1: algorithm policy', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      it(`refuses alg "${alg}" with an empty signature`, async () => {
        await rejectsWithCode(authenticate(t.forge({ alg, typ: 'at+jwt' }, t.baseClaims())), 'ERR_TOKEN_ALG_NOT_ALLOWED');
      });
    }

    it('refuses a token without alg', async () => {
      await rejectsWithCode(authenticate(t.forge({ kid: 'rsa-1' }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });

    it('refuses HS256 signed with the provider public key as HMAC secret (algorithm confusion, PEM and JWK forms)', async () => {
      const pem = crypto.createPublicKey({ key: rsa.publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(rsa.publicJwk))]) {
        const token = await new jose.SignJWT(t.baseClaims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(secret);
        await rejectsWithCode(authenticate(token), 'ERR_TOKEN_ALG_NOT_ALLOWED');
      }
    });

    it('refuses an asymmetric algorithm left out of the configured allowlist', async () => {
      await rejectsWithCode(authenticate(await t.mint(ec), { algorithms: 'RS256' }), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });

    it('refuses a token whose alg does not fit the key named by kid (RS256 header, EC key)', async () => {
      const token = await t.mint(ec, t.baseClaims(), { alg: 'ES256', kid: 'rsa-1' });
      await rejectsWithCode(authenticate(token), 'ERR_TOKEN_KEY_UNKNOWN');
    });

    it('defaults to asymmetric algorithms only', () => {
      assert.deepEqual([...identity().settings.algorithms], [...ASYMMETRIC_ALGORITHMS]);
      assert.ok(!ASYMMETRIC_ALGORITHMS.some((alg) => /^HS|none/i.test(alg)));
    });
  });

  describe('RFC 8725 §3.10 / RFC 7515 §4.1: keys are never taken from the token', () => {
    for (const member of ['jwk', 'jku', 'x5u', 'x5c']) {
      it(`refuses a "${member}" header, without fetching anything`, async () => {
        const { publicJwk } = await t.signingKey('RS256', 'attacker');
        const value = { jwk: publicJwk, jku: 'https://attacker.test/jwks', x5u: 'https://attacker.test/cert', x5c: ['MIIB'] }[member];
        const token = await t.mint(rsa, t.baseClaims(), { [member]: value });
        await rejectsWithCode(authenticate(token), 'ERR_TOKEN_HEADER_KEY');
        assert.ok(http.calls.every((url) => url.startsWith(t.ISSUER)), `fetched ${http.calls}`);
      });
    }
  });

  describe('RFC 7515 §4.1.11 / RFC 7797: critical extensions', () => {
    it('refuses crit', async () => {
      await rejectsWithCode(authenticate(t.forge({ alg: 'RS256', kid: 'rsa-1', crit: ['exp'], exp: 1 }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_CRIT');
    });
    it('refuses b64:false', async () => {
      await rejectsWithCode(authenticate(t.forge({ alg: 'RS256', kid: 'rsa-1', b64: false, crit: ['b64'] }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_CRIT');
      await rejectsWithCode(authenticate(t.forge({ alg: 'RS256', kid: 'rsa-1', b64: false }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_CRIT');
    });
  });

  describe('RFC 7515 §7.1: token structure', () => {
    const cases = {
      'not a JWT at all': 'opaque-token-value',
      'two parts': 'eyJhbGciOiJSUzI1NiJ9.e30',
      'four parts': 'a.b.c.d',
      'a header that is not base64url': 'ab+c/.e30.c2ln',
      'a header that is not JSON': `${t.b64('not json')}.e30.c2ln`,
      'a header that is a JSON array': `${t.b64('[1]')}.e30.c2ln`,
      'an empty header': '.e30.c2ln',
    };
    for (const [name, token] of Object.entries(cases)) {
      it(`refuses ${name}`, async () => {
        await rejectsWithCode(authenticate(token), 'ERR_TOKEN_MALFORMED');
      });
    }

    it('refuses a payload that is not a JSON object, after the signature checks out', async () => {
      const jws = await new jose.CompactSign(Buffer.from('[1,2]')).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
      await rejectsWithCode(authenticate(jws), 'ERR_TOKEN_MALFORMED');
    });

    it('refuses encrypted (JWE) tokens', async () => {
      await rejectsWithCode(authenticate('eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'), 'ERR_TOKEN_ENCRYPTED');
    });

    it('refuses a kid that is not a short string', async () => {
      await rejectsWithCode(authenticate(t.forge({ alg: 'RS256', kid: 42 }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_MALFORMED');
      await rejectsWithCode(authenticate(t.forge({ alg: 'RS256', kid: 'k'.repeat(300) }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_MALFORMED');
    });

    it('refuses a typ header that is not a string', async () => {
      await rejectsWithCode(authenticate(t.forge({ alg: 'RS256', kid: 'rsa-1', typ: ['at+jwt'] }, t.baseClaims(), 'c2ln')), 'ERR_TOKEN_MALFORMED');
    });

    it('the verifier checks the length itself too, for callers that skip the bearer parser', async () => {
      const { TokenVerifier } = require('../../dist/core/verifier');
      const verifier = new TokenVerifier({
        issuer: t.ISSUER, audiences: [], algorithms: ['RS256'], clockToleranceSec: 0, rfc9068: false, maxTokenLength: 10,
        keys: { keyFor: () => assert.fail('no key lookup for an oversized token') }, now: clock.now,
      });
      await rejectsWithCode(verifier.verify('a'.repeat(11)), 'ERR_TOKEN_TOO_LARGE');
    });

    it('a token of another issuer whose key we do not have: ERR_TOKEN_ISSUER, which names what to fix', async () => {
      const { TokenVerifier } = require('../../dist/core/verifier');
      const { AccessDeniedError } = require('../../dist/core/errors');
      const verifier = new TokenVerifier({
        issuer: t.ISSUER, audiences: ['api'], algorithms: ['RS256'], clockToleranceSec: 0, rfc9068: false, maxTokenLength: 16384,
        keys: { keyFor: async () => { throw new AccessDeniedError('ERR_TOKEN_KEY_UNKNOWN', 'no such key'); } }, now: clock.now,
      });
      const ours = t.forge({ alg: 'RS256', kid: 'unknown-kid' }, t.baseClaims(), 'c2ln');
      await rejectsWithCode(verifier.verify(ours), 'ERR_TOKEN_KEY_UNKNOWN');
      const foreign = t.forge({ alg: 'RS256', kid: 'unknown-kid' }, t.baseClaims({ iss: 'https://elsewhere.example.test' }), 'c2ln');
      await rejectsWithCode(verifier.verify(foreign), 'ERR_TOKEN_ISSUER');
      await rejectsWithCode(verifier.verify(t.forge({ alg: 'RS256', kid: 'k' }, t.baseClaims({ iss: 7 }), 'c2ln')), 'ERR_TOKEN_ISSUER');
    });

    it('refuses a token longer than maxTokenLength', async () => {
      const token = await t.mint(rsa, t.baseClaims({ pad: 'x'.repeat(600) }));
      await rejectsWithCode(authenticate(token, { maxTokenLength: 500 }), 'ERR_TOKEN_TOO_LARGE');
    });
  });

  describe('RFC 7515 §5.2: signature', () => {
    it('refuses a stripped signature', async () => {
      const [header, payload] = (await t.mint(rsa)).split('.');
      await rejectsWithCode(authenticate(`${header}.${payload}.`), 'ERR_TOKEN_SIGNATURE');
    });

    it('refuses a payload changed after signing', async () => {
      const [header, , signature] = (await t.mint(rsa)).split('.');
      const forged = t.b64(t.baseClaims({ scope: 'orders:read orders:admin' }));
      await rejectsWithCode(authenticate(`${header}.${forged}.${signature}`), 'ERR_TOKEN_SIGNATURE');
    });

    it('refuses a token signed by a key the provider does not publish, even with a known kid', async () => {
      const impostor = await t.signingKey('RS256', 'rsa-1');
      await rejectsWithCode(authenticate(await t.mint(impostor)), 'ERR_TOKEN_SIGNATURE');
    });

    it('refuses ECDSA r = s = 0 (CVE-2022-21449)', async () => {
      const [header, payload] = (await t.mint(ec)).split('.');
      const zero = Buffer.alloc(64).toString('base64url');
      await rejectsWithCode(authenticate(`${header}.${payload}.${zero}`), 'ERR_TOKEN_SIGNATURE');
    });
  });

  describe('RFC 7519 §4.1: registered claims', () => {
    it('refuses another issuer (exact match, no trailing-slash folding)', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ iss: `${t.ISSUER}/` }))), 'ERR_TOKEN_ISSUER');
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ iss: 'https://evil.test' }))), 'ERR_TOKEN_ISSUER');
    });

    it('refuses a token without iss', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ iss: undefined }))), 'ERR_TOKEN_CLAIM_INVALID');
    });

    it('refuses to validate at all when no audience is configured (RFC 9068 §4): ERR_CONFIG_AUDIENCE_MISSING', async () => {
      const error = await rejectsWithCode(authenticate(await t.mint(rsa), { audience: '' }), 'ERR_CONFIG_AUDIENCE_MISSING');
      assert.equal(error.option, 'audience');
      assert.equal(http.calls.length, 0, 'decided before any provider call');
    });

    it('refuses an ID token meant for another client (its aud is that client)', async () => {
      const idToken = await t.mint(rsa, t.baseClaims({ aud: 'some-spa', nonce: 'n-1', scope: undefined }), { typ: 'JWT' });
      await rejectsWithCode(authenticate(idToken), 'ERR_TOKEN_AUDIENCE');
    });

    it('refuses another audience, and a missing aud', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ aud: 'account' }))), 'ERR_TOKEN_AUDIENCE');
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ aud: ['a', 'b'] }))), 'ERR_TOKEN_AUDIENCE');
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ aud: undefined }))), 'ERR_TOKEN_CLAIM_INVALID');
    });

    it('refuses an expired token beyond the tolerance', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ exp: t.NOW_SEC - 31 }))), 'ERR_TOKEN_EXPIRED');
    });

    it('applies a configured tolerance (0 s)', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ exp: t.NOW_SEC })), { clockToleranceSec: 0 }), 'ERR_TOKEN_EXPIRED');
    });

    it('refuses a token without exp', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ exp: undefined }))), 'ERR_TOKEN_CLAIM_INVALID');
    });

    it('refuses a token that is not valid yet (nbf beyond the tolerance), accepts one within it', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ nbf: t.NOW_SEC + 31 }))), 'ERR_TOKEN_NOT_YET_VALID');
      assert.equal((await authenticate(await t.mint(rsa, t.baseClaims({ nbf: t.NOW_SEC + 29 })))).subject, 'alice');
    });

    it('refuses numeric dates that are not numbers', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims({ exp: String(t.NOW_SEC + 300) }))), 'ERR_TOKEN_CLAIM_INVALID');
    });

    it('follows the clock it is given: a token valid now is expired ten minutes later', async () => {
      const id = identity();
      const token = await t.mint(rsa);
      assert.equal((await id.authenticate(bearer(token), NO_RULES)).subject, 'alice');
      clock.advance(10 * 60_000);
      await rejectsWithCode(id.authenticate(bearer(token), NO_RULES), 'ERR_TOKEN_EXPIRED');
    });
  });

  describe('RFC 9068 strict mode', () => {
    it('accepts a complete at+jwt token', async () => {
      assert.equal((await authenticate(await t.mint(rsa), { rfc9068: true })).subject, 'alice');
      assert.equal((await authenticate(await t.mint(rsa, t.baseClaims(), { typ: 'application/AT+JWT' }), { rfc9068: true })).subject, 'alice');
    });

    it('refuses typ other than at+jwt (§4 step 1), and a missing typ', async () => {
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims(), { typ: 'JWT' }), { rfc9068: true }), 'ERR_TOKEN_TYPE');
      await rejectsWithCode(authenticate(await t.mint(rsa, t.baseClaims(), { typ: undefined }), { rfc9068: true }), 'ERR_TOKEN_TYPE');
    });

    for (const claim of ['sub', 'client_id', 'iat', 'jti', 'aud']) {
      it(`refuses a token without ${claim} (§2.2)`, async () => {
        const token = await t.mint(rsa, t.baseClaims({ [claim]: undefined }));
        await rejectsWithCode(authenticate(token, { rfc9068: true }), 'ERR_TOKEN_CLAIM_INVALID');
        if (claim !== 'aud') assert.equal((await authenticate(token)).issuer, t.ISSUER, 'outside strict mode the claim is optional');
      });
    }
  });
});
