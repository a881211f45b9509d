'use strict';
/**
 * resource-metadata through a real `http in` → resource-metadata → `http response`: the RFC 9728
 * document with the issuers of real identity-configs, its headers, its configuration errors
 * (503 with the code), and the walk a client makes from validate-token's challenge
 * (resource_metadata) to the document, to the provider that issues the token.
 *
 * The shared test support loads the token nodes only; this file loads the node types it needs
 * itself, with their catalogs, on a Node-RED test server of its own.
 */
const assert = require('node:assert/strict');
const path = require('node:path');
const { helper, request, waitForStatus } = require('../support/node-red');
const { startProvider, passwordToken } = require('../support/demo');

const nodeRed = path.dirname(require.resolve(process.env.NODE_RED_PATH || 'node-red'));
const fromNodeRed = (module) => require(require.resolve(module, { paths: [nodeRed] }));
const { i18n } = fromNodeRed('@node-red/util');
const MODULE = 'node-red-contrib-identity';
const OURS = ['identity-config', 'validate-token', 'resource-metadata'];

let routes;
/** Our nodes with their real catalogs (the helper's RED._ returns keys), and a hook on the http in routes. */
const NODES = [
  (RED) => {
    routes = RED.httpNode;
  },
  fromNodeRed('@node-red/nodes/core/network/21-httpin.js'),
  fromNodeRed('@node-red/nodes/core/function/15-change.js'),
  ...OURS.map((type) => (RED) => require(`../../dist/${type}.js`)(Object.assign(Object.create(RED), {
    _: (key, substitutions) => i18n._(key.includes(':') ? key : `${MODULE}/${type}:${key}`, substitutions),
  }))),
];

const at = { x: 100, y: 100 };
const WELL_KNOWN = '/.well-known/oauth-protected-resource';

function metadataFlow({ issuer, audience, meta = {}, identity = {}, extra = [] }) {
  return [
    { id: 'tab', type: 'tab', label: 'metadata' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', realm: 'reports', backoffMinMs: '0', ...identity },
    { id: 'in', type: 'http in', z: 'tab', url: WELL_KNOWN, method: 'get', upload: false, ...at, wires: [['rm']] },
    {
      id: 'rm', type: 'resource-metadata', z: 'tab', identity: 'idp', resource: 'https://api.example.com', scopes: 'orders:read orders:write',
      resourceName: 'Orders API', documentation: 'https://docs.example.com/orders', ...at, wires: [['out']], ...meta,
    },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
    ...extra,
  ];
}

describe('resource-metadata through http in / http response (RFC 9728)', function () {
  this.timeout(20000);
  let provider;
  let partners;

  before(async () => {
    provider = await startProvider();
    partners = await startProvider();
    await helper.startServer();
    for (const type of OURS) await i18n.registerMessageCatalog(`${MODULE}/${type}`, path.resolve(__dirname, '../../dist/locales'), `${type}.json`);
    helper._app.use((req, res, next) => routes(req, res, next));
  });

  after(async () => {
    await helper.unload();
    await helper.stopServer();
    await Promise.all([provider.close(), partners.close()]);
  });

  afterEach(() => helper.unload());

  const deploy = (options = {}) => helper.load(NODES, metadataFlow({ issuer: provider.issuer, audience: provider.audience, ...options }));
  /** The message resource-metadata sends next. */
  const nextSent = () => new Promise((resolve) => helper.getNode('rm').once('call:send', (call) => resolve(call.args[0])));

  it('answers 200 with the document: the resource, the identity-config\'s issuer, header bearer tokens, scopes, name, documentation', async () => {
    await deploy();
    const status = await waitForStatus(helper.getNode('rm'), (shown) => shown.fill === 'green');
    assert.equal(status.text, 'ready');
    const response = await request(WELL_KNOWN);
    assert.equal(response.status, 200, response.text);
    assert.match(response.headers['content-type'], /^application\/json\b/);
    assert.equal(response.headers['cache-control'], 'public, max-age=3600');
    assert.deepEqual(response.body, {
      resource: 'https://api.example.com',
      authorization_servers: [provider.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['orders:read', 'orders:write'],
      resource_name: 'Orders API',
      resource_documentation: 'https://docs.example.com/orders',
    });
  });

  it('leaves out the optional members that are not set', async () => {
    await deploy({ meta: { scopes: '', resourceName: '', documentation: '' } });
    assert.deepEqual(Object.keys((await request(WELL_KNOWN)).body).sort(), ['authorization_servers', 'bearer_methods_supported', 'resource']);
  });

  it('lists the issuers of Also from and And from, and every accepted tenant of an issuer template', async () => {
    const tenants = 'http://127.0.0.1:1/{tenantid}/v2.0';
    await deploy({
      meta: { identity2: 'idp2', identity3: 'idp3' },
      extra: [
        { id: 'idp2', type: 'identity-config', name: 'partners', issuer: partners.issuer, audience: partners.audience, clientId: 'demo-client' },
        { id: 'idp3', type: 'identity-config', name: 'tenants', issuer: tenants, tenants: 'contoso fabrikam', audience: 'api://orders' },
      ],
    });
    assert.deepEqual((await request(WELL_KNOWN)).body.authorization_servers,
      [provider.issuer, partners.issuer, 'http://127.0.0.1:1/contoso/v2.0', 'http://127.0.0.1:1/fabrikam/v2.0']);
  });

  it('gives each message its own copy: a later node that edits the document does not change the next answer', async () => {
    const append = { id: 'edit', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload.scopes_supported', pt: 'msg', to: '$append(payload.scopes_supported, "edited")', tot: 'jsonata' }], ...at, wires: [['out']] };
    await deploy({ meta: { wires: [['edit']] }, extra: [append] });
    const expected = ['orders:read', 'orders:write', 'edited'];
    assert.deepEqual((await request(WELL_KNOWN)).body.scopes_supported, expected);
    assert.deepEqual((await request(WELL_KNOWN)).body.scopes_supported, expected);
  });

  describe('misconfigured: 503 with Retry-After and no-store, the code in msg.authError and the status', () => {
    const cases = {
      'no Resource': [{ meta: { resource: '' } }, 'ERR_CONFIG_INVALID'],
      'a Resource with a fragment': [{ meta: { resource: 'https://api.example.com/#orders' } }, 'ERR_CONFIG_INVALID'],
      'a Resource over plain http to another host': [{ meta: { resource: 'http://api.example.com' } }, 'ERR_CONFIG_INSECURE_HTTP'],
      'a scope with a quote': [{ meta: { scopes: 'orders:"read"' } }, 'ERR_CONFIG_INVALID'],
      'no identity-config selected': [{ meta: { identity: '' } }, 'ERR_CONFIG_MISSING'],
      'an identity-config without issuer': [{ identity: { issuer: '' } }, 'ERR_CONFIG_ISSUER_MISSING'],
      'Also from names a missing identity-config': [{ meta: { identity2: 'gone' } }, 'ERR_CONFIG_MISSING'],
    };
    for (const [name, [options, code]] of Object.entries(cases)) {
      it(`${name}: ${code}`, async () => {
        await deploy(options);
        const status = await waitForStatus(helper.getNode('rm'), (shown) => shown.fill === 'red');
        assert.deepEqual(status, { fill: 'red', shape: 'ring', text: code });
        const sent = nextSent();
        const response = await request(WELL_KNOWN);
        assert.equal(response.status, 503, response.text);
        assert.equal(response.headers['retry-after'], '60');
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.deepEqual(response.body, { error: 'temporarily_unavailable', error_description: 'the identity provider is not configured correctly' });
        assert.deepEqual((await sent).authError, { code });
      });
    }
  });

  it('a client that knows only the API: challenge → resource_metadata → document → the provider → a token that gets in', async () => {
    const metadataUrl = `${helper.url()}${WELL_KNOWN}`;
    await deploy({
      meta: { resource: helper.url(), scopes: 'orders:read' },
      extra: [
        { id: 'api', type: 'http in', z: 'tab', url: '/api/orders', method: 'get', upload: false, ...at, wires: [['vt']] },
        { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', resourceMetadata: metadataUrl, ...at, wires: [['out'], ['out']] },
      ],
    });
    const challenge = (await request('/api/orders')).headers['www-authenticate'];
    assert.equal(challenge, `Bearer realm="reports", resource_metadata="${metadataUrl}"`);
    const document = (await request(/resource_metadata="([^"]+)"/.exec(challenge)[1])).body;
    assert.equal(document.resource, helper.url(), 'the resource is the URL the client started from (RFC 9728 §3.3)');
    const [issuer] = document.authorization_servers;
    const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, issuer);
    const token = await passwordToken(provider, 'alice', document.scopes_supported.join(' '));
    assert.equal((await request('/api/orders', { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  });
});
