'use strict';
/**
 * validate-token with several identity-configs (identity, identity2, identity3): three real demo
 * providers, each with its own issuer and keys, behind one route. The token's iss picks the one
 * that verifies it; keys are never tried provider after provider.
 */
const assert = require('node:assert/strict');
const { helper, startNodeRed, loadFlow, request, waitForStatus, logged } = require('../support/node-red');
const { startProvider, passwordToken, providerSigned } = require('../support/demo');

const at = { x: 100, y: 100 };

function flow(providers, validate = {}) {
  const configs = providers.map((provider, index) => ({
    id: `idp${index + 1}`, type: 'identity-config', name: `realm ${index + 1}`, issuer: provider.issuer,
    audience: provider.audience, clientId: 'demo-client', backoffMinMs: '0',
  }));
  return [
    { id: 'tab', type: 'tab', label: 'several providers' },
    ...configs,
    { id: 'in', type: 'http in', z: 'tab', url: '/api/orders', method: 'get', ...at, wires: [['vt']] },
    {
      id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp1', identity2: configs[1] ? 'idp2' : '', identity3: configs[2] ? 'idp3' : '',
      scope: 'orders:read', roles: '', ...at, wires: [['ok'], ['out']], ...validate,
    },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const get = (token) => request('/api/orders', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
const keySetFetches = (provider) => [...provider.requests].filter(([path]) => path.includes('/jwks')).reduce((sum, [, count]) => sum + count, 0);

describe('validate-token with several providers', function () {
  this.timeout(20000);
  let providers;

  before(async () => {
    await startNodeRed();
    providers = await Promise.all([startProvider(), startProvider(), startProvider()]);
  });
  after(async () => {
    await helper.stopServer();
    await Promise.all(providers.map((provider) => provider.close()));
  });
  afterEach(() => helper.unload());

  const ready = () => waitForStatus(helper.getNode('vt'), (status) => status.fill === 'green');

  it("accepts each provider's tokens, verified by that provider: msg.auth.issuer says which", async () => {
    await loadFlow(flow(providers));
    await ready();
    for (const provider of providers) {
      const response = await get(await passwordToken(provider, 'alice'));
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.issuer, provider.issuer);
      assert.equal(response.body.subject, 'alice');
    }
  });

  it('refuses a token of an issuer it does not know with 401 invalid_token, asking no provider for keys', async () => {
    await loadFlow(flow(providers.slice(0, 2)));
    await ready();
    const before = providers.map(keySetFetches);
    const response = await get(await passwordToken(providers[2], 'alice'));
    assert.equal(response.status, 401, response.text);
    assert.match(response.headers['www-authenticate'], /error="invalid_token"/);
    assert.deepEqual(providers.map(keySetFetches), before, 'no key set was fetched to try the token');
  });

  it("a token naming one provider but signed with another's key is refused by the one it names", async () => {
    await loadFlow(flow(providers.slice(0, 2)));
    await ready();
    // Signed by provider 2, claiming to come from provider 1: provider 1 knows no such key.
    const forged = await providerSigned(providers[1], { iss: providers[0].issuer, aud: providers[0].audience });
    const response = await get(forged);
    assert.equal(response.status, 401, response.text);
    assert.match(response.headers['www-authenticate'], /error="invalid_token"/);
  });

  it("each provider's rules stay its own: a token is checked against its issuer's audience", async () => {
    const configs = flow(providers.slice(0, 2));
    configs.find((node) => node.id === 'idp2').audience = 'urn:another-api';
    await loadFlow(configs);
    await ready();
    assert.equal((await get(await passwordToken(providers[0], 'alice'))).status, 200);
    const response = await get(await passwordToken(providers[1], 'alice'));
    assert.equal(response.status, 401, 'provider 2 demands its own audience');
  });

  it('a token without a readable iss goes to the first provider, which names the problem', async () => {
    await loadFlow(flow(providers.slice(0, 2)));
    await ready();
    const response = await get('not-a-jwt');
    assert.equal(response.status, 401);
    assert.match(response.headers['www-authenticate'], /error="invalid_token"/);
  });

  describe('configurations that cannot work answer 503 and say why at deploy', () => {
    const deployed = async (nodes) => {
      await loadFlow(nodes);
      const status = await waitForStatus(helper.getNode('vt'), (each) => each.fill === 'red');
      const response = await get(await passwordToken(providers[0], 'alice'));
      assert.equal(response.status, 503, response.text);
      return status.text;
    };

    it('a further provider that does not exist: ERR_CONFIG_MISSING', async () => {
      const nodes = flow(providers.slice(0, 1), { identity2: 'nowhere' });
      assert.equal(await deployed(nodes), 'ERR_CONFIG_MISSING');
      assert.ok(logged('ERROR').some((entry) => entry.id === 'vt' && /^ERR_CONFIG_MISSING: .*identity2/.test(entry.msg)), JSON.stringify(logged('ERROR')));
    });

    it('two providers with the same issuer: ERR_CONFIG_INVALID', async () => {
      const nodes = flow([providers[0], providers[0]]);
      assert.equal(await deployed(nodes), 'ERR_CONFIG_INVALID');
    });

    it('a further provider without an audience: ERR_CONFIG_AUDIENCE_MISSING', async () => {
      const nodes = flow(providers.slice(0, 2));
      nodes.find((node) => node.id === 'idp2').audience = '';
      assert.equal(await deployed(nodes), 'ERR_CONFIG_AUDIENCE_MISSING');
    });
  });
});
