'use strict';
/**
 * The security check at deploy in a real Node-RED runtime (node-red-node-test-helper): each deploy
 * logs its warnings with RED.log.warn, in the catalog's words and naming the node, publishes them on
 * the comms topic the editor listens to, and never stops the flows from running.
 */
const assert = require('node:assert/strict');
const path = require('node:path');
const { helper, startNodeRed, loadFlow, request, logged, text } = require('../support/node-red');

const nodeRedMain = require.resolve(process.env.NODE_RED_PATH || 'node-red');
const { events } = require(require.resolve('@node-red/util', { paths: [path.dirname(nodeRedMain)] }));

const TOPIC = 'identity/security-check';
const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzZXJ2aWNlIiwiZXhwIjoxODkzNDU2MDAwfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const at = { x: 100, y: 100 };
const say = (key, substitutions) => text('identity-config', `identity-config.securityCheck.${key}`, substitutions);

/** http in → `next` → http response, with a change node as the business logic. */
function route(next, extra = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'security' },
    { id: 'in', type: 'http in', z: 'tab', name: 'GET /open', url: '/open', method: 'get', ...at, wires: [[next]], ...extra },
    { id: 'chg', type: 'change', z: 'tab', name: 'set body', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'served', tot: 'str' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

describe('the security check at deploy, in Node-RED', function () {
  this.timeout(20000);
  const published = [];
  const onComms = (event) => {
    if (event.topic === TOPIC) published.push(event);
  };

  before(async () => {
    await startNodeRed();
    events.on('comms', onComms);
  });
  after(async () => {
    events.removeListener('comms', onComms);
    await helper.unload();
    await helper.stopServer();
  });
  beforeEach(() => {
    published.length = 0;
  });
  afterEach(() => helper.unload());

  const ours = (level) => logged(level).filter((entry) => /WARN_[A-Z_]+/.test(String(entry.msg)));

  it('logs an unprotected route with the node it reaches, tells the editor, and lets the flow run', async () => {
    await loadFlow(route('chg'));
    const expected = say('line', {
      code: 'WARN_ROUTE_UNPROTECTED',
      node: say('onFlow', { node: 'http in "GET /open" (in)', flow: 'security' }),
      message: say('WARN_ROUTE_UNPROTECTED', { target: 'change "set body" (chg)' }),
    });
    assert.ok(!expected.includes('securityCheck.'), `the catalog has the texts: ${expected}`);
    assert.deepEqual(ours('WARN').map((entry) => entry.msg), [expected]);
    assert.match(expected, /WARN_ROUTE_UNPROTECTED.*http in "GET \/open" \(in\) on flow "security".*change "set body" \(chg\)/);

    assert.equal(published.length, 1, 'one message per deploy');
    assert.equal(published[0].retain, true, 'retained for editors opened later');
    assert.deepEqual(published[0].data, { warnings: [{
      code: 'WARN_ROUTE_UNPROTECTED',
      node: { id: 'in', type: 'http in', name: 'GET /open', tab: 'security' },
      related: { id: 'chg', type: 'change', name: 'set body', tab: 'security' },
    }] });

    const response = await request('/open');
    assert.equal(response.status, 200, 'a warning never stops the deploy');
    assert.equal(response.text, 'served');
  });

  it('checks every deploy: a redeploy with validate-token in front publishes an empty list', async () => {
    await loadFlow(route('chg'));
    const protectedRoute = [...route('vt'),
      { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: '', roles: '', ...at, wires: [['chg'], ['out']] },
      { id: 'idp', type: 'identity-config', issuer: 'http://127.0.0.1:1/realms/none', audience: 'api', timeoutMs: '500' }];
    await helper.setFlows(protectedRoute, 'full');
    assert.equal(published.length, 2);
    assert.equal(published[0].data.warnings.length, 1);
    assert.deepEqual(published[1].data, { warnings: [] });
    assert.equal(ours('WARN').length, 1, 'only the first deploy warned');
  });

  it('a route marked "identity: public route" is logged at debug level only', async () => {
    await loadFlow(route('chg', { info: 'A public status page.\n\nidentity: public route' }));
    assert.deepEqual(ours('WARN'), []);
    assert.deepEqual(ours('DEBUG').map((entry) => entry.msg),
      [say('silenced', { code: 'WARN_ROUTE_UNPROTECTED', node: say('onFlow', { node: 'http in "GET /open" (in)', flow: 'security' }) })]);
    assert.deepEqual(published[0].data, { warnings: [] });
  });

  it('names a secret in a node by its property, and never shows it', async () => {
    const flow = route('chg');
    flow[2].rules.push({ t: 'set', p: 'headers.authorization', pt: 'msg', to: `Bearer ${JWT}`, tot: 'str' });
    await loadFlow(flow);
    const warnings = ours('WARN').map((entry) => entry.msg);
    assert.equal(warnings.length, 2, JSON.stringify(warnings));
    assert.equal(warnings[1], say('line', {
      code: 'WARN_SECRET_IN_FLOW',
      node: say('onFlow', { node: 'change "set body" (chg)', flow: 'security' }),
      message: say('WARN_SECRET_IN_FLOW', { property: 'rules[1].to', kind: say('secret.jwt') }),
    }));
    const everything = JSON.stringify({ logs: helper.log().args, published });
    assert.ok(!everything.includes(JWT.split('.')[1]), 'the token is in no log line and in nothing sent to the editor');
  });

  it('resolves ${VAR} through the runtime: an audience from an empty environment variable is missing', async () => {
    process.env.SECURITY_CHECK_TEST_AUDIENCE = '';
    try {
      await loadFlow([...route('vt'),
        { id: 'vt', type: 'validate-token', z: 'tab', name: 'orders API', identity: 'idp', scope: '', roles: '', ...at, wires: [['chg'], ['out']] },
        { id: 'idp', type: 'identity-config', name: 'sso', issuer: 'http://127.0.0.1:1/realms/none', audience: '${SECURITY_CHECK_TEST_AUDIENCE}', timeoutMs: '500' }]);
    } finally {
      delete process.env.SECURITY_CHECK_TEST_AUDIENCE;
    }
    assert.deepEqual(ours('WARN').map((entry) => entry.msg), [say('line', {
      code: 'WARN_AUDIENCE_MISSING',
      node: say('onFlow', { node: 'validate-token "orders API" (vt)', flow: 'security' }),
      message: say('WARN_AUDIENCE_MISSING', { config: 'identity-config "sso" (idp)' }),
    })]);
    // the runtime refuses the same configuration on its own
    assert.ok(logged('ERROR').some((entry) => entry.id === 'vt' && String(entry.msg).startsWith('ERR_CONFIG_AUDIENCE_MISSING')));
  });
});
