// Tests for the embedded demo identity provider (flows/demo/provider.mjs):
// the contract the demo flows and the node tests rely on, exercised over real
// HTTP with endpoints taken from discovery, and tokens verified with jose.
'use strict';

const assert = require('node:assert/strict');

describe('demo provider', function () {
  this.timeout(10000);

  let demo;
  let jose;
  let idp;
  let discovery;

  before(async function () {
    demo = await import('../../flows/demo/provider.mjs');
    jose = await import('jose');
    idp = await demo.startDemoProvider({});
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
