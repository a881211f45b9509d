'use strict';
/**
 * validate-token and the provider's life: key rotation, outages before and after the keys were
 * cached, and configurations that cannot work. Each test has its own demo provider, since these
 * tests stop it and rotate its keys.
 */
const assert = require('node:assert/strict');
const { helper, startNodeRed, loadFlow, request, waitForStatus, logged } = require('../support/node-red');
const { startProvider, passwordToken } = require('../support/demo');

const at = { x: 100, y: 100 };
const JWKS_PATH = '/jwks';

function flow(identity) {
  return [
    { id: 'tab', type: 'tab', label: 'protected API' },
    { id: 'idp', type: 'identity-config', name: 'demo', clientId: 'demo-client', backoffMinMs: '0', ...identity },
    { id: 'in', type: 'http in', z: 'tab', url: '/api/orders', method: 'get', ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', ...at, wires: [['ok'], ['out']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const get = (token) => request('/api/orders', { headers: token ? { Authorization: `Bearer ${token}` } : {} });

function assertUnavailable(response) {
  assert.equal(response.status, 503, response.text);
  assert.ok(Number(response.headers['retry-after']) >= 1, `Retry-After: ${response.headers['retry-after']}`);
  assert.equal(response.headers['www-authenticate'], undefined);
  assert.equal(response.body.error, 'temporarily_unavailable');
}

describe('validate-token and the provider', function () {
  this.timeout(20000);
  let provider;

  before(() => startNodeRed());
  after(() => helper.stopServer());

  beforeEach(async () => {
    provider = await startProvider();
  });

  afterEach(async () => {
    await helper.unload();
    await provider.close();
  });

  const deploy = (identity = {}) => loadFlow(flow({ issuer: provider.issuer, audience: provider.audience, ...identity }));
  const jwksFetches = () => [...provider.requests].filter(([path]) => path.includes(JWKS_PATH)).reduce((sum, [, count]) => sum + count, 0);

  it('fetches discovery and keys at deploy, then shows "ready"', async () => {
    await deploy();
    await waitForStatus(helper.getNode('vt'), (status) => status.fill === 'green');
    assert.equal(provider.requests.get('/.well-known/openid-configuration'), 1);
    assert.equal(jwksFetches(), 1);
  });

  it('key rotation at the provider: a token with a new kid validates after exactly one key set refetch', async () => {
    await deploy();
    assert.equal((await get(await passwordToken(provider, 'alice'))).status, 200);
    const before = jwksFetches();
    const newKey = await provider.rotateSigningKey();
    const token = await passwordToken(provider, 'alice');
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')).kid, newKey.kid);
    assert.equal((await get(token)).status, 200);
    assert.equal((await get(token)).status, 200);
    assert.equal(jwksFetches(), before + 1);
  });

  it('a key removed at the provider: its tokens are refused once the key set is refetched', async () => {
    await deploy();
    const oldToken = await passwordToken(provider, 'alice');
    const oldKid = JSON.parse(Buffer.from(oldToken.split('.')[0], 'base64url')).kid;
    assert.equal((await get(oldToken)).status, 200, 'the old key is cached');
    await provider.rotateSigningKey();
    await provider.removeKey(oldKid);
    assert.equal((await get(await passwordToken(provider, 'alice'))).status, 200, 'the new kid makes the node refetch');
    const response = await get(oldToken);
    assert.equal(response.status, 401);
    assert.match(response.headers['www-authenticate'], /error="invalid_token"/);
  });

  it('the default backoff: while it runs, requests get 503 at once and the provider is not asked again', async () => {
    await provider.stop();
    await deploy({ backoffMinMs: '' }); // the default, 1000 ms
    await waitForStatus(helper.getNode('vt'), (status) => status.fill === 'red');
    const asked = provider.requests.get('/.well-known/openid-configuration') ?? 0;
    await provider.start();
    for (let i = 0; i < 5; i += 1) {
      const response = await get('eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJhIn0.c2ln');
      assertUnavailable(response);
      assert.equal(response.headers['retry-after'], '1');
    }
    assert.equal(provider.requests.get('/.well-known/openid-configuration') ?? 0, asked, 'no call within the backoff');
  });

  it('provider down before the first request: 503 with Retry-After, red status, then recovery without redeploy', async () => {
    await provider.stop();
    await deploy();
    const vt = helper.getNode('vt');
    await waitForStatus(vt, (status) => status.fill === 'red' && status.text === 'ERR_DISCOVERY_UNAVAILABLE');
    const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJhIn0.c2ln';
    assertUnavailable(await get(token));
    assert.ok(logged('WARN').some((entry) => entry.id === 'vt' && String(entry.msg).startsWith('ERR_DISCOVERY_UNAVAILABLE')));
    await provider.start();
    const alice = await passwordToken(provider, 'alice');
    const response = await get(alice);
    assert.equal(response.status, 200, response.text);
    await waitForStatus(vt, (status) => status.fill === 'green');
  });

  it('provider down after the keys were cached: tokens still validate', async () => {
    await deploy();
    const alice = await passwordToken(provider, 'alice');
    assert.equal((await get(alice)).status, 200);
    await provider.stop();
    assert.equal((await get(alice)).status, 200, 'cached keys keep serving');
  });

  describe('bad configuration never crashes the runtime: red status with the code, a logged error, 503', () => {
    const cases = {
      'a missing issuer': [{ issuer: '' }, 'ERR_CONFIG_ISSUER_MISSING'],
      'an issuer that is not a URL': [{ issuer: 'keycloak/realms/demo' }, 'ERR_CONFIG_ISSUER_INVALID'],
      'plain http to a non-loopback host': [{ issuer: 'http://idp.example.test/realms/demo' }, 'ERR_CONFIG_INSECURE_HTTP'],
      'an HMAC algorithm in the allowlist': [{ algorithms: 'HS256' }, 'ERR_CONFIG_INVALID'],
    };
    for (const [name, [identity, code]] of Object.entries(cases)) {
      it(name, async () => {
        await deploy(identity);
        const vt = helper.getNode('vt');
        await waitForStatus(vt, (status) => status.fill === 'red' && status.text === code);
        assert.ok(logged('ERROR').some((entry) => entry.id === 'idp' && String(entry.msg).startsWith(code)));
        assert.ok(!logged('ERROR').some((entry) => entry.id === 'vt'), 'logged once, by the config node');
        assertUnavailable(await get('abc'));
        assert.equal((await get()).status, 503, 'even without credentials: the node cannot judge anything');
      });
    }

    it('a discovery document naming another issuer (trailing slash)', async () => {
      await deploy({ issuer: `${provider.issuer}/` });
      const vt = helper.getNode('vt');
      await waitForStatus(vt, (status) => status.fill === 'red' && status.text === 'ERR_DISCOVERY_ISSUER_MISMATCH');
      assertUnavailable(await get(await passwordToken(provider, 'alice')));
    });

    it('an identity-config without audience: validate-token refuses to work (ERR_CONFIG_AUDIENCE_MISSING)', async () => {
      await deploy({ audience: '' });
      await waitForStatus(helper.getNode('vt'), (status) => status.fill === 'red' && status.text === 'ERR_CONFIG_AUDIENCE_MISSING');
      assert.ok(logged('ERROR').some((entry) => entry.id === 'vt' && String(entry.msg).startsWith('ERR_CONFIG_AUDIENCE_MISSING')));
      assertUnavailable(await get(await passwordToken(provider, 'alice')));
    });

    it('no identity-config selected', async () => {
      const nodes = flow({ issuer: provider.issuer });
      nodes.find((node) => node.id === 'vt').identity = 'missing';
      await loadFlow(nodes);
      await waitForStatus(helper.getNode('vt'), (status) => status.fill === 'red' && status.text === 'ERR_CONFIG_MISSING');
      assertUnavailable(await get('abc'));
    });
  });
});
