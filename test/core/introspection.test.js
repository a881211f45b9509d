'use strict';
/**
 * Token introspection (RFC 7662): the introspector against the demo provider (oidc-provider) on
 * 127.0.0.1, whose second API issues opaque tokens (active, revoked, wrong audience, expired by our
 * clock, a refresh token, a JWT it will not introspect, a refused client); answers no honest
 * provider gives, from an in-process HTTP client; and transport faults (hang, garbage, a dropped
 * connection, 500) from a fault server. Then `Identity` with `validation`: the options at deploy
 * time and the request path in each mode.
 */
const assert = require('node:assert/strict');
const { createHttpClient } = require('../../dist/core/http');
const { Introspector, INTROSPECTION_DEFAULTS, parseIntrospectionResponse } = require('../../dist/core/introspection');
const { Identity } = require('../../dist/core/identity');
const { toAuthInfo } = require('../../dist/core/claims');
const { listen } = require('../support/servers');
const { startProvider, tokenResponse, passwordToken, CLIENT_SECRET } = require('../support/demo');
const { rejectsWithCode, throwsWithCode } = require('../support/assert');
const t = require('../support/keys');

const INTROSPECTION_PATH = '/token/introspection';

/** An introspector with the options the tests share; each names its provider, client and rules. */
const introspectorWith = (options) => new Introspector({
  now: Date.now, clockToleranceSec: 30, cacheSec: 60, maxEntries: 100, toResult: (claims) => claims, ...options,
});

describe('core: token introspection', function () {
  this.timeout(15000);
  let provider;
  let demo;
  let endpoint;
  let revocationEndpoint;
  const http = createHttpClient({ timeoutMs: 2000 });

  before(async () => {
    provider = await startProvider();
    demo = await import('../../flows/demo/provider.mjs');
    const metadata = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
    endpoint = metadata.introspection_endpoint;
    revocationEndpoint = metadata.revocation_endpoint;
  });
  after(() => provider.close());

  const calls = () => provider.requests.get(INTROSPECTION_PATH) ?? 0;
  const opaqueTokens = (username = 'alice', extra = {}) => tokenResponse(provider, {
    grant_type: 'password', username, password: `${username}-password`, scope: 'orders:read', resource: demo.OPAQUE_AUDIENCE, ...extra,
  });
  const opaqueToken = async (username) => (await opaqueTokens(username)).access_token;
  const introspector = (options = {}) => introspectorWith({
    http,
    endpoint: async () => endpoint,
    client: { clientId: provider.clientId, method: 'client_secret_basic', clientSecret: CLIENT_SECRET },
    issuer: provider.issuer,
    audiences: [demo.OPAQUE_AUDIENCE],
    toResult: (claims) => toAuthInfo(claims, provider.clientId),
    ...options,
  });
  const revoke = async (token) => {
    const response = await fetch(revocationEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${provider.clientId}:${CLIENT_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    assert.equal(response.status, 200);
  };

  describe('against the demo provider', () => {
    it('an active opaque token: its answer, mapped as a JWT\'s claims are (scopes, roles, client, audience)', async () => {
      const token = await opaqueToken('alice');
      assert.equal(token.split('.').length, 1, 'the second demo API issues opaque tokens');
      const auth = await introspector().check(token);
      assert.equal(auth.subject, 'alice');
      assert.equal(auth.clientId, 'demo-client');
      assert.deepEqual(auth.scopes, ['orders:read']);
      assert.deepEqual(auth.roles, ['orders-reader']);
      assert.equal(auth.issuer, provider.issuer);
      assert.deepEqual(auth.audience, [demo.OPAQUE_AUDIENCE]);
      assert.equal(auth.claims.active, true);
      assert.equal(typeof auth.expiresAt, 'string');
      assert.ok(Object.isFrozen(auth) && Object.isFrozen(auth.scopes) && Object.isFrozen(auth.claims.realm_access.roles), 'kept and shared: frozen');
    });

    it('client_secret_post and private_key_jwt authenticate at the introspection endpoint as at the token endpoint', async () => {
      const token = await opaqueToken('alice');
      const post = introspector({ client: { clientId: provider.clientId, method: 'client_secret_post', clientSecret: CLIENT_SECRET } });
      assert.equal((await post.check(token)).subject, 'alice');
      const { loadClientKey } = require('../../dist/core/client-key');
      const key = loadClientKey(JSON.stringify(provider.jwtClientKey), undefined, undefined);
      const jwt = introspector({ client: { clientId: provider.jwtClientId, method: 'private_key_jwt', privateKey: key } });
      assert.equal((await jwt.check(token)).subject, 'alice');
    });

    it('a token revoked at the provider\'s revocation endpoint: ERR_TOKEN_INACTIVE (401 class)', async () => {
      const token = await opaqueToken('alice');
      await revoke(token);
      const error = await rejectsWithCode(introspector().check(token), 'ERR_TOKEN_INACTIVE');
      assert.equal(error.rejectionClass, 'invalid_token');
    });

    it('a token for another API: ERR_TOKEN_AUDIENCE', async () => {
      const token = await opaqueToken('alice');
      await rejectsWithCode(introspector({ audiences: [provider.audience] }).check(token), 'ERR_TOKEN_AUDIENCE');
    });

    it('a token the provider calls active but our clock calls expired (beyond the tolerance): ERR_TOKEN_EXPIRED', async () => {
      const token = await opaqueToken('alice');
      const lateClock = () => Date.now() + 3600_000;
      await rejectsWithCode(introspector({ now: lateClock }).check(token), 'ERR_TOKEN_EXPIRED');
    });

    it('a refresh token sent as an access token: active, but without aud, so refused (ERR_TOKEN_AUDIENCE)', async () => {
      const { refresh_token: refreshToken } = await opaqueTokens('alice');
      const error = await rejectsWithCode(introspector().check(refreshToken), 'ERR_TOKEN_AUDIENCE');
      assert.match(error.message, /no audience/);
    });

    it('a JWT, which oidc-provider does not introspect (unsupported_token_type): ERR_INTROSPECTION_INVALID, a 503', async () => {
      const jwt = await passwordToken(provider, 'alice');
      const error = await rejectsWithCode(introspector().check(jwt), 'ERR_INTROSPECTION_INVALID');
      assert.match(error.message, /unsupported_token_type/);
      assert.equal(error.retryAfterSec, INTROSPECTION_DEFAULTS.retryAfterSec);
    });

    it('a wrong client secret: ERR_INTROSPECTION_CLIENT_REJECTED (configuration class), without the secret or the token in it', async () => {
      const token = await opaqueToken('alice');
      const wrong = introspector({ client: { clientId: provider.clientId, method: 'client_secret_basic', clientSecret: 'wrong-secret-123' } });
      const error = await rejectsWithCode(wrong.check(token), 'ERR_INTROSPECTION_CLIENT_REJECTED');
      assert.equal(error.rejectionClass, 'configuration');
      const everything = JSON.stringify({ message: error.message, stack: error.stack, cause: error.cause, ...error });
      assert.ok(!everything.includes('wrong-secret-123') && !everything.includes(token));
    });

    it('100 concurrent checks of one token make one call to the provider; the next is served from the cache', async () => {
      const token = await opaqueToken('alice');
      const checker = introspector();
      const before = calls();
      const results = await Promise.all(Array.from({ length: 100 }, () => checker.check(token)));
      assert.equal(calls() - before, 1);
      assert.ok(results.every((auth) => auth === results[0]));
      await checker.check(token);
      assert.equal(calls() - before, 1);
    });

    it('a positive answer is kept at most cacheSec; with 0 every check asks', async () => {
      const token = await opaqueToken('alice');
      const clock = t.fixedClock(Math.floor(Date.now() / 1000));
      const kept = introspector({ now: clock.now, cacheSec: 10 });
      let before = calls();
      await kept.check(token);
      clock.advance(9_999);
      await kept.check(token);
      assert.equal(calls() - before, 1);
      clock.advance(1);
      await kept.check(token);
      assert.equal(calls() - before, 2);

      const off = introspector({ cacheSec: 0 });
      before = calls();
      await off.check(token);
      await off.check(token);
      assert.equal(calls() - before, 2);
    });

    it('a positive answer is never kept past the token\'s exp, even with a longer cacheSec', async () => {
      const token = await opaqueToken('alice');
      const clock = t.fixedClock(Math.floor(Date.now() / 1000));
      const checker = introspector({ now: clock.now, cacheSec: 3600, clockToleranceSec: 0 });
      const { claims } = await checker.check(token);
      clock.advance(claims.exp * 1000 - clock.now()); // at exp: no longer kept, and expired by our clock
      await rejectsWithCode(checker.check(token), 'ERR_TOKEN_EXPIRED');
    });

    it('revocation is seen once the positive answer has expired from the cache', async () => {
      const token = await opaqueToken('alice');
      const clock = t.fixedClock(Math.floor(Date.now() / 1000));
      const checker = introspector({ now: clock.now, cacheSec: 5 });
      await checker.check(token);
      await revoke(token);
      assert.equal((await checker.check(token)).subject, 'alice', 'still kept');
      clock.advance(5_000);
      await rejectsWithCode(checker.check(token), 'ERR_TOKEN_INACTIVE');
    });

    it('a negative answer is kept for NEGATIVE_CACHE_SEC (5 s), then asked again', async () => {
      const token = await opaqueToken('alice');
      await revoke(token);
      const clock = t.fixedClock(Math.floor(Date.now() / 1000));
      const checker = introspector({ now: clock.now });
      const before = calls();
      await rejectsWithCode(checker.check(token), 'ERR_TOKEN_INACTIVE');
      clock.advance(INTROSPECTION_DEFAULTS.negativeCacheSec * 1000 - 1);
      await rejectsWithCode(checker.check(token), 'ERR_TOKEN_INACTIVE');
      assert.equal(calls() - before, 1);
      clock.advance(1);
      await rejectsWithCode(checker.check(token), 'ERR_TOKEN_INACTIVE');
      assert.equal(calls() - before, 2);
    });

    it('answers are bounded by maxEntries: the least recently used goes first', async () => {
      const [a, b] = await Promise.all([opaqueToken('alice'), opaqueToken('alice')]);
      const checker = introspector({ maxEntries: 1 });
      const before = calls();
      await checker.check(a);
      await checker.check(b);
      await checker.check(a);
      assert.equal(calls() - before, 3);
    });

    it('the provider down: ERR_INTROSPECTION_UNAVAILABLE with Retry-After, the transport code as cause; failures are not kept', async () => {
      const token = await opaqueToken('alice');
      const checker = introspector();
      await provider.stop();
      try {
        const error = await rejectsWithCode(checker.check(token), 'ERR_INTROSPECTION_UNAVAILABLE');
        assert.equal(error.retryAfterSec, 5);
        assert.equal(error.cause.code, 'ERR_HTTP_UNREACHABLE');
      } finally {
        await provider.start();
      }
      assert.equal((await checker.check(token)).subject, 'alice');
    });
  });

  describe('answers no honest provider gives (an in-process HTTP client)', () => {
    const clock = t.fixedClock();
    /** An HttpClient whose postForm answers `answer` (an object, or a function of the form) and records the request. */
    function fakeProvider(answer) {
      const seen = [];
      return {
        seen,
        getJson: async () => { throw new Error('not used'); },
        async postForm(url, form, headers) {
          seen.push({ url, form: new URLSearchParams(form), headers });
          const body = typeof answer === 'function' ? answer(form) : answer;
          return { status: 200, body: structuredClone(body), contentType: 'application/json' };
        },
      };
    }
    const active = (overrides = {}) => ({ active: true, ...t.baseClaims(), ...overrides });
    const checker = (answer, options = {}) => introspectorWith({
      http: fakeProvider(answer),
      endpoint: async () => `${t.ISSUER}/introspect`,
      client: { clientId: 'rs', method: 'client_secret_basic', clientSecret: 's' },
      now: clock.now,
      issuer: t.ISSUER,
      audiences: [t.AUDIENCE],
      toResult: (claims) => ({ claims }),
      ...options,
    });

    it('sends token and token_type_hint=access_token, authenticated as the client, asking for JSON', async () => {
      const http = fakeProvider(active());
      await checker(undefined, { http }).check('opaque-token-1');
      const [{ url, form, headers }] = http.seen;
      assert.equal(url, `${t.ISSUER}/introspect`);
      assert.equal(form.get('token'), 'opaque-token-1');
      assert.equal(form.get('token_type_hint'), 'access_token');
      assert.equal(headers.Accept, 'application/json');
      assert.equal(headers.Authorization, `Basic ${Buffer.from('rs:s').toString('base64')}`);
    });

    it('iss: when present it must be the issuer; when absent the answer passes', async () => {
      await rejectsWithCode(checker(active({ iss: 'https://other.example.test' })).check('a'), 'ERR_TOKEN_ISSUER');
      await rejectsWithCode(checker(active({ iss: 7 })).check('a'), 'ERR_TOKEN_ISSUER');
      assert.equal((await checker(active({ iss: undefined })).check('a')).claims.sub, 'alice');
    });

    it('aud: a list naming one audience passes; none of ours, a missing aud or a wrong type is refused', async () => {
      assert.ok(await checker(active({ aud: ['other', t.AUDIENCE] })).check('a'));
      await rejectsWithCode(checker(active({ aud: ['other'] })).check('a'), 'ERR_TOKEN_AUDIENCE');
      const { aud: _aud, ...withoutAud } = active();
      await rejectsWithCode(checker(withoutAud).check('a'), 'ERR_TOKEN_AUDIENCE');
      await rejectsWithCode(checker(active({ aud: [t.AUDIENCE, 3] })).check('a'), 'ERR_TOKEN_CLAIM_INVALID');
      await rejectsWithCode(checker(active({ aud: { value: t.AUDIENCE } })).check('a'), 'ERR_TOKEN_CLAIM_INVALID');
    });

    it('exp and nbf hold with the clock tolerance; a missing exp is accepted (RFC 7662 makes it optional)', async () => {
      assert.ok(await checker(active({ exp: t.NOW_SEC - 29 })).check('a'));
      await rejectsWithCode(checker(active({ exp: t.NOW_SEC - 30 })).check('a'), 'ERR_TOKEN_EXPIRED');
      assert.ok(await checker(active({ nbf: t.NOW_SEC + 30 })).check('a'));
      await rejectsWithCode(checker(active({ nbf: t.NOW_SEC + 31 })).check('a'), 'ERR_TOKEN_NOT_YET_VALID');
      await rejectsWithCode(checker(active({ exp: 'tomorrow' })).check('a'), 'ERR_TOKEN_CLAIM_INVALID');
      await rejectsWithCode(checker(active({ nbf: null })).check('a'), 'ERR_TOKEN_CLAIM_INVALID');
      assert.ok(await checker(active({ exp: undefined })).check('a'));
    });

    it('token_type refresh_token (any case) is refused; Bearer and DPoP pass', async () => {
      await rejectsWithCode(checker(active({ token_type: 'refresh_token' })).check('a'), 'ERR_TOKEN_NOT_ACCESS_TOKEN');
      await rejectsWithCode(checker(active({ token_type: 'Refresh_Token' })).check('a'), 'ERR_TOKEN_NOT_ACCESS_TOKEN');
      assert.ok(await checker(active({ token_type: 'Bearer' })).check('a'));
      assert.ok(await checker(active({ token_type: 'DPoP' })).check('a'));
    });

    it('active must be the boolean true: "true", 1 or a missing active is no introspection response (503 class)', async () => {
      for (const value of ['true', 1, undefined, null]) {
        const error = await rejectsWithCode(checker(active({ active: value })).check('a'), 'ERR_INTROSPECTION_INVALID');
        assert.equal(error.rejectionClass, 'unavailable');
      }
      await rejectsWithCode(checker({ active: false }).check('a'), 'ERR_TOKEN_INACTIVE');
    });

    it('a rule broken is kept like an inactive answer; an answer too large to keep is used, but asked again', async () => {
      const http = fakeProvider(active({ aud: 'other' }));
      const refused = checker(undefined, { http });
      await rejectsWithCode(refused.check('a'), 'ERR_TOKEN_AUDIENCE');
      await rejectsWithCode(refused.check('a'), 'ERR_TOKEN_AUDIENCE');
      assert.equal(http.seen.length, 1);

      const large = fakeProvider(active({ padding: 'x'.repeat(INTROSPECTION_DEFAULTS.maxCachedAnswerLength) }));
      const big = checker(undefined, { http: large });
      assert.ok(await big.check('a'));
      assert.ok(await big.check('a'));
      assert.equal(large.seen.length, 2);
    });

    it('keys answers by the token\'s SHA-256: different tokens, different answers', async () => {
      const http = fakeProvider((form) => active({ sub: form.get('token') }));
      const both = checker(undefined, { http });
      assert.equal((await both.check('token-a')).claims.sub, 'token-a');
      assert.equal((await both.check('token-b')).claims.sub, 'token-b');
      assert.equal((await both.check('token-a')).claims.sub, 'token-a');
      assert.equal(http.seen.length, 2);
    });

    it('an answer is frozen however it nests, up to 32 levels; a deeper one is no introspection response', async () => {
      /** An object whose deepest member is `levels` deep in the answer (the answer itself being level 1). */
      const nested = (levels) => {
        const root = {};
        let deep = root;
        for (let i = 2; i < levels; i += 1) {
          deep.next = {};
          deep = deep.next;
        }
        return { root, deep };
      };
      const fits = nested(32);
      const result = await checker(active({ nested: fits.root }), { cacheSec: 0 }).check('a');
      assert.ok(Object.isFrozen(fits.deep) === false, 'the test keeps its own copy');
      let kept = result.claims.nested;
      while (kept.next) kept = kept.next;
      assert.ok(Object.isFrozen(kept) && Object.isFrozen(result.claims) && Object.isFrozen(result));
      await rejectsWithCode(checker(active({ nested: nested(33).root })).check('a'), 'ERR_INTROSPECTION_INVALID');
    });

    it('parseIntrospectionResponse: statuses and bodies', () => {
      assert.deepEqual(parseIntrospectionResponse(200, { active: false }, 'application/json'), { active: false });
      throwsWithCode(() => parseIntrospectionResponse(200, [true], 'application/json'), 'ERR_INTROSPECTION_INVALID');
      throwsWithCode(() => parseIntrospectionResponse(200, undefined, 'text/html'), 'ERR_INTROSPECTION_INVALID');
      throwsWithCode(() => parseIntrospectionResponse(302, undefined, ''), 'ERR_INTROSPECTION_INVALID');
      throwsWithCode(() => parseIntrospectionResponse(400, { error: 'invalid_request' }, 'application/json'), 'ERR_INTROSPECTION_INVALID');
      for (const [status, body] of [[401, undefined], [403, { error: 'access_denied' }], [400, { error: 'invalid_client' }], [400, { error: 'unauthorized_client' }]]) {
        throwsWithCode(() => parseIntrospectionResponse(status, body, 'application/json'), 'ERR_INTROSPECTION_CLIENT_REJECTED');
      }
      for (const status of [500, 502, 503, 504]) {
        const error = throwsWithCode(() => parseIntrospectionResponse(status, { error: 'server_error' }, 'application/json'), 'ERR_INTROSPECTION_UNAVAILABLE');
        assert.equal(error.retryAfterSec, 5);
      }
    });

    it('quotes the provider\'s error code, made safe, but never its error_description (it may echo the token)', () => {
      const error = throwsWithCode(() => parseIntrospectionResponse(400, {
        error: 'invalid_request\u0000"', error_description: 'the token secret-token-value is odd',
      }, 'application/json'), 'ERR_INTROSPECTION_INVALID');
      assert.match(error.message, /invalid_request''/);
      assert.ok(!error.message.includes('secret-token-value'));
    });
  });

  describe('transport faults (a fault server)', () => {
    let server;
    let base;
    const hanging = [];

    before(async () => {
      server = await listen((req, res) => {
        req.resume();
        switch (req.url) {
          case '/hang': hanging.push(res); return undefined;
          case '/garbage': res.writeHead(200, { 'content-type': 'text/html' }); return res.end('<html>sign in</html>');
          case '/drop': return req.socket.destroy();
          case '/500': res.writeHead(500, { 'content-type': 'application/json' }); return res.end('{"error":"server_error"}');
          default: res.writeHead(404); return res.end();
        }
      });
      base = `http://127.0.0.1:${server.address().port}`;
    });
    after(async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const faulty = (path, timeoutMs = 2000) => introspectorWith({
      http: createHttpClient({ timeoutMs }),
      endpoint: async () => base + path,
      client: { clientId: 'rs', method: 'client_secret_basic', clientSecret: 'fault-secret' },
      issuer: t.ISSUER,
      audiences: [t.AUDIENCE],
    });

    it('a hanging endpoint: ERR_INTROSPECTION_UNAVAILABLE within the timeout, the cause ERR_HTTP_TIMEOUT', async () => {
      const error = await rejectsWithCode(faulty('/hang', 300).check('tok'), 'ERR_INTROSPECTION_UNAVAILABLE');
      assert.equal(error.cause.code, 'ERR_HTTP_TIMEOUT');
    });

    it('garbage (an HTML page with 200): ERR_INTROSPECTION_INVALID', async () => {
      await rejectsWithCode(faulty('/garbage').check('tok'), 'ERR_INTROSPECTION_INVALID');
    });

    it('a dropped connection: ERR_INTROSPECTION_UNAVAILABLE', async () => {
      const error = await rejectsWithCode(faulty('/drop').check('tok'), 'ERR_INTROSPECTION_UNAVAILABLE');
      assert.equal(error.cause.code, 'ERR_HTTP_UNREACHABLE');
    });

    it('a 500: ERR_INTROSPECTION_UNAVAILABLE with Retry-After, asked again next time', async () => {
      const checker = faulty('/500');
      const error = await rejectsWithCode(checker.check('tok'), 'ERR_INTROSPECTION_UNAVAILABLE');
      assert.equal(error.retryAfterSec, 5);
      await rejectsWithCode(checker.check('tok'), 'ERR_INTROSPECTION_UNAVAILABLE');
    });

    it('close() cuts a call in flight short (ERR_HTTP_ABORTED) and forgets every answer', async () => {
      const checker = faulty('/hang', 5000);
      const pending = checker.check('tok');
      await new Promise((resolve) => setTimeout(resolve, 50));
      checker.close();
      const error = await rejectsWithCode(pending, 'ERR_INTROSPECTION_UNAVAILABLE');
      assert.equal(error.cause.code, 'ERR_HTTP_ABORTED');
    });
  });

  describe('Identity with validation', () => {
    const pem = require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const build = (options) => new Identity({ http: t.fakeHttp({}), issuer: t.ISSUER, audience: t.AUDIENCE, ...options });
    const client = { clientId: 'rs', clientSecret: 's' };

    it('validation defaults to jwt; introspectionCacheSec to 60; an unknown mode or a bad number is ERR_CONFIG_INVALID', () => {
      const { settings } = build({});
      assert.equal(settings.validation, 'jwt');
      assert.equal(settings.introspectionCacheSec, 60);
      assert.equal(throwsWithCode(() => build({ validation: 'opaque' }), 'ERR_CONFIG_INVALID').option, 'validation');
      assert.equal(throwsWithCode(() => build({ ...client, validation: 'auto', introspectionCacheSec: 3601 }), 'ERR_CONFIG_INVALID').option,
        'introspectionCacheSec');
      assert.equal(build({ ...client, validation: 'auto', introspectionCacheSec: '0' }).settings.introspectionCacheSec, 0);
    });

    it('introspection and auto need a client that authenticates: ERR_CONFIG_INTROSPECTION_CLIENT at deploy time', () => {
      for (const validation of ['introspection', 'auto']) {
        const cases = [
          [{}, 'ERR_CONFIG_INTROSPECTION_CLIENT', 'clientId'],
          [{ clientId: 'rs' }, 'ERR_CONFIG_INTROSPECTION_CLIENT', 'clientSecret'],
          [{ clientId: 'rs', authMethod: 'client_secret_post' }, 'ERR_CONFIG_INTROSPECTION_CLIENT', 'clientSecret'],
          [{ clientId: 'rs', authMethod: 'none' }, 'ERR_CONFIG_INTROSPECTION_CLIENT', 'authMethod'],
          [{ clientId: 'rs', authMethod: 'private_key_jwt' }, 'ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey'],
          [{ clientId: 'rs', authMethod: 'private_key_jwt', privateKey: 'garbage' }, 'ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey'],
        ];
        for (const [options, code, option] of cases) {
          assert.equal(throwsWithCode(() => build({ validation, ...options }), code).option, option, JSON.stringify(options));
        }
        build({ validation, ...client });
        build({ validation, clientId: 'rs', authMethod: 'private_key_jwt', privateKey: pem });
      }
      build({ validation: 'jwt' }); // jwt needs no client
    });

    it('still needs an audience to validate, and checks an introspectionEndpoint override like the issuer', () => {
      throwsWithCode(() => build({ ...client, validation: 'introspection', audience: '' }).assertCanValidate(), 'ERR_CONFIG_AUDIENCE_MISSING');
      throwsWithCode(() => build({ ...client, validation: 'introspection', introspectionEndpoint: 'http://idp.example.test/introspect' }),
        'ERR_CONFIG_INSECURE_HTTP');
      assert.equal(throwsWithCode(() => build({ ...client, introspectionEndpoint: 'nope' }), 'ERR_CONFIG_INVALID').option, 'introspectionEndpoint');
    });

    it('a discovered introspection_endpoint must be there and follow the issuer\'s URL rules: ERR_DISCOVERY_INVALID', async () => {
      const request = (token) => ({ headers: { authorization: `Bearer ${token}` } });
      const rules = { scopes: [], roles: [] };
      const without = build({ ...client, validation: 'introspection', http: t.fakeHttp({ [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument() }) });
      await rejectsWithCode(without.authenticate(request('opaque'), rules), 'ERR_DISCOVERY_INVALID');
      await rejectsWithCode(without.warmUp(), 'ERR_DISCOVERY_INVALID');
      for (const url of ['http://idp.example.test/introspect', 'not a url', 'https://user:pw@idp.example.test/introspect']) {
        const insecure = build({
          ...client,
          validation: 'introspection',
          http: t.fakeHttp({ [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument({ introspection_endpoint: url }) }),
        });
        await rejectsWithCode(insecure.authenticate(request('opaque'), rules), 'ERR_DISCOVERY_INVALID');
      }
    });

    describe('the request path against the demo provider', () => {
      const request = (token) => ({ headers: { authorization: `Bearer ${token}` } });
      const open = { scopes: [], roles: [] };
      const identity = (validation, extra = {}) => new Identity({
        issuer: provider.issuer,
        audience: [provider.audience, demo.OPAQUE_AUDIENCE],
        clientId: provider.clientId,
        clientSecret: CLIENT_SECRET,
        validation,
        ...extra,
      });
      let identities = [];
      const made = (...args) => {
        const built = identity(...args);
        identities.push(built);
        return built;
      };
      afterEach(() => {
        for (const built of identities) built.close();
        identities = [];
      });

      it('auto: a JWT is verified locally (no introspection call), an opaque token is introspected', async () => {
        const auto = made('auto');
        const jwt = await passwordToken(provider, 'alice');
        const opaque = await opaqueToken('alice');
        const before = calls();
        assert.equal((await auto.authenticate(request(jwt), open)).claims.active, undefined);
        assert.equal(calls() - before, 0);
        const auth = await auto.authenticate(request(opaque), { scopes: ['orders:read'], roles: ['orders-reader'] });
        assert.equal(auth.subject, 'alice');
        assert.equal(calls() - before, 1);
      });

      it('auto: a JWS-shaped token keeps the JWT path and its refusal (alg none, no signature); a JWE-shaped one goes to the provider', async () => {
        const auto = made('auto');
        const before = calls();
        await rejectsWithCode(auto.authenticate(request(t.forge({ alg: 'none' }, t.baseClaims())), open), 'ERR_TOKEN_ALG_NOT_ALLOWED');
        await rejectsWithCode(auto.authenticate(request(t.forge({ alg: 'RS256' }, t.baseClaims(), '')), open), 'ERR_TOKEN_SIGNATURE');
        assert.equal(calls() - before, 0);
        await rejectsWithCode(auto.authenticate(request('a.b.c.d.e'), open), 'ERR_TOKEN_INACTIVE');
        assert.equal(calls() - before, 1);
      });

      it('introspection: every token goes to the provider; the route\'s rules apply to the answer', async () => {
        const introspecting = made('introspection');
        const opaque = await opaqueToken('alice');
        const auth = await introspecting.authenticate(request(opaque), { scopes: ['orders:read'], roles: [] });
        assert.deepEqual(auth.audience, [demo.OPAQUE_AUDIENCE]);
        auth.extra = 'a flow may add to msg.auth';
        assert.throws(() => auth.scopes.push('orders:write'), TypeError);
        await rejectsWithCode(introspecting.authenticate(request(opaque), { scopes: ['orders:write'], roles: [] }), 'ERR_SCOPE_INSUFFICIENT');
        const bob = await opaqueToken('bob');
        await rejectsWithCode(introspecting.authenticate(request(bob), { scopes: ['orders:read'], roles: [] }), 'ERR_SCOPE_INSUFFICIENT');
        const jwt = await passwordToken(provider, 'alice');
        await rejectsWithCode(introspecting.authenticate(request(jwt), open), 'ERR_INTROSPECTION_INVALID');
      });

      it('introspection: warm-up learns the endpoint and fetches no key set', async () => {
        const metadata = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
        const jwksPath = new URL(metadata.jwks_uri).pathname;
        const before = provider.requests.get(jwksPath) ?? 0;
        assert.equal(await made('introspection').warmUp(), 0);
        assert.equal((provider.requests.get(jwksPath) ?? 0) - before, 0);
        assert.ok(await made('auto').warmUp() > 0, 'auto verifies JWTs, so it loads the keys');
      });

      it('an introspectionEndpoint override is used instead of discovery', async () => {
        const wrong = made('introspection', { introspectionEndpoint: `${provider.issuer}/no-such-endpoint` });
        await rejectsWithCode(wrong.authenticate(request(await opaqueToken('alice')), open), 'ERR_INTROSPECTION_INVALID');
        const right = made('introspection', { introspectionEndpoint: endpoint });
        assert.equal((await right.authenticate(request(await opaqueToken('alice')), open)).subject, 'alice');
      });
    });
  });
});
