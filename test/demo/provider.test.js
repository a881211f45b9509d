// Tests for the embedded demo identity provider (flows/demo/provider.mjs):
// the contract the demo flows and the node tests rely on, exercised over real
// HTTP with endpoints taken from discovery, and tokens verified with jose.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

// A callback on a port of the test's choosing, given to the provider.
const REDIRECT_URI = 'http://127.0.0.1:18800/callback';

describe('demo provider', function () {
  this.timeout(10000);

  let demo;
  let jose;
  let idp;
  let discovery;

  before(async function () {
    demo = await import('../../flows/demo/provider.mjs');
    jose = await import('jose');
    idp = await demo.startDemoProvider({ redirectUris: [REDIRECT_URI] });
    discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  });

  after(async function () {
    await idp?.close();
  });

  async function token(params) {
    const credentials = Buffer.from(`${demo.DEMO_CLIENT_ID}:demo-client-secret`).toString('base64');
    const res = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${credentials}` },
      body: new URLSearchParams(params),
    });
    return { status: res.status, body: await res.json() };
  }

  function passwordGrant(username, password, extra = {}) {
    return token({ grant_type: 'password', username, password, ...extra });
  }

  // A fresh key set each time: a cached one would refuse to refetch a newly
  // rotated kid within its cooldown.
  function verify(accessToken) {
    const jwks = jose.createRemoteJWKSet(new URL(discovery.jwks_uri));
    return jose.jwtVerify(accessToken, jwks, {
      issuer: idp.issuer,
      audience: demo.DEMO_AUDIENCE,
      typ: 'at+jwt',
    });
  }

  async function jwksKids() {
    const { keys } = await (await fetch(discovery.jwks_uri)).json();
    return keys.map((key) => key.kid);
  }

  it('serves discovery for its issuer on loopback', function () {
    assert.equal(discovery.issuer, idp.issuer);
    assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(idp.port, Number(new URL(idp.issuer).port));
    assert.ok(discovery.grant_types_supported.includes('password'));
    assert.equal(idp.requests.get('/.well-known/openid-configuration'), 1);
  });

  it('issues alice a JWT access token with her granted scope and roles', async function () {
    const { status, body } = await passwordGrant('alice', 'alice-password', {
      scope: 'orders:read orders:write',
    });
    assert.equal(status, 200);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'orders:read');
    assert.ok(body.refresh_token);

    const { payload, protectedHeader } = await verify(body.access_token);
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(protectedHeader.kid, idp.signingKeys[0].kid);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.client_id, demo.DEMO_CLIENT_ID);
    assert.deepEqual(payload.scope.split(' '), ['orders:read']);
    assert.deepEqual(payload.realm_access, { roles: ['orders-reader'] });
    for (const claim of ['iat', 'exp', 'jti']) assert.ok(payload[claim], claim);
  });

  it('grants bob no API scope', async function () {
    const { status, body } = await passwordGrant('bob', 'bob-password');
    assert.equal(status, 200);
    const { payload } = await verify(body.access_token);
    assert.equal(payload.sub, 'bob');
    assert.ok(!(payload.scope ?? '').split(' ').includes('orders:read'));
    assert.deepEqual(payload.realm_access, { roles: [] });
  });

  it('rejects a wrong password with invalid_grant', async function () {
    const { status, body } = await passwordGrant('alice', 'wrong-password');
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_grant');
  });

  it('issues client_credentials tokens for the API', async function () {
    const { status, body } = await token({ grant_type: 'client_credentials', scope: 'orders:read orders:write' });
    assert.equal(status, 200);
    const { payload, protectedHeader } = await verify(body.access_token);
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.client_id, demo.DEMO_CLIENT_ID);
    assert.equal(payload.scope, 'orders:read orders:write');
  });

  it('rotates refresh tokens and rejects the used one', async function () {
    const first = await passwordGrant('alice', 'alice-password');
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.ok(refreshed.body.refresh_token);
    assert.notEqual(refreshed.body.refresh_token, first.body.refresh_token);
    const { payload } = await verify(refreshed.body.access_token);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.scope, 'orders:read');

    const replay = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
  });

  it('signs with a rotated key, keeps publishing the old one, and keeps issued refresh tokens', async function () {
    const oldKid = idp.signingKeys[0].kid;
    const beforeRotation = await passwordGrant('alice', 'alice-password');

    const newKey = await idp.rotateSigningKey();
    assert.notEqual(newKey.kid, oldKid);
    assert.equal(idp.signingKeys[0].kid, newKey.kid);
    assert.deepEqual((await jwksKids()).sort(), [newKey.kid, oldKid].sort());

    const { body } = await passwordGrant('alice', 'alice-password');
    const { protectedHeader } = await verify(body.access_token);
    assert.equal(protectedHeader.kid, newKey.kid);

    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: beforeRotation.body.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.equal((await verify(refreshed.body.access_token)).protectedHeader.kid, newKey.kid);

    await idp.removeKey(oldKid);
    assert.deepEqual(await jwksKids(), [newKey.kid]);
  });

  // The assertion demo-jwt-client authenticates with (RFC 7523 section 2.2).
  async function clientAssertion(header = {}, claims = {}) {
    const key = idp.jwtClientKey;
    const privateKey = await jose.importJWK(key, key.alg);
    return new jose.SignJWT({ jti: `jti-${Date.now()}-${Math.random()}`, ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
      .setIssuer(demo.DEMO_JWT_CLIENT_ID)
      .setSubject(demo.DEMO_JWT_CLIENT_ID)
      .setAudience(discovery.token_endpoint)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
  }

  async function post(url, params, headers = {}) {
    const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params) });
    return { status: res.status, body: await res.json() };
  }

  describe('private_key_jwt client', function () {
    async function jwtClientCredentials(assertion) {
      return post(discovery.token_endpoint, {
        grant_type: 'client_credentials',
        scope: 'orders:read',
        client_id: demo.DEMO_JWT_CLIENT_ID,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
    }

    it('is registered with the public half of jwtClientKey', function () {
      assert.ok(idp.jwtClientKey.d, 'a private JWK');
      assert.ok(idp.jwtClientKey.kid);
      assert.equal(idp.jwtClientKey.alg, 'RS256');
      assert.ok(discovery.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
    });

    it('gets client_credentials tokens with an assertion signed by jwtClientKey', async function () {
      const { status, body } = await jwtClientCredentials(await clientAssertion());
      assert.equal(status, 200, JSON.stringify(body));
      const { payload } = await verify(body.access_token);
      assert.equal(payload.client_id, demo.DEMO_JWT_CLIENT_ID);
      assert.equal(payload.scope, 'orders:read');
    });

    it('accepts an x5t#S256 header, with or without kid', async function () {
      const x5t = 'q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c';
      for (const header of [{ 'x5t#S256': x5t }, { kid: undefined, 'x5t#S256': x5t }]) {
        const { status, body } = await jwtClientCredentials(await clientAssertion(header));
        assert.equal(status, 200, JSON.stringify(body));
      }
    });

    it('rejects a replayed assertion, one signed by another key, and a missing one', async function () {
      const assertion = await clientAssertion();
      assert.equal((await jwtClientCredentials(assertion)).status, 200);
      const replay = await jwtClientCredentials(assertion);
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error, 'invalid_client');

      const { privateKey } = await jose.generateKeyPair('RS256');
      const forged = await new jose.SignJWT({ jti: 'forged' })
        .setProtectedHeader({ alg: 'RS256', kid: idp.jwtClientKey.kid })
        .setIssuer(demo.DEMO_JWT_CLIENT_ID).setSubject(demo.DEMO_JWT_CLIENT_ID)
        .setAudience(discovery.token_endpoint).setIssuedAt().setExpirationTime('1m')
        .sign(privateKey);
      assert.equal((await jwtClientCredentials(forged)).body.error, 'invalid_client');

      const none = await post(discovery.token_endpoint, {
        grant_type: 'client_credentials', client_id: demo.DEMO_JWT_CLIENT_ID,
      });
      assert.equal(none.body.error, 'invalid_client');
    });

    it('uses a caller-supplied key', async function () {
      const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
      const jwk = await jose.exportJWK(privateKey);
      const built = await demo.createDemoProvider({
        issuer: 'http://127.0.0.1:1/x', clientSecret: 's', jwtClientKey: jwk,
      });
      assert.equal(built.jwtClientKey.d, jwk.d);
      assert.equal(built.jwtClientKey.alg, 'ES256');
      assert.ok(built.jwtClientKey.kid);
      assert.equal(typeof built.handler, 'function');
    });
  });

  describe('public client', function () {
    it('gets password grant tokens with client_id in the body and no secret', async function () {
      const { status, body } = await post(discovery.token_endpoint, {
        grant_type: 'password', client_id: demo.DEMO_PUBLIC_CLIENT_ID,
        username: 'alice', password: 'alice-password', scope: 'orders:read',
      });
      assert.equal(status, 200, JSON.stringify(body));
      assert.ok(body.refresh_token);
      const { payload } = await verify(body.access_token);
      assert.equal(payload.sub, 'alice');
      assert.equal(payload.client_id, demo.DEMO_PUBLIC_CLIENT_ID);

      const refreshed = await post(discovery.token_endpoint, {
        grant_type: 'refresh_token', client_id: demo.DEMO_PUBLIC_CLIENT_ID, refresh_token: body.refresh_token,
      });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    });

    it('may not use client_credentials or token exchange', async function () {
      const cc = await post(discovery.token_endpoint, {
        grant_type: 'client_credentials', client_id: demo.DEMO_PUBLIC_CLIENT_ID,
      });
      assert.equal(cc.status, 400);
    });
  });

  describe('token exchange (RFC 8693)', function () {
    const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
    const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

    it('is advertised', function () {
      assert.ok(discovery.grant_types_supported.includes(TOKEN_EXCHANGE));
      assert.equal(demo.TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_EXCHANGE);
    });

    it("issues an API token for the subject token's user with narrowed scope and act", async function () {
      const subject = await passwordGrant('alice', 'alice-password', { scope: 'orders:read' });
      const { status, body } = await token({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject.body.access_token,
        subject_token_type: ACCESS_TOKEN,
        scope: 'orders:read orders:write',
        audience: demo.DEMO_AUDIENCE,
      });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.issued_token_type, ACCESS_TOKEN);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.scope, 'orders:read');
      assert.ok(body.expires_in > 0);
      assert.equal(body.refresh_token, undefined);
      const { payload } = await verify(body.access_token);
      assert.equal(payload.sub, 'alice');
      assert.equal(payload.scope, 'orders:read');
      assert.deepEqual(payload.act, { sub: demo.DEMO_CLIENT_ID });
      assert.deepEqual(payload.realm_access, { roles: ['orders-reader'] });
      assert.notEqual(payload.jti, (await verify(subject.body.access_token)).payload.jti);
    });

    it('rejects an invalid subject token with invalid_grant', async function () {
      const subject = (await passwordGrant('alice', 'alice-password')).body.access_token;
      const [h, p] = subject.split('.');
      const { privateKey } = await jose.generateKeyPair('RS256');
      const foreign = await new jose.SignJWT(jose.decodeJwt(subject))
        .setProtectedHeader(jose.decodeProtectedHeader(subject)).sign(privateKey);
      for (const bad of ['not-a-token', `${h}.${p}.c2lnbmF0dXJl`, foreign]) {
        const { status, body } = await token({
          grant_type: TOKEN_EXCHANGE, subject_token: bad, subject_token_type: ACCESS_TOKEN,
        });
        assert.equal(status, 400);
        assert.equal(body.error, 'invalid_grant');
      }
    });

    it('rejects other token types and audiences', async function () {
      const subject = (await passwordGrant('alice', 'alice-password')).body.access_token;
      const idType = await token({
        grant_type: TOKEN_EXCHANGE, subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      });
      assert.equal(idType.body.error, 'invalid_request');
      const otherAudience = await token({
        grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN,
        audience: 'urn:other',
      });
      assert.equal(otherAudience.body.error, 'invalid_target');
    });
  });

  describe('authorization code flow with the login page', function () {
    // A minimal cookie jar: name=value pairs, sent back on every request.
    function cookieJar() {
      const cookies = new Map();
      return {
        store(res) {
          for (const line of res.headers.getSetCookie()) {
            const [pair] = line.split(';');
            const index = pair.indexOf('=');
            cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1));
          }
        },
        header() {
          return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
        },
      };
    }

    async function request(jar, url, init = {}) {
      const res = await fetch(url, {
        redirect: 'manual', ...init, headers: { ...init.headers, cookie: jar.header() },
      });
      jar.store(res);
      return res;
    }

    function pkce() {
      const verifier = crypto.randomBytes(32).toString('base64url');
      const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
      return { verifier, challenge };
    }

    // /auth → login page → credentials → redirect with code and state.
    async function authorize(clientId, { challenge, username = 'alice', password = 'alice-password', scope } = {}) {
      const jar = cookieJar();
      const state = `state-${Math.random()}`;
      const url = new URL(discovery.authorization_endpoint);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, state,
        scope: scope ?? 'openid orders:read offline_access',
        ...(challenge ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
      });
      const auth = await request(jar, url);
      assert.equal(auth.status, 303);
      const loginUrl = new URL(auth.headers.get('location'), idp.issuer);
      assert.equal(loginUrl.origin, idp.issuer);
      assert.match(loginUrl.pathname, /^\/interaction\/[\w-]+$/);

      const page = await request(jar, loginUrl);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type'), /^text\/html/);
      const html = await page.text();
      assert.match(html, /<form method="post"/);
      assert.match(html, /name="password" type="password"/);
      assert.doesNotMatch(html, /<script/i);

      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const wrong = await request(jar, loginUrl, {
        method: 'POST', headers: form, body: new URLSearchParams({ username: '<b>"x"</b>', password: 'nope' }),
      });
      assert.equal(wrong.status, 200);
      const wrongHtml = await wrong.text();
      assert.match(wrongHtml, /Invalid username or password/);
      assert.match(wrongHtml, /value="&lt;b&gt;&quot;x&quot;&lt;\/b&gt;"/);
      assert.doesNotMatch(wrongHtml, /<b>"x"/);

      const login = await request(jar, loginUrl, {
        method: 'POST', headers: form, body: new URLSearchParams({ username, password }),
      });
      assert.equal(login.status, 303);

      let location = new URL(login.headers.get('location'), idp.issuer);
      for (let hops = 0; location.origin === idp.issuer && hops < 5; hops += 1) {
        const res = await request(jar, location);
        assert.ok([302, 303].includes(res.status), `${location} answered ${res.status}`);
        location = new URL(res.headers.get('location'), idp.issuer);
      }
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
      assert.equal(location.searchParams.get('state'), state);
      assert.equal(location.searchParams.get('error'), null, location.searchParams.get('error_description'));
      assert.ok(location.searchParams.get('code'));
      return location.searchParams.get('code');
    }

    function exchange(clientId, code, verifier) {
      const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
      if (verifier) params.code_verifier = verifier;
      if (clientId === demo.DEMO_CLIENT_ID) return token(params);
      return post(discovery.token_endpoint, { ...params, client_id: clientId });
    }

    async function assertApiTokens(body, clientId) {
      assert.ok(body.id_token, 'id_token for openid');
      assert.ok(body.refresh_token, 'refresh_token for offline_access');
      const { payload } = await verify(body.access_token);
      assert.equal(payload.sub, 'alice');
      assert.equal(payload.client_id, clientId);
      assert.equal(payload.scope, 'orders:read');
      assert.deepEqual(payload.realm_access, { roles: ['orders-reader'] });
    }

    it('works for demo-client with PKCE, refusing a bad code_verifier', async function () {
      const { verifier, challenge } = pkce();
      const code = await authorize(demo.DEMO_CLIENT_ID, { challenge });
      const bad = await exchange(demo.DEMO_CLIENT_ID, code, pkce().verifier);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'invalid_grant');

      const { status, body } = await exchange(demo.DEMO_CLIENT_ID, code, verifier);
      assert.equal(status, 200, JSON.stringify(body));
      await assertApiTokens(body, demo.DEMO_CLIENT_ID);

      const refreshed = await token({ grant_type: 'refresh_token', refresh_token: body.refresh_token });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal((await verify(refreshed.body.access_token)).payload.scope, 'orders:read');

      // A replayed code is refused and revokes what was issued for it.
      const reused = await exchange(demo.DEMO_CLIENT_ID, code, verifier);
      assert.equal(reused.body.error, 'invalid_grant');
      const revoked = await token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
      assert.equal(revoked.body.error, 'invalid_grant');
    });

    it('works for demo-client without PKCE', async function () {
      const code = await authorize(demo.DEMO_CLIENT_ID, {});
      const { status, body } = await exchange(demo.DEMO_CLIENT_ID, code);
      assert.equal(status, 200, JSON.stringify(body));
      await assertApiTokens(body, demo.DEMO_CLIENT_ID);
    });

    it('works for demo-public-client with PKCE, refusing a bad code_verifier', async function () {
      const { verifier, challenge } = pkce();
      const code = await authorize(demo.DEMO_PUBLIC_CLIENT_ID, { challenge });
      const bad = await exchange(demo.DEMO_PUBLIC_CLIENT_ID, code, pkce().verifier);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'invalid_grant');

      const { status, body } = await exchange(demo.DEMO_PUBLIC_CLIENT_ID, code, verifier);
      assert.equal(status, 200, JSON.stringify(body));
      await assertApiTokens(body, demo.DEMO_PUBLIC_CLIENT_ID);
    });

    it('requires PKCE from demo-public-client', async function () {
      const url = new URL(discovery.authorization_endpoint);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: demo.DEMO_PUBLIC_CLIENT_ID, redirect_uri: REDIRECT_URI,
        state: 's', scope: 'openid orders:read',
      });
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 303);
      const location = new URL(res.headers.get('location'));
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
    });

    it("gives bob no API scope and records alice's refused scope", async function () {
      const code = await authorize(demo.DEMO_CLIENT_ID, {
        username: 'bob', password: 'bob-password', scope: 'openid orders:read',
      });
      const { status, body } = await exchange(demo.DEMO_CLIENT_ID, code);
      assert.equal(status, 200, JSON.stringify(body));
      const { payload } = await verify(body.access_token);
      assert.equal(payload.sub, 'bob');
      assert.ok(!(payload.scope ?? '').includes('orders:read'));

      const aliceCode = await authorize(demo.DEMO_CLIENT_ID, { scope: 'orders:read orders:write' });
      const alice = await exchange(demo.DEMO_CLIENT_ID, aliceCode);
      assert.equal((await verify(alice.body.access_token)).payload.scope, 'orders:read');
    });

    it('renders authorization errors it cannot redirect as an escaped HTML page', async function () {
      const url = new URL(discovery.authorization_endpoint);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: demo.DEMO_CLIENT_ID, redirect_uri: 'http://127.0.0.1:1/<script>', scope: 'openid',
      });
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type'), /^text\/html/);
      const html = await res.text();
      assert.match(html, /invalid_redirect_uri/);
      assert.doesNotMatch(html, /<script/);
    });

    it('answers an unknown interaction with 400 and an oversized form with 413', async function () {
      const unknown = await fetch(`${idp.issuer}/interaction/unknown-uid`);
      assert.equal(unknown.status, 400);
      await unknown.text();

      const jar = cookieJar();
      const url = new URL(discovery.authorization_endpoint);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: demo.DEMO_CLIENT_ID, redirect_uri: REDIRECT_URI, scope: 'openid',
      });
      const auth = await request(jar, url);
      const big = await request(jar, new URL(auth.headers.get('location'), idp.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `username=alice&password=${'x'.repeat(20 * 1024)}`,
      });
      assert.equal(big.status, 413);
    });

    it('serves the login page under a mount prefix, as the launcher mounts it with express', async function () {
      const express = require('express');
      const app = express();
      const server = require('node:http').createServer(app);
      await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
      try {
        const base = `http://127.0.0.1:${server.address().port}`;
        const { handler } = await demo.createDemoApp({
          issuer: `${base}/idp`, clientSecret: 'demo-client-secret', redirectUris: [REDIRECT_URI],
        });
        app.use('/idp', handler);
        const jar = cookieJar();
        const url = new URL(`${base}/idp/auth`);
        url.search = new URLSearchParams({
          response_type: 'code', client_id: demo.DEMO_CLIENT_ID, redirect_uri: REDIRECT_URI, scope: 'openid orders:read',
        });
        const auth = await request(jar, url);
        assert.equal(auth.status, 303, await auth.clone().text());
        const loginUrl = new URL(auth.headers.get('location'), base);
        assert.match(loginUrl.pathname, /^\/idp\/interaction\//);
        const page = await request(jar, loginUrl);
        assert.equal(page.status, 200);
        assert.match(await page.text(), new RegExp(`action="${base}/idp/interaction/`));
        const login = await request(jar, loginUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ username: 'alice', password: 'alice-password' }),
        });
        assert.equal(login.status, 303);
        const resume = await request(jar, new URL(login.headers.get('location'), base));
        assert.equal(resume.status, 303, `${login.headers.get('location')}: ${await resume.clone().text()}`);
        const location = new URL(resume.headers.get('location'));
        assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
        assert.ok(location.searchParams.get('code'));

        const exchanged = await fetch(`${base}/idp/token`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${demo.DEMO_CLIENT_ID}:demo-client-secret`).toString('base64')}` },
          body: new URLSearchParams({
            grant_type: 'authorization_code', code: location.searchParams.get('code'), redirect_uri: REDIRECT_URI,
          }),
        });
        const body = await exchanged.json();
        assert.equal(exchanged.status, 200, JSON.stringify(body));
        const claims = jose.decodeJwt(body.access_token);
        assert.equal(claims.iss, `${base}/idp`);
        assert.equal(claims.aud, demo.DEMO_AUDIENCE);
        assert.equal(claims.sub, 'alice');
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => { server.close(resolve); });
      }
    });
  });

  it('refuses connections while stopped and comes back on the same issuer', async function () {
    await idp.stop();
    await assert.rejects(
      fetch(`${idp.issuer}/.well-known/openid-configuration`),
      (err) => err.cause?.code === 'ECONNREFUSED',
    );

    await idp.start();
    const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).issuer, idp.issuer);
  });
});

// The second demo API: opaque access tokens, introspection (RFC 7662) and
// revocation (RFC 7009), beside the JWT API, which stays as it was.
describe('demo provider: the opaque API', function () {
  this.timeout(10000);

  let demo;
  let idp;
  let discovery;
  const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const asDemoClient = basic('demo-client', 'demo-client-secret');

  before(async function () {
    demo = await import('../../flows/demo/provider.mjs');
    idp = await demo.startDemoProvider();
    discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  });

  after(async function () {
    await idp?.close();
  });

  async function post(url, params, authorization = asDemoClient) {
    const res = await fetch(url, { method: 'POST', headers: { authorization }, body: new URLSearchParams(params) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  const opaque = (extra = {}) => post(discovery.token_endpoint, {
    grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'orders:read', resource: demo.OPAQUE_AUDIENCE, ...extra,
  });
  const introspect = (token, authorization) => post(discovery.introspection_endpoint, { token, token_type_hint: 'access_token' }, authorization);

  it('publishes introspection and revocation endpoints', function () {
    assert.equal(discovery.introspection_endpoint, `${idp.issuer}/token/introspection`);
    assert.equal(discovery.revocation_endpoint, `${idp.issuer}/token/revocation`);
  });

  it('issues opaque tokens for resource=OPAQUE_AUDIENCE; introspection names the audience, scope, client and roles', async function () {
    const { status, body } = await opaque();
    assert.equal(status, 200);
    assert.equal(body.access_token.split('.').length, 1, 'opaque, not a JWT');
    const answer = await introspect(body.access_token);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.active, true);
    assert.equal(answer.body.aud, demo.OPAQUE_AUDIENCE);
    assert.equal(answer.body.iss, idp.issuer);
    assert.equal(answer.body.sub, 'alice');
    assert.equal(answer.body.client_id, demo.DEMO_CLIENT_ID);
    assert.equal(answer.body.scope, 'orders:read');
    assert.equal(answer.body.token_type, 'Bearer');
    assert.deepEqual(answer.body.realm_access, { roles: ['orders-reader'] });
  });

  it('client_credentials for the opaque API too', async function () {
    const { status, body } = await post(discovery.token_endpoint, { grant_type: 'client_credentials', scope: 'orders:read', resource: demo.OPAQUE_AUDIENCE });
    assert.equal(status, 200);
    const answer = await introspect(body.access_token);
    assert.equal(answer.body.active, true);
    assert.equal(answer.body.aud, demo.OPAQUE_AUDIENCE);
  });

  it('a revoked token is inactive; only the client it was issued to may revoke it', async function () {
    const { body } = await opaque();
    const other = await fetch(discovery.revocation_endpoint, {
      method: 'POST', body: new URLSearchParams({ token: body.access_token, client_id: demo.DEMO_PUBLIC_CLIENT_ID }),
    });
    assert.equal(other.status, 200, 'RFC 7009 §2.2: answered as for any token it will not revoke');
    assert.equal((await introspect(body.access_token)).body.active, true, 'another client\'s request revoked nothing');
    assert.equal((await post(discovery.revocation_endpoint, { token: body.access_token })).status, 200);
    assert.deepEqual((await introspect(body.access_token)).body, { active: false });
  });

  it('the JWT API is unchanged: its tokens are RFC 9068 JWTs, which the introspection endpoint does not take', async function () {
    const { body } = await post(discovery.token_endpoint, { grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'orders:read' });
    assert.equal(body.access_token.split('.').length, 3);
    assert.equal(JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url')).aud, demo.DEMO_AUDIENCE);
    const answer = await introspect(body.access_token);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'unsupported_token_type');
  });

  it('introspection needs client authentication: a wrong secret is 401 invalid_client', async function () {
    const { body } = await opaque();
    const answer = await introspect(body.access_token, basic('demo-client', 'wrong'));
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_client');
  });

  it('counts introspection requests per path, for the single-flight tests', async function () {
    const before = idp.requests.get('/token/introspection') ?? 0;
    await introspect('unknown-token');
    assert.equal(idp.requests.get('/token/introspection') - before, 1);
  });
});
