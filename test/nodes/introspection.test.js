'use strict';
/**
 * validate-token with an identity-config in `introspection` and `auto` mode, behind a real
 * `http in`, answering through a real `http response`, against the demo provider (oidc-provider),
 * whose second API issues opaque tokens. Introspection calls are counted at the provider.
 */
const assert = require('node:assert/strict');
const { helper, startNodeRed, loadFlow, request, statusesOf, waitForStatus, logged } = require('../support/node-red');
const { startProvider, tokenResponse, passwordToken, CLIENT_SECRET } = require('../support/demo');

const at = { x: 100, y: 100 };
const INTROSPECTION_PATH = '/token/introspection';

function protectedFlow({ issuer, audience, validation, scope = 'orders:read', identity = {} }) {
  return [
    { id: 'tab', type: 'tab', label: 'opaque API' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', validation, backoffMinMs: '0', ...identity },
    { id: 'in', type: 'http in', z: 'tab', name: '', url: '/api/opaque/orders', method: 'get', upload: false, ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope, roles: '', ...at, wires: [['ok'], ['out']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const get = (token) => request('/api/opaque/orders', { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });

describe('validate-token with token introspection, through http in / http response', function () {
  this.timeout(20000);
  let provider;
  let demo;
  let revocationEndpoint;

  before(async () => {
    provider = await startProvider();
    demo = await import('../../flows/demo/provider.mjs');
    revocationEndpoint = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()).revocation_endpoint;
    await startNodeRed();
  });

  afterEach(() => helper.unload());

  after(async () => {
    await helper.stopServer();
    await provider.close();
  });

  const calls = () => provider.requests.get(INTROSPECTION_PATH) ?? 0;
  const opaqueToken = async (username = 'alice') => (await tokenResponse(provider, {
    grant_type: 'password', username, password: `${username}-password`, scope: 'orders:read', resource: demo.OPAQUE_AUDIENCE,
  })).access_token;
  const deploy = async (options = {}, clientSecret = CLIENT_SECRET) => {
    await loadFlow(protectedFlow({ issuer: provider.issuer, audience: demo.OPAQUE_AUDIENCE, validation: 'introspection', ...options }),
      { idp: { clientSecret } });
    await waitForStatus(helper.getNode('vt'), (status) => status.fill !== 'yellow');
  };
  /** Everything a secret could leak into: node statuses and the log. */
  const everythingShown = () => JSON.stringify([statusesOf(helper.getNode('vt')), helper.log().args]);

  it("alice's opaque token: 200 with msg.auth from the provider's answer, in the shape a JWT gives", async () => {
    await deploy();
    const token = await opaqueToken('alice');
    const response = await get(token);
    assert.equal(response.status, 200, response.text);
    const auth = response.body;
    assert.deepEqual(Object.keys(auth).sort(), ['audience', 'claims', 'clientId', 'decision', 'expiresAt', 'issuer', 'roles', 'scopes', 'subject']);
    assert.deepEqual(auth.decision, {
      result: 'authorized', via: 'introspection',
      steps: ['credentials', 'introspection', 'active', 'issuer', 'audience', 'lifetime', 'token type', 'scope'].map((check) => ({ check, result: 'pass' })),
    });
    assert.deepEqual([auth.subject, auth.audience, auth.claims.active], ['alice', [demo.OPAQUE_AUDIENCE], true]);
    assert.ok(Date.parse(auth.expiresAt) > Date.now());
    assert.ok(!response.text.includes(token), 'the token never comes back in msg.auth');
    assert.equal(statusesOf(helper.getNode('vt')).at(-1).fill, 'green');
  });

  it("bob's opaque token lacks orders:read: 403 insufficient_scope", async () => {
    await deploy();
    const response = await get(await opaqueToken('bob'));
    assert.equal(response.status, 403, response.text);
    assert.match(response.headers['www-authenticate'], /error="insufficient_scope".*scope="orders:read"$/);
  });

  it('a token revoked at the provider: 401 invalid_token, ERR_TOKEN_INACTIVE', async () => {
    await deploy();
    const token = await opaqueToken('alice');
    const revoked = await fetch(revocationEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`demo-client:${CLIENT_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ token }),
    });
    assert.equal(revoked.status, 200);
    const response = await get(token);
    assert.equal(response.status, 401, response.text);
    assert.match(response.headers['www-authenticate'], /^Bearer realm="node-red", error="invalid_token", error_description="[^"]+"$/);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.ok(statusesOf(helper.getNode('vt')).some((shown) => shown.text.includes('401 ERR_TOKEN_INACTIVE')), JSON.stringify(statusesOf(helper.getNode('vt'))));
  });

  it('100 concurrent requests with one token: one introspection call at the provider, 100 answers 200', async () => {
    await deploy();
    const token = await opaqueToken('alice');
    const before = calls();
    const responses = await Promise.all(Array.from({ length: 100 }, () => get(token)));
    assert.deepEqual([...new Set(responses.map((response) => response.status))], [200]);
    assert.equal(calls() - before, 1);
    assert.equal((await get(token)).status, 200);
    assert.equal(calls() - before, 1, 'the next request is served from the cache');
  });

  it('introspectionCacheSec 0: every request asks the provider', async () => {
    await deploy({ identity: { introspectionCacheSec: '0' } });
    const token = await opaqueToken('alice');
    const before = calls();
    for (let i = 0; i < 3; i += 1) assert.equal((await get(token)).status, 200);
    assert.equal(calls() - before, 3);
  });

  it('auto: the JWT API\'s tokens are verified locally, the opaque API\'s introspected, one route for both', async () => {
    await deploy({ validation: 'auto', audience: `${provider.audience} ${demo.OPAQUE_AUDIENCE}` });
    const before = calls();
    const jwt = await get(await passwordToken(provider, 'alice'));
    assert.equal(jwt.status, 200, jwt.text);
    assert.deepEqual(jwt.body.audience, [provider.audience]);
    assert.equal(calls() - before, 0);
    const opaque = await get(await opaqueToken('alice'));
    assert.equal(opaque.status, 200, opaque.text);
    assert.deepEqual(opaque.body.audience, [demo.OPAQUE_AUDIENCE]);
    assert.equal(calls() - before, 1);
  });

  it('introspection of the JWT API\'s tokens: oidc-provider will not (unsupported_token_type), so 503 ERR_INTROSPECTION_INVALID, never a pass', async () => {
    await deploy({ audience: provider.audience });
    const response = await get(await passwordToken(provider, 'alice'));
    assert.equal(response.status, 503, response.text);
    assert.equal(response.headers['retry-after'], '5');
    assert.equal(response.body.error, 'temporarily_unavailable');
    assert.deepEqual(statusesOf(helper.getNode('vt')).at(-1), { fill: 'red', shape: 'ring', text: 'ERR_INTROSPECTION_INVALID' });
  });

  it('the provider refusing our client (a wrong secret): 503, logged once as an error, no secret or token shown', async () => {
    const wrongSecret = 'wrong-secret-7f3a';
    await deploy({}, wrongSecret);
    const token = await opaqueToken('alice');
    for (let i = 0; i < 2; i += 1) {
      const response = await get(token);
      assert.equal(response.status, 503, response.text);
      assert.equal(response.headers['retry-after'], '60');
      assert.deepEqual(response.body, { error: 'temporarily_unavailable', error_description: 'the identity provider is not configured correctly' });
    }
    const errors = logged('ERROR').filter((entry) => entry.id === 'vt' && String(entry.msg).startsWith('ERR_INTROSPECTION_CLIENT_REJECTED'));
    assert.equal(errors.length, 1, JSON.stringify(logged('ERROR')));
    assert.deepEqual(statusesOf(helper.getNode('vt')).at(-1), { fill: 'red', shape: 'ring', text: 'ERR_INTROSPECTION_CLIENT_REJECTED' });
    const shown = everythingShown();
    assert.ok(!shown.includes(wrongSecret) && !shown.includes(token) && !shown.includes(CLIENT_SECRET));
  });

  it('the provider down: 503 with Retry-After 5 (ERR_INTROSPECTION_UNAVAILABLE), then 200 once it is back', async () => {
    await deploy();
    const token = await opaqueToken('alice');
    await provider.stop();
    try {
      const response = await get(token);
      assert.equal(response.status, 503, response.text);
      assert.equal(response.headers['retry-after'], '5');
      assert.ok(logged('WARN').some((entry) => entry.id === 'vt' && String(entry.msg).startsWith('ERR_INTROSPECTION_UNAVAILABLE')
        && String(entry.msg).includes('(ERR_HTTP_UNREACHABLE)')));
    } finally {
      await provider.start();
    }
    assert.equal((await get(token)).status, 200);
    assert.ok(!everythingShown().includes(token));
  });

  it('introspection without the client secret: ERR_CONFIG_INTROSPECTION_CLIENT at deploy time, red status, every request 503', async () => {
    await loadFlow(protectedFlow({ issuer: provider.issuer, audience: demo.OPAQUE_AUDIENCE, validation: 'introspection' }), {});
    const status = await waitForStatus(helper.getNode('vt'), (shown) => shown.fill === 'red');
    assert.equal(status.text, 'ERR_CONFIG_INTROSPECTION_CLIENT');
    assert.ok(logged('ERROR').some((entry) => entry.id === 'idp' && String(entry.msg).startsWith('ERR_CONFIG_INTROSPECTION_CLIENT')));
    const before = calls();
    const response = await get(await opaqueToken('alice'));
    assert.equal(response.status, 503);
    assert.equal(response.headers['retry-after'], '60');
    assert.equal(calls() - before, 0);
  });
});
