'use strict';
/**
 * The editor's Discover endpoint (GET /identity-config/discover on the admin API): the metadata and
 * key set of the issuer being configured, or a code that names the problem.
 */
const assert = require('node:assert/strict');
const http = require('node:http');
const { helper, startNodeRed, loadFlow } = require('../support/node-red');
const { startProvider } = require('../support/demo');

describe('identity-config: the Discover endpoint of the editor', function () {
  this.timeout(20000);
  let provider;

  before(async () => {
    provider = await startProvider();
    await startNodeRed();
    await loadFlow([{ id: 'idp', type: 'identity-config', issuer: provider.issuer, audience: provider.audience }]);
  });
  after(async () => {
    await helper.unload();
    await helper.stopServer();
    await provider.close();
  });

  const discover = (query) => helper.request().get('/identity-config/discover').query(query);

  it('shows the endpoints, grants, client authentication methods and keys of the demo provider', async () => {
    const response = await discover({ issuer: provider.issuer });
    assert.equal(response.status, 200, response.text);
    const report = response.body;
    assert.equal(report.issuer, provider.issuer);
    assert.equal(report.endpoints.token_endpoint, `${provider.issuer}/token`);
    assert.ok(report.endpoints.authorization_endpoint && report.endpoints.jwks_uri);
    assert.ok(report.grantTypes.includes('client_credentials') && report.grantTypes.includes('password'));
    assert.ok(report.clientAuthMethods.includes('private_key_jwt'));
    assert.deepEqual(report.keys.map((key) => key.kid), provider.signingKeys.map((key) => key.kid));
    assert.ok(report.keys.every((key) => key.kty === 'RSA' && !('d' in key)), 'public members only');
  });

  it('names the problem: an issuer differing only by a trailing slash', async () => {
    const response = await discover({ issuer: `${provider.issuer}/` });
    assert.equal(response.status, 200, 'the call worked; the discovery did not');
    assert.equal(response.body.problem.code, 'ERR_DISCOVERY_ISSUER_MISMATCH');
    assert.match(response.body.problem.message, /character for character/);
  });

  it('names the problem: nothing listening (the cause says how)', async () => {
    const closed = http.createServer();
    await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${closed.address().port}`;
    await new Promise((resolve) => closed.close(resolve));
    const response = await discover({ issuer: url });
    assert.deepEqual([response.body.problem.code, response.body.problem.cause], ['ERR_DISCOVERY_UNAVAILABLE', 'ERR_HTTP_UNREACHABLE']);
  });

  it('names the problem: not an OpenID provider (a server without discovery)', async () => {
    const plain = http.createServer((req, res) => {
      res.writeHead(404);
      res.end('not here');
    });
    await new Promise((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const response = await discover({ issuer: `http://127.0.0.1:${plain.address().port}/realms/x` });
      assert.equal(response.body.problem.code, 'ERR_DISCOVERY_INVALID');
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('refuses what validation would refuse, without fetching: no issuer, not a URL, plain http to another host', async () => {
    for (const [issuer, code] of [['', 'ERR_CONFIG_ISSUER_MISSING'], ['keycloak/realms/x', 'ERR_CONFIG_ISSUER_INVALID'], ['http://idp.example.test', 'ERR_CONFIG_INSECURE_HTTP']]) {
      const response = await discover({ issuer });
      assert.equal(response.body.problem.code, code, issuer);
    }
  });
});
