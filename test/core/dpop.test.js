'use strict';
/**
 * Sender-constrained tokens in the core: DPoP proofs (RFC 9449 §4.3) and the binding of a token to
 * the proof's key (§6, §7.1), certificate-bound tokens (RFC 8705 §3), the DPoP and DPoP-or-Bearer
 * challenges (§7.1), and `Identity.authenticate` with both. Proofs are signed in the test with keys
 * generated in the test, on a fixed clock.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const jose = require('jose');
const { DpopPolicy, DPOP_ALGORITHMS, DPOP_DEFAULTS, normalisedUrl } = require('../../dist/core/dpop');
const { MtlsPolicy, certificateThumbprint } = require('../../dist/core/mtls');
const { extractAccessToken, presentedScheme } = require('../../dist/core/bearer');
const { rejectionFor } = require('../../dist/core/challenge');
const { AccessDeniedError, IdentityError, ProviderUnavailableError } = require('../../dist/core/errors');
const { Identity } = require('../../dist/core/identity');
const { rejectsWithCode, throwsWithCode } = require('../support/assert');
const t = require('../support/keys');

const PUBLIC_URL = 'https://api.example.com';
const PATH = '/api/dpop/orders';
const TOLERANCE_SEC = 30;
const ath = (token) => crypto.createHash('sha256').update(token).digest('base64url');

/** A client's DPoP key: its public JWK, its thumbprint, and proofs signed with it. */
async function clientKey(alg = 'ES256', options = {}) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await jose.exportJWK(publicKey);
  return {
    alg, jwk, privateKey, privateJwk: await jose.exportJWK(privateKey), jkt: await jose.calculateJwkThumbprint(jwk),
    /** A proof for `token`; `claims` and `header` override the honest values (undefined removes one). */
    proof(token, claims = {}, header = {}) {
      const body = { htm: 'GET', htu: `${PUBLIC_URL}${PATH}`, iat: t.NOW_SEC, jti: crypto.randomUUID(), ath: ath(token), ...claims };
      const protectedHeader = { typ: 'dpop+jwt', alg, jwk, ...header };
      return new jose.SignJWT(clean(body)).setProtectedHeader(clean(protectedHeader)).sign(privateKey);
    },
  };
}

const clean = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

function dpopRequest(token, proof, extra = {}) {
  const headers = { authorization: `DPoP ${token}`, ...(proof === undefined ? {} : { dpop: proof }), ...extra.headers };
  const rawHeaders = Object.entries(headers).flatMap(([name, value]) => [name, value]);
  return { method: 'GET', originalUrl: `${PATH}?page=2`, ...extra, headers, rawHeaders };
}

const presentedBy = (request) => extractAccessToken(request, 16384, ['bearer', 'dpop']);

describe('core: DPoP (RFC 9449)', () => {
  let client;
  let other;
  let clock;
  let policy;
  const token = 'header.payload.signature';
  const bound = (jkt) => ({ ...t.baseClaims(), cnf: { jkt } });

  before(async () => {
    client = await clientKey('ES256');
    other = await clientKey('ES256');
  });

  beforeEach(() => {
    clock = t.fixedClock();
    policy = new DpopPolicy({ mode: 'allowed', publicUrl: PUBLIC_URL, clockToleranceSec: TOLERANCE_SEC, now: clock.now });
  });

  const confirm = (request, claims = bound(client.jkt), p = policy) => p.confirm(request, claims, presentedBy(request));

  describe('options, checked at deploy time', () => {
    it('off by default: Bearer only, no challenge, no proof checked; a DPoP-bound token as Bearer is still refused (§7.1)', async () => {
      const off = new DpopPolicy({ clockToleranceSec: 30, now: clock.now });
      assert.equal(off.mode, 'off');
      assert.deepEqual(off.schemes, ['bearer']);
      assert.equal(off.challenge, undefined);
      const request = { headers: { authorization: `Bearer ${token}` } };
      assert.equal(await off.confirm(request, {}, { token, scheme: 'bearer' }), undefined);
      await assert.rejects(off.confirm(request, bound(client.jkt), { token, scheme: 'bearer' }), { code: 'ERR_TOKEN_DPOP_BOUND' });
    });

    it('allowed takes Bearer and DPoP, required DPoP only; the challenge lists the proof algorithms', () => {
      assert.deepEqual(policy.schemes, ['bearer', 'dpop']);
      assert.deepEqual(policy.challenge, { required: false, algorithms: DPOP_ALGORITHMS });
      const required = new DpopPolicy({ mode: 'required', publicUrl: PUBLIC_URL, clockToleranceSec: 0, now: clock.now });
      assert.deepEqual(required.schemes, ['dpop']);
      assert.equal(required.challenge.required, true);
      assert.equal(DPOP_ALGORITHMS[0], 'ES256');
      assert.ok(!DPOP_ALGORITHMS.some((alg) => /^(none|HS)/.test(alg)));
    });

    it('an unknown mode: ERR_CONFIG_INVALID naming dpop', () => {
      const error = throwsWithCode(() => new DpopPolicy({ mode: 'sometimes', clockToleranceSec: 0, now: clock.now }), 'ERR_CONFIG_INVALID');
      assert.equal(error.option, 'dpop');
    });

    it('publicUrl is required unless off, and must be an http(s) URL without credentials, query or fragment', () => {
      for (const publicUrl of [undefined, '', '  ', 'api.example.com', 'ftp://api.example.com', 'https://user:pw@api.example.com',
        'https://api.example.com/?a=1', 'https://api.example.com/#x']) {
        const error = throwsWithCode(() => new DpopPolicy({ mode: 'required', publicUrl, clockToleranceSec: 0, now: clock.now }), 'ERR_CONFIG_INVALID');
        assert.equal(error.option, 'publicUrl', String(publicUrl));
      }
    });
  });

  describe('a valid proof', () => {
    it('binds the token: resolves { jkt }, the RFC 7638 thumbprint of the proof key', async () => {
      assert.deepEqual(await confirm(dpopRequest(token, await client.proof(token))), { jkt: client.jkt });
    });

    for (const [alg, options] of [['ES384'], ['EdDSA', { crv: 'Ed25519' }], ['Ed25519'], ['PS256'], ['RS256']]) {
      it(`signed with ${alg}: accepted`, async () => {
        const key = await clientKey(alg, options);
        assert.deepEqual(await confirm(dpopRequest(token, await key.proof(token)), bound(key.jkt)), { jkt: key.jkt });
      });
    }

    it('htu is compared without query and fragment, after RFC 3986 normalisation', async () => {
      for (const htu of [`${PUBLIC_URL}${PATH}?page=2`, `${PUBLIC_URL}${PATH}#top`, `HTTPS://API.Example.COM:443${PATH}`,
        `${PUBLIC_URL}/api/%64pop/orders`, `${PUBLIC_URL}/api/x/../dpop/orders`]) {
        assert.deepEqual(await confirm(dpopRequest(token, await client.proof(token, { htu }))), { jkt: client.jkt }, htu);
      }
      assert.equal(normalisedUrl('https://a.test/%7e%2f'), 'https://a.test/~%2F');
      assert.equal(normalisedUrl('mailto:a@b.test'), undefined);
      assert.equal(normalisedUrl('not a url'), undefined);
    });

    it("htu is publicUrl (a proxy's path prefix included) plus the request's path with httpNodeRoot (originalUrl)", async () => {
      const proxied = new DpopPolicy({ mode: 'allowed', publicUrl: 'https://api.example.com/gateway/', clockToleranceSec: 0, now: clock.now });
      const htu = `https://api.example.com/gateway/red${PATH}`;
      const request = dpopRequest(token, await client.proof(token, { htu }), { originalUrl: `/red${PATH}?page=2`, url: PATH });
      assert.deepEqual(await confirm(request, bound(client.jkt), proxied), { jkt: client.jkt });
      const withoutPrefix = dpopRequest(token, await client.proof(token, { htu: `https://api.example.com/red${PATH}` }), { originalUrl: `/red${PATH}` });
      await rejectsWithCode(confirm(withoutPrefix, bound(client.jkt), proxied), 'ERR_DPOP_PROOF_INVALID');
    });

    it('iat may be up to 60 s old or 30 s ahead (the clock tolerance) on either side of the window', async () => {
      const window = DPOP_DEFAULTS.proofMaxAgeSec + TOLERANCE_SEC;
      for (const iat of [t.NOW_SEC - window, t.NOW_SEC + TOLERANCE_SEC]) {
        assert.deepEqual(await confirm(dpopRequest(token, await client.proof(token, { iat }))), { jkt: client.jkt }, String(iat));
      }
    });
  });

  describe('refused proofs: ERR_DPOP_PROOF_INVALID', () => {
    const claims = (jti) => ({ htm: 'GET', htu: `${PUBLIC_URL}${PATH}`, iat: t.NOW_SEC, jti, ath: ath(token) });
    /** name: [what the message must say, how the proof is made] */
    const refusals = {
      'typ JWT': [/typ/, (k) => k.proof(token, {}, { typ: 'JWT' })],
      'no typ': [/typ/, (k) => k.proof(token, {}, { typ: undefined })],
      'no jwk': [/no jwk/, (k) => k.proof(token, {}, { jwk: undefined })],
      'a jwk with the private key (d)': [/private/, (k) => k.proof(token, {}, { jwk: k.privateJwk })],
      'another key in jwk than the one that signed': [/signature/, (k) => k.proof(token, {}, { jwk: other.jwk })],
      'a symmetric jwk (kty oct)': [/private/, (k) => k.proof(token, {}, { jwk: { kty: 'oct', k: 'c2VjcmV0' } })],
      'a jwk without kty': [/not a public key/, (k) => k.proof(token, {}, { jwk: { ...k.jwk, kty: undefined } })],
      'a jwk that is no object': [/no jwk/, (k) => k.proof(token, {}, { jwk: 'key' })],
      'htm POST for a GET': [/htm/, (k) => k.proof(token, { htm: 'POST' })],
      'htm get (methods are case-sensitive)': [/htm/, (k) => k.proof(token, { htm: 'get' })],
      'no htm': [/htm/, (k) => k.proof(token, { htm: undefined })],
      'htu of another path': [/htu/, (k) => k.proof(token, { htu: `${PUBLIC_URL}/api/other` })],
      'htu of another host': [/htu/, (k) => k.proof(token, { htu: `https://evil.example${PATH}` })],
      'htu over http': [/htu/, (k) => k.proof(token, { htu: `http://api.example.com${PATH}` })],
      'htu that is no URL': [/htu/, (k) => k.proof(token, { htu: PATH })],
      'no htu': [/htu/, (k) => k.proof(token, { htu: undefined })],
      'iat older than the window': [/iat/, (k) => k.proof(token, { iat: t.NOW_SEC - DPOP_DEFAULTS.proofMaxAgeSec - TOLERANCE_SEC - 1 })],
      'iat beyond the clock tolerance ahead': [/iat/, (k) => k.proof(token, { iat: t.NOW_SEC + TOLERANCE_SEC + 1 })],
      'iat as a string': [/iat/, (k) => k.proof(token, { iat: String(t.NOW_SEC) })],
      'no iat': [/iat/, (k) => k.proof(token, { iat: undefined })],
      'ath of another token': [/ath/, (k) => k.proof(token, { ath: ath('another.access.token') })],
      'no ath': [/ath/, (k) => k.proof(token, { ath: undefined })],
      'no jti': [/jti/, (k) => k.proof(token, { jti: undefined })],
      'a jti of 257 characters': [/jti/, (k) => k.proof(token, { jti: 'j'.repeat(257) })],
      'alg none, with a signature': [/algorithm/, (k) => t.forge({ typ: 'dpop+jwt', alg: 'none', jwk: k.jwk }, claims('n'), 'c2ln')],
      'alg none, unsigned': [/not a signed JWT/, (k) => t.forge({ typ: 'dpop+jwt', alg: 'none', jwk: k.jwk }, claims('n'))],
      'alg HS256, keyed with the public jwk': [/algorithm/, (k) => new jose.SignJWT(claims('h'))
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: k.jwk }).sign(new TextEncoder().encode(JSON.stringify(k.jwk)))],
      'an altered payload': [/signature/, async (k) => {
        const [h, , signature] = (await k.proof(token)).split('.');
        return `${h}.${t.b64(claims('x'))}.${signature}`;
      }],
      'claims that are a JSON array': [/JSON object/, (k) => new jose.CompactSign(new TextEncoder().encode('[1]'))
        .setProtectedHeader({ typ: 'dpop+jwt', alg: k.alg, jwk: k.jwk }).sign(k.privateKey)],
      'claims that are no JSON': [/JSON object/, (k) => new jose.CompactSign(new TextEncoder().encode('{"htm":'))
        .setProtectedHeader({ typ: 'dpop+jwt', alg: k.alg, jwk: k.jwk }).sign(k.privateKey)],
      'a header that is no JSON': [/header/, () => `${t.b64('not json')}.${t.b64({})}.c2ln`],
      'not a JWS': [/not a signed JWT/, () => 'not-a-jws'],
      'longer than 8 KiB': [/not a signed JWT/, (k) => k.proof(token, { pad: 'x'.repeat(DPOP_DEFAULTS.maxProofLength) })],
    };
    for (const [name, [reason, make]] of Object.entries(refusals)) {
      it(name, async () => {
        const error = await rejectsWithCode(confirm(dpopRequest(token, await make(client))), 'ERR_DPOP_PROOF_INVALID');
        assert.match(error.message, reason);
        assert.ok(error instanceof AccessDeniedError);
        assert.equal(error.rejectionClass, 'invalid_dpop_proof');
        assert.ok(!error.message.includes(token), 'no token in the message');
      });
    }

    it('an algorithm outside the allowlist names the allowed ones', async () => {
      const proof = t.forge({ typ: 'dpop+jwt', alg: 'ES256K', jwk: client.jwk }, { htm: 'GET' }, 'c2ln');
      const error = await rejectsWithCode(confirm(dpopRequest(token, proof)), 'ERR_DPOP_PROOF_INVALID');
      assert.match(error.message, /ES256 ES384/);
    });

    it('the Host and X-Forwarded-* headers are never used for htu', async () => {
      const forged = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
      const toEvil = dpopRequest(token, await client.proof(token, { htu: `https://evil.example${PATH}` }), { headers: forged });
      await rejectsWithCode(confirm(toEvil), 'ERR_DPOP_PROOF_INVALID');
      const honest = dpopRequest(token, await client.proof(token), { headers: forged });
      assert.deepEqual(await confirm(honest), { jkt: client.jkt });
    });

    it('a request without method or target (not from http in) matches no proof', async () => {
      const request = { ...dpopRequest(token, await client.proof(token)), method: undefined, originalUrl: undefined };
      await rejectsWithCode(confirm(request), 'ERR_DPOP_PROOF_INVALID');
      const withUrl = { ...dpopRequest(token, await client.proof(token, { htu: `${PUBLIC_URL}/` })), originalUrl: undefined, url: undefined };
      assert.deepEqual(await confirm(withUrl), { jkt: client.jkt }, 'no target: the root');
      const onlyUrl = { ...dpopRequest(token, await client.proof(token)), originalUrl: undefined, url: `${PATH}?a=1` };
      assert.deepEqual(await confirm(onlyUrl), { jkt: client.jkt }, 'url when there is no originalUrl');
    });

    it('a proof for the right URL, but the request went elsewhere', async () => {
      const request = dpopRequest(token, await client.proof(token), { originalUrl: '/api/admin' });
      await rejectsWithCode(confirm(request), 'ERR_DPOP_PROOF_INVALID');
    });
  });

  describe('the request and the binding', () => {
    it('the DPoP scheme without a DPoP header: ERR_DPOP_PROOF_MISSING', async () => {
      await rejectsWithCode(confirm(dpopRequest(token, undefined)), 'ERR_DPOP_PROOF_MISSING');
      await rejectsWithCode(confirm(dpopRequest(token, '')), 'ERR_DPOP_PROOF_MISSING');
    });

    it('two DPoP headers: ERR_DPOP_PROOF_INVALID, even when both are good', async () => {
      const [a, b] = [await client.proof(token), await client.proof(token)];
      const request = { ...dpopRequest(token, `${a}, ${b}`), rawHeaders: ['Authorization', `DPoP ${token}`, 'DPoP', a, 'dpop', b] };
      await rejectsWithCode(confirm(request), 'ERR_DPOP_PROOF_INVALID');
      await rejectsWithCode(confirm({ ...dpopRequest(token, [a, b]), rawHeaders: undefined }), 'ERR_DPOP_PROOF_INVALID');
    });

    it('a token without cnf.jkt with the DPoP scheme: ERR_DPOP_BINDING (invalid_token)', async () => {
      const error = await rejectsWithCode(confirm(dpopRequest(token, await client.proof(token)), t.baseClaims()), 'ERR_DPOP_BINDING');
      assert.equal(error.rejectionClass, 'invalid_token');
      await rejectsWithCode(confirm(dpopRequest(token, await client.proof(token)), { ...t.baseClaims(), cnf: 'jkt' }), 'ERR_DPOP_BINDING');
    });

    it("a proof by another key than the token's: ERR_DPOP_BINDING", async () => {
      await rejectsWithCode(confirm(dpopRequest(token, await other.proof(token))), 'ERR_DPOP_BINDING');
      await rejectsWithCode(confirm(dpopRequest(token, await client.proof(token)), bound(42)), 'ERR_DPOP_BINDING');
    });

    it('a DPoP-bound token with the Bearer scheme: ERR_TOKEN_DPOP_BOUND (§7.1), a proof beside it or not', async () => {
      const request = { headers: { authorization: `Bearer ${token}`, dpop: await client.proof(token) } };
      await rejectsWithCode(confirm(request), 'ERR_TOKEN_DPOP_BOUND');
      await rejectsWithCode(confirm({ headers: { authorization: `Bearer ${token}` } }, { ...t.baseClaims(), cnf: { jkt: '' } }), 'ERR_TOKEN_DPOP_BOUND');
    });

    it('an unbound token with the Bearer scheme (allowed): nothing to confirm', async () => {
      assert.equal(await confirm({ headers: { authorization: `Bearer ${token}` } }, t.baseClaims()), undefined);
      assert.equal(await confirm({ headers: { authorization: `Bearer ${token}` } }, { ...t.baseClaims(), cnf: { 'x5t#S256': 'x' } }), undefined);
    });
  });

  describe('replay (jti)', () => {
    it('a proof used twice: ERR_DPOP_PROOF_REPLAYED the second time', async () => {
      const proof = await client.proof(token);
      assert.deepEqual(await confirm(dpopRequest(token, proof)), { jkt: client.jkt });
      const error = await rejectsWithCode(confirm(dpopRequest(token, proof)), 'ERR_DPOP_PROOF_REPLAYED');
      assert.equal(error.rejectionClass, 'invalid_dpop_proof');
    });

    it('a new proof with a used jti: refused, whatever else it says', async () => {
      await confirm(dpopRequest(token, await client.proof(token, { jti: 'once' })));
      await rejectsWithCode(confirm(dpopRequest(token, await client.proof(token, { jti: 'once', iat: t.NOW_SEC - 1 }))), 'ERR_DPOP_PROOF_REPLAYED');
    });

    it('concurrent requests with one proof: exactly one passes', async () => {
      const proof = await client.proof(token);
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => confirm(dpopRequest(token, proof))));
      assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
      assert.ok(outcomes.filter((outcome) => outcome.status === 'rejected').every((outcome) => outcome.reason.code === 'ERR_DPOP_PROOF_REPLAYED'));
    });

    it('a jti is remembered exactly as long as its proof passes the iat check', async () => {
      const proof = await client.proof(token);
      await confirm(dpopRequest(token, proof));
      clock.advance((DPOP_DEFAULTS.proofMaxAgeSec + TOLERANCE_SEC) * 1000);
      await rejectsWithCode(confirm(dpopRequest(token, proof)), 'ERR_DPOP_PROOF_REPLAYED');
      clock.advance(1);
      await rejectsWithCode(confirm(dpopRequest(token, proof)), 'ERR_DPOP_PROOF_INVALID');
    });

    it('a refused binding does not use up the jti', async () => {
      const proof = await client.proof(token, { jti: 'kept' });
      await rejectsWithCode(confirm(dpopRequest(token, proof), t.baseClaims()), 'ERR_DPOP_BINDING');
      assert.deepEqual(await confirm(dpopRequest(token, proof)), { jkt: client.jkt });
    });

    it('the cache is bounded (the oldest go first) and cleared on close', async () => {
      const small = new DpopPolicy({ mode: 'allowed', publicUrl: PUBLIC_URL, clockToleranceSec: 0, replayCacheEntries: 2, now: clock.now });
      const proofs = [await client.proof(token), await client.proof(token), await client.proof(token)];
      for (const proof of proofs) await confirm(dpopRequest(token, proof), bound(client.jkt), small);
      assert.deepEqual(await confirm(dpopRequest(token, proofs[0]), bound(client.jkt), small), { jkt: client.jkt }, 'evicted');
      await rejectsWithCode(confirm(dpopRequest(token, proofs[2]), bound(client.jkt), small), 'ERR_DPOP_PROOF_REPLAYED');
      small.clear();
      assert.deepEqual(await confirm(dpopRequest(token, proofs[2]), bound(client.jkt), small), { jkt: client.jkt });
    });
  });
});

describe('core: Authorization schemes (RFC 9449 §7.1)', () => {
  const header = (authorization) => ({ headers: { authorization }, rawHeaders: ['Authorization', authorization] });

  it('DPoP and Bearer, in any case, where both are accepted', () => {
    assert.deepEqual(extractAccessToken(header('DPoP abc'), 100, ['bearer', 'dpop']), { token: 'abc', scheme: 'dpop' });
    assert.deepEqual(extractAccessToken(header('dpop  abc'), 100, ['bearer', 'dpop']), { token: 'abc', scheme: 'dpop' });
    assert.deepEqual(extractAccessToken(header('Bearer abc'), 100, ['bearer', 'dpop']), { token: 'abc', scheme: 'bearer' });
  });

  it('DPoP where only Bearer is accepted (DPoP off): ERR_BEARER_SCHEME, as before', () => {
    throwsWithCode(() => extractAccessToken(header('DPoP abc')), 'ERR_BEARER_SCHEME');
  });

  it('Bearer where only DPoP is accepted: ERR_DPOP_REQUIRED; another scheme: ERR_BEARER_SCHEME', () => {
    const error = throwsWithCode(() => extractAccessToken(header('Bearer abc'), 100, ['dpop']), 'ERR_DPOP_REQUIRED');
    assert.equal(error.rejectionClass, 'invalid_token');
    throwsWithCode(() => extractAccessToken(header('Basic YTpi'), 100, ['dpop']), 'ERR_BEARER_SCHEME');
  });

  it('"DPoP" followed by two tokens: ERR_BEARER_MALFORMED, naming the scheme', () => {
    const error = throwsWithCode(() => extractAccessToken(header('DPoP a b'), 100, ['dpop']), 'ERR_BEARER_MALFORMED');
    assert.match(error.message, /"DPoP"/);
  });

  it('presentedScheme reads the scheme for the challenge and never throws', () => {
    assert.equal(presentedScheme(header('DPoP x')), 'dpop');
    assert.equal(presentedScheme({ headers: { authorization: ['Bearer x', 'DPoP y'] } }), 'bearer');
    assert.equal(presentedScheme(header('Basic x')), undefined);
    assert.equal(presentedScheme(undefined), undefined);
    assert.equal(presentedScheme({}), undefined);
  });
});

describe('core: DPoP challenges (RFC 9449 §7.1)', () => {
  const algs = `algs="${DPOP_ALGORITHMS.join(' ')}"`;
  const allowed = { dpop: { required: false, algorithms: DPOP_ALGORITHMS } };
  const required = { dpop: { required: true, algorithms: DPOP_ALGORITHMS } };
  const denied = (code, message = 'why') => new AccessDeniedError(code, message);
  const challengeOf = (error, options) => rejectionFor(error, 'r', options).headers['WWW-Authenticate'];

  it('no credentials, DPoP allowed: a bare Bearer and a bare DPoP challenge', () => {
    assert.equal(challengeOf(denied('ERR_BEARER_MISSING'), allowed), `Bearer realm="r", DPoP realm="r", ${algs}`);
  });

  it('no credentials, DPoP required: the DPoP challenge alone', () => {
    assert.equal(challengeOf(denied('ERR_BEARER_MISSING'), required), `DPoP realm="r", ${algs}`);
  });

  it('a bad proof: 401 invalid_dpop_proof on the DPoP challenge', () => {
    const answer = rejectionFor(denied('ERR_DPOP_PROOF_REPLAYED', 'used before'), 'r', { ...allowed, scheme: 'dpop' });
    assert.equal(answer.statusCode, 401);
    assert.equal(answer.headers['WWW-Authenticate'], `Bearer realm="r", DPoP realm="r", ${algs}, error="invalid_dpop_proof", error_description="used before"`);
    assert.deepEqual(answer.payload, { error: 'invalid_dpop_proof', error_description: 'used before' });
    assert.equal(challengeOf(denied('ERR_DPOP_PROOF_INVALID', 'x'), required), `DPoP realm="r", ${algs}, error="invalid_dpop_proof", error_description="x"`);
    // Where DPoP is off a proof is never checked; should one be refused, it still gets its DPoP challenge.
    assert.equal(challengeOf(denied('ERR_DPOP_PROOF_INVALID', 'x'), {}), 'Bearer realm="r", DPoP realm="r", error="invalid_dpop_proof", error_description="x"');
  });

  it('a bad token: the error goes to the challenge of the scheme the client used', () => {
    assert.equal(challengeOf(denied('ERR_TOKEN_DPOP_BOUND', 'bound'), { ...allowed, scheme: 'bearer' }),
      `Bearer realm="r", error="invalid_token", error_description="bound", DPoP realm="r", ${algs}`);
    assert.equal(challengeOf(denied('ERR_DPOP_BINDING', 'other key'), { ...allowed, scheme: 'dpop' }),
      `Bearer realm="r", DPoP realm="r", ${algs}, error="invalid_token", error_description="other key"`);
    assert.equal(challengeOf(denied('ERR_DPOP_REQUIRED', 'dpop only'), { ...required, scheme: 'bearer' }),
      `DPoP realm="r", ${algs}, error="invalid_token", error_description="dpop only"`);
  });

  it('a missing scope keeps its scope attribute on the DPoP challenge', () => {
    const error = new AccessDeniedError('ERR_SCOPE_INSUFFICIENT', 'lacks', 'orders:read');
    const answer = rejectionFor(error, 'r', { ...required, scheme: 'dpop' });
    assert.equal(answer.statusCode, 403);
    assert.equal(answer.headers['WWW-Authenticate'], `DPoP realm="r", ${algs}, error="insufficient_scope", error_description="lacks", scope="orders:read"`);
  });

  it('DPoP off: the Bearer challenge alone, as before, whatever scheme the client used', () => {
    assert.equal(challengeOf(denied('ERR_BEARER_SCHEME'), { scheme: 'dpop' }), 'Bearer realm="r"');
    assert.equal(challengeOf(denied('ERR_TOKEN_EXPIRED', 'old'), {}), 'Bearer realm="r", error="invalid_token", error_description="old"');
  });

  it('503 answers carry no challenge, DPoP or not', () => {
    const answer = rejectionFor(new ProviderUnavailableError('ERR_JWKS_UNAVAILABLE', 'down', 5), 'r', allowed);
    assert.equal(answer.statusCode, 503);
    assert.equal(answer.headers['WWW-Authenticate'], undefined);
  });

  it('every sender-constraint code answers 401', () => {
    for (const code of ['ERR_DPOP_PROOF_MISSING', 'ERR_DPOP_PROOF_INVALID', 'ERR_DPOP_PROOF_REPLAYED', 'ERR_DPOP_BINDING', 'ERR_DPOP_REQUIRED',
      'ERR_TOKEN_DPOP_BOUND', 'ERR_MTLS_CERT_MISSING', 'ERR_MTLS_CERT_INVALID', 'ERR_MTLS_BINDING']) {
      assert.equal(rejectionFor(new IdentityError(code, 'x'), 'r', allowed).statusCode, 401, code);
    }
  });
});

describe('core: certificate-bound tokens (RFC 8705 §3)', () => {
  const fixtures = path.join(__dirname, '..', 'fixtures');
  const clientPem = fs.readFileSync(path.join(fixtures, 'client-cert.pem'), 'utf8');
  const serverPem = fs.readFileSync(path.join(fixtures, 'server-cert.pem'), 'utf8');
  const derOf = (pem) => new crypto.X509Certificate(pem).raw;
  const thumbprint = certificateThumbprint(derOf(clientPem));
  const boundClaims = { ...t.baseClaims(), cnf: { 'x5t#S256': thumbprint } };
  const overTls = (pem) => ({ headers: {}, socket: { getPeerCertificate: () => (pem ? { raw: derOf(pem) } : {}) } });
  const withHeader = (value, name = 'x-ssl-client-cert') => ({ headers: { [name]: value }, rawHeaders: [name, value] });

  it('the thumbprint is base64url(SHA-256(DER)), the fixture certificate\'s documented fingerprint', () => {
    const hex = Buffer.from(thumbprint, 'base64url').toString('hex').toUpperCase().match(/../g).join(':');
    assert.equal(hex, '9A:83:9D:3F:6D:2C:D9:6A:F1:D4:76:90:66:64:0F:18:68:4B:65:6C:92:AD:BF:53:B9:50:C9:2D:B9:F6:E4:B4');
  });

  describe('options', () => {
    it('off by default: a certificate-bound token is not checked', () => {
      assert.equal(new MtlsPolicy({}).mode, 'off');
      assert.equal(new MtlsPolicy({}).confirm(overTls(undefined), boundClaims), undefined);
    });

    it('an unknown mode or a header name that is no HTTP token: ERR_CONFIG_INVALID naming the option', () => {
      assert.equal(throwsWithCode(() => new MtlsPolicy({ mode: 'optional' }), 'ERR_CONFIG_INVALID').option, 'mtls');
      assert.equal(throwsWithCode(() => new MtlsPolicy({ mode: 'required', clientCertHeader: 'x ssl cert' }), 'ERR_CONFIG_INVALID').option, 'clientCertHeader');
    });
  });

  describe('from the TLS socket', () => {
    const required = new MtlsPolicy({ mode: 'required' });

    it("the certificate the token is bound to: { 'x5t#S256' }", () => {
      assert.deepEqual(required.confirm(overTls(clientPem), boundClaims), { 'x5t#S256': thumbprint });
    });

    it('another certificate, or a token without cnf.x5t#S256: ERR_MTLS_BINDING', () => {
      throwsWithCode(() => required.confirm(overTls(serverPem), boundClaims), 'ERR_MTLS_BINDING');
      throwsWithCode(() => required.confirm(overTls(clientPem), t.baseClaims()), 'ERR_MTLS_BINDING');
      throwsWithCode(() => required.confirm(overTls(clientPem), { ...t.baseClaims(), cnf: { jkt: thumbprint } }), 'ERR_MTLS_BINDING');
    });

    it('no client certificate, or no TLS at all: ERR_MTLS_CERT_MISSING (invalid_token)', () => {
      assert.equal(throwsWithCode(() => required.confirm(overTls(undefined), boundClaims), 'ERR_MTLS_CERT_MISSING').rejectionClass, 'invalid_token');
      throwsWithCode(() => required.confirm({ headers: {}, socket: {} }, boundClaims), 'ERR_MTLS_CERT_MISSING');
      throwsWithCode(() => required.confirm({ headers: {} }, boundClaims), 'ERR_MTLS_CERT_MISSING');
    });
  });

  describe("from a trusted proxy's header", () => {
    const required = new MtlsPolicy({ mode: 'required', clientCertHeader: 'X-SSL-Client-Cert' });
    const base64Der = Buffer.from(derOf(clientPem)).toString('base64');

    const accepted = {
      PEM: clientPem.replace(/\n/g, ' '),
      'URL-encoded PEM (nginx $ssl_client_escaped_cert)': encodeURIComponent(clientPem),
      'PEM with tab-continued lines (nginx $ssl_client_cert)': clientPem.trim().replace(/\n/g, '\t'),
      'base64 DER without armour (Traefik)': base64Der,
      "Envoy's XFCC with a quoted Cert": `By=spiffe://api;Hash=abc;Cert="${encodeURIComponent(clientPem)}";Subject="CN=test client,O=demo"`,
      "Envoy's XFCC with an unquoted Cert": `Hash=abc;Cert=${encodeURIComponent(clientPem)}`,
    };
    for (const [name, value] of Object.entries(accepted)) {
      it(`${name}: accepted`, () => {
        assert.deepEqual(required.confirm(withHeader(value), boundClaims), { 'x5t#S256': thumbprint });
      });
    }

    const unreadable = {
      'two certificates': clientPem + serverPem,
      'an XFCC header with two elements': `Cert="${encodeURIComponent(clientPem)}",Cert="${encodeURIComponent(serverPem)}"`,
      // A client's unclosed quote must not hide the comma before the element a proxy appends.
      'an XFCC header whose client part leaves a quote open': `Cert="${encodeURIComponent(clientPem)},By=spiffe://api;Cert="${encodeURIComponent(serverPem)}"`,
      'an XFCC header without Cert': 'By=spiffe://api;Cert',
      'broken URL encoding': '%E0%A4%A',
      'text that is no base64': 'no certificate!',
      'base64 text that is no certificate': 'hello',
      'base64 that is no certificate': Buffer.from('not a certificate').toString('base64'),
    };
    for (const [name, value] of Object.entries(unreadable)) {
      it(`${name}: ERR_MTLS_CERT_INVALID`, () => {
        throwsWithCode(() => required.confirm(withHeader(value), boundClaims), 'ERR_MTLS_CERT_INVALID');
      });
    }

    it('the header twice: ERR_MTLS_CERT_INVALID', () => {
      const request = { headers: { 'x-ssl-client-cert': `${clientPem}, ${clientPem}` }, rawHeaders: ['X-SSL-Client-Cert', clientPem, 'x-ssl-client-cert', clientPem] };
      throwsWithCode(() => required.confirm(request, boundClaims), 'ERR_MTLS_CERT_INVALID');
    });

    it('no header: ERR_MTLS_CERT_MISSING, even when the socket has a certificate (the header mode reads only the header)', () => {
      throwsWithCode(() => required.confirm(overTls(clientPem), boundClaims), 'ERR_MTLS_CERT_MISSING');
    });

    it("the header of another certificate: ERR_MTLS_BINDING", () => {
      throwsWithCode(() => required.confirm(withHeader(encodeURIComponent(serverPem)), boundClaims), 'ERR_MTLS_BINDING');
    });
  });
});

describe('core: Identity.authenticate with sender constraints', () => {
  let signer;
  let client;
  let clock;
  let identity;
  let dpop;
  const rules = { scopes: ['orders:read'], roles: [] };

  before(async () => {
    signer = await t.signingKey('RS256', 'k1');
    client = await clientKey('ES256');
  });

  beforeEach(() => {
    clock = t.fixedClock();
    const http = t.fakeHttp({ [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument(), [t.JWKS_URI]: { keys: [signer.publicJwk] } });
    identity = new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, now: clock.now });
    dpop = new DpopPolicy({ mode: 'allowed', publicUrl: PUBLIC_URL, clockToleranceSec: 30, now: clock.now });
  });

  const binding = () => ({ schemes: dpop.schemes, constraints: [dpop, new MtlsPolicy({})] });

  it('a DPoP-bound token with a fresh proof: msg.auth with confirmation { jkt }; each request needs its own proof, cached token or not', async () => {
    const token = await t.mint(signer, t.baseClaims({ cnf: { jkt: client.jkt } }));
    const proof = await client.proof(token);
    const auth = await identity.authenticate(dpopRequest(token, proof), rules, binding());
    assert.deepEqual(auth.confirmation, { jkt: client.jkt });
    assert.equal(auth.subject, 'alice');
    assert.equal(identity.cachedTokens, 1);
    await rejectsWithCode(identity.authenticate(dpopRequest(token, proof), rules, binding()), 'ERR_DPOP_PROOF_REPLAYED');
    await rejectsWithCode(identity.authenticate(dpopRequest(token, undefined), rules, binding()), 'ERR_DPOP_PROOF_MISSING');
    assert.deepEqual((await identity.authenticate(dpopRequest(token, await client.proof(token)), rules, binding())).confirmation, { jkt: client.jkt });
  });

  it('the binding is checked before the scope: a bad proof is 401, not 403', async () => {
    const token = await t.mint(signer, t.baseClaims({ cnf: { jkt: client.jkt }, scope: 'other' }));
    await rejectsWithCode(identity.authenticate(dpopRequest(token, await client.proof(token, { htm: 'PUT' })), rules, binding()), 'ERR_DPOP_PROOF_INVALID');
    await rejectsWithCode(identity.authenticate(dpopRequest(token, await client.proof(token)), rules, binding()), 'ERR_SCOPE_INSUFFICIENT');
  });

  it('an unbound bearer token (allowed): msg.auth without confirmation; without a binding, DPoP is refused as before', async () => {
    const token = await t.mint(signer);
    const request = { headers: { authorization: `Bearer ${token}` } };
    const auth = await identity.authenticate(request, rules, binding());
    assert.ok(!('confirmation' in auth));
    await rejectsWithCode(identity.authenticate(dpopRequest(token, await client.proof(token)), rules), 'ERR_BEARER_SCHEME');
  });

  it('a token that fails verification is refused before any proof is looked at', async () => {
    const token = await t.mint(signer, t.baseClaims({ cnf: { jkt: client.jkt }, exp: t.NOW_SEC - 120 }));
    await rejectsWithCode(identity.authenticate(dpopRequest(token, undefined), rules, binding()), 'ERR_TOKEN_EXPIRED');
  });
});
