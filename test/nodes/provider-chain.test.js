'use strict';
/**
 * get-token's provider chain (identity, identity2, identity3) for the password grant, against two
 * real demo providers that know different people: the first provider that accepts the password
 * answers; only invalid_grant hands over to the next; any other failure stops the chain.
 */
const assert = require('node:assert/strict');
const { helper, startNodeRed, loadFlow, request, waitForStatus } = require('../support/node-red');
const { startProvider, CLIENT_SECRET } = require('../support/demo');

const at = { x: 100, y: 100 };
const CAROL = { carol: { password: 'carol-password', scopes: ['orders:read'], roles: ['partner'] } };

function flow(employees, partners, extra = {}, identityExtra = {}) {
  const config = (id, provider) => ({
    id, type: 'identity-config', name: `${id} directory`, issuer: provider.issuer, audience: provider.audience,
    clientId: provider.clientId, backoffMinMs: '0', timeoutMs: '1000', ...identityExtra[id],
  });
  return [
    { id: 'tab', type: 'tab', label: 'chain' },
    config('employees', employees),
    config('partners', partners),
    { id: 'in', type: 'http in', z: 'tab', url: '/token', method: 'post', upload: false, ...at, wires: [['gt']] },
    {
      id: 'gt', type: 'get-token', z: 'tab', identity: 'employees', identity2: 'partners', grantType: 'password',
      scope: 'orders:read', params: '', paramsType: 'json', ...extra, ...at, wires: [['out'], ['out']],
    },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const credentials = { employees: { clientSecret: CLIENT_SECRET }, partners: { clientSecret: CLIENT_SECRET } };
const login = (username, password) => request('/token', {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }),
});
const tokenCalls = (provider) => provider.requests.get('/token') ?? 0;
const issuerOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).iss;

describe('get-token: a chain of providers for the password grant', function () {
  this.timeout(20000);
  let employees;
  let partners;

  before(async () => {
    await startNodeRed();
    [employees, partners] = await Promise.all([startProvider(), startProvider({ users: CAROL })]);
  });
  after(async () => {
    await helper.stopServer();
    await Promise.all([employees.close(), partners.close()]);
  });
  afterEach(() => helper.unload());

  const calls = () => [tokenCalls(employees), tokenCalls(partners)];
  const since = (before) => calls().map((count, index) => count - before[index]);

  it('the first provider that knows the user answers: alice at the first, carol at the second', async () => {
    await loadFlow(flow(employees, partners), credentials);
    let before = calls();
    const alice = await login('alice', 'alice-password');
    assert.equal(alice.status, 200, alice.text);
    assert.equal(issuerOf(alice.body.access_token), employees.issuer);
    assert.deepEqual(since(before), [1, 0], 'the second provider is not asked');

    before = calls();
    const carol = await login('carol', 'carol-password');
    assert.equal(carol.status, 200, carol.text);
    assert.equal(carol.headers['cache-control'], 'no-store');
    assert.equal(issuerOf(carol.body.access_token), partners.issuer);
    assert.deepEqual(since(before), [1, 1]);
  });

  it('when every provider refuses the password, the last refusal is answered: 400 invalid_grant', async () => {
    await loadFlow(flow(employees, partners), credentials);
    const before = calls();
    const response = await login('carol', 'wrong-password');
    assert.equal(response.status, 400, response.text);
    assert.equal(response.body.error, 'invalid_grant');
    assert.deepEqual(since(before), [1, 1]);
  });

  it('a first provider that is down stops the chain with 503: an outage never logs in elsewhere', async () => {
    await loadFlow(flow(employees, partners), credentials);
    await employees.stop();
    try {
      const before = calls();
      const response = await login('carol', 'carol-password');
      assert.equal(response.status, 503, response.text);
      assert.equal(since(before)[1], 0, 'the second provider is not asked');
    } finally {
      await employees.start();
    }
  });

  it('a first provider refusing the flow\'s own client stops the chain with 502', async () => {
    await loadFlow(flow(employees, partners), { ...credentials, employees: { clientSecret: 'not-the-secret' } });
    const before = calls();
    const response = await login('carol', 'carol-password');
    assert.equal(response.status, 502, response.text);
    assert.deepEqual(since(before), [1, 0]);
  });

  it('a chain is only for the password grant: another grant with identity2 is a configuration error', async () => {
    await loadFlow(flow(employees, partners, { grantType: 'client_credentials' }), credentials);
    const status = await waitForStatus(helper.getNode('gt'), (each) => each.fill === 'red');
    assert.equal(status.text, 'ERR_CONFIG_INVALID');
  });

  it('a provider of the chain that cannot request tokens is a configuration error at deploy', async () => {
    await loadFlow(flow(employees, partners), { employees: { clientSecret: CLIENT_SECRET } });
    const status = await waitForStatus(helper.getNode('gt'), (each) => each.fill === 'red');
    assert.equal(status.text, 'ERR_CONFIG_CLIENT_MISSING');
    assert.equal((await login('alice', 'alice-password')).status, 503);
  });
});
