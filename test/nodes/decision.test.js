'use strict';
/**
 * The decision trace (msg.auth.decision) on both outputs of validate-token, the audit event of each
 * rejection and the rejection counters of the status, against the real demo provider through real
 * http in / http response nodes.
 */
const assert = require('node:assert/strict');
const { useDemoProviderAndNodeRed } = require('../support/suites');
const { helper, loadFlow, request, statusesOf, waitForStatus } = require('../support/node-red');
const { startProvider, passwordToken, providerSigned } = require('../support/demo');

const at = { x: 100, y: 100 };
const JWT = ['credentials', 'format', 'algorithm', 'key', 'signature', 'issuer', 'audience', 'lifetime', 'claims'];
const passed = (checks) => checks.map((check) => ({ check, result: 'pass' }));

function flow(provider, { identity = {}, validate = {} } = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'decision' },
    { id: 'idp', type: 'identity-config', name: 'demo realm', issuer: provider.issuer, audience: provider.audience, clientId: 'demo-client', backoffMinMs: '0', ...identity },
    { id: 'in', type: 'http in', z: 'tab', url: '/api/orders', method: 'get', upload: false, ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', ...validate, ...at, wires: [['ok'], ['denied']] },
    // Both outputs answer with msg.auth, so that the test reads the decision over HTTP.
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'denied', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const get = (token) => request('/api/orders', { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });

describe('validate-token: the decision trace, audit events and rejection counters', function () {
  this.timeout(20000);
  let provider;
  let alice;

  useDemoProviderAndNodeRed((started) => { provider = started; });
  before(async () => {
    alice = await passwordToken(provider, 'alice');
  });

  it('authorized: every check made, in order, and how (jwt, then cache for the same token)', async () => {
    await loadFlow(flow(provider));
    const first = await get(alice);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body.decision, { result: 'authorized', via: 'jwt', steps: passed([...JWT, 'scope']) });
    const again = await get(alice);
    assert.deepEqual(again.body.decision, { result: 'authorized', via: 'cache', steps: passed(['credentials', 'cached verification', 'lifetime', 'scope']) });
  });

  it('rejected: the checks before the failing one passed, the failing one names its code, nothing after it', async () => {
    await loadFlow(flow(provider));
    const expired = await providerSigned(provider, { exp: Math.floor(Date.now() / 1000) - 3600 });
    const cases = [
      [undefined, [{ check: 'credentials', result: 'fail', code: 'ERR_BEARER_MISSING' }]],
      ['not.a.jwt', [...passed(['credentials']), { check: 'format', result: 'fail', code: 'ERR_TOKEN_MALFORMED' }]],
      [expired, [...passed(JWT.slice(0, 7)), { check: 'lifetime', result: 'fail', code: 'ERR_TOKEN_EXPIRED' }]],
      [await providerSigned(provider, { aud: 'urn:another-api' }), [...passed(JWT.slice(0, 6)), { check: 'audience', result: 'fail', code: 'ERR_TOKEN_AUDIENCE' }]],
    ];
    for (const [token, steps] of cases) {
      const response = await get(token);
      assert.ok(response.status === 400 || response.status === 401, response.text);
      const { decision } = response.body.auth ?? response.body;
      assert.deepEqual(decision.steps, steps, JSON.stringify(decision));
      assert.equal(decision.result, 'rejected');
      assert.equal(decision.code, steps.at(-1).code);
    }
  });

  it('a rejected message carries only the decision in msg.auth, never the token or its claims', async () => {
    await loadFlow(flow(provider));
    const bob = await passwordToken(provider, 'bob');
    const response = await get(bob);
    assert.equal(response.status, 403);
    assert.deepEqual(Object.keys(response.body), ['decision']);
    assert.ok(!JSON.stringify(response.body).includes(bob.split('.')[1]), 'no part of the token');
    assert.ok(!JSON.stringify(response.body).includes('bob'), 'no claim value');
  });

  it('several providers: a token of an unknown issuer fails the issuer choice', async () => {
    const other = await startProvider();
    try {
      await loadFlow([...flow(provider, { validate: { identity2: 'idp2' } }),
        { id: 'idp2', type: 'identity-config', name: 'second realm', issuer: other.issuer, audience: other.audience, clientId: 'demo-client' }]);
      const stranger = await startProvider();
      try {
        const response = await get(await passwordToken(stranger, 'alice'));
        assert.equal(response.status, 401);
        assert.deepEqual(response.body.decision.steps, [...passed(['credentials']), { check: 'issuer choice', result: 'fail', code: 'ERR_TOKEN_ISSUER' }]);
        const ok = await get(await passwordToken(other, 'alice'));
        assert.deepEqual(ok.body.decision.steps.slice(0, 2), passed(['credentials', 'issuer choice']));
      } finally {
        await stranger.close();
      }
    } finally {
      await other.close();
    }
  });

  it('a configuration that cannot work fails the configuration check', async () => {
    await loadFlow(flow(provider, { identity: { audience: '' } }));
    const response = await get(alice);
    assert.equal(response.status, 503);
    assert.deepEqual(response.body.decision.steps, [{ check: 'configuration', result: 'fail', code: 'ERR_CONFIG_AUDIENCE_MISSING' }]);
  });

  it('one audit event per rejection, with node, code, status and route, never the token', async () => {
    await loadFlow(flow(provider));
    await get(undefined);
    await get('not.a.jwt');
    await get(alice);
    const audits = helper.log().args.map((args) => args[0]).filter((entry) => entry.event === 'identity.validate-token.rejected');
    assert.deepEqual(audits.map((entry) => [entry.node, entry.code, entry.status, entry.path]),
      [['vt', 'ERR_BEARER_MISSING', 401, '/api/orders'], ['vt', 'ERR_TOKEN_MALFORMED', 401, '/api/orders']]);
    assert.ok(!JSON.stringify(audits).includes(alice.split('.')[1]));
  });

  it('the status counts rejections by code, most frequent first', async () => {
    await loadFlow(flow(provider));
    // The keys load at deploy and then show "ready": wait for it, so that it cannot come after the rejections.
    await waitForStatus(helper.getNode('vt'), (status) => status.fill === 'green');
    await get(undefined);
    await get('not.a.jwt');
    await get(undefined);
    const text = statusesOf(helper.getNode('vt')).at(-1).text;
    assert.match(text, /ERR_BEARER_MISSING ×2, ERR_TOKEN_MALFORMED ×1/);
  });
});
