'use strict';
/**
 * identity-config with Node-RED's own tls-config node: a token endpoint over TLS with a private CA
 * and a client certificate (mutual TLS), as a real HTTPS server on 127.0.0.1.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const { helper, startNodeRed, loadFlow, request, statusesOf, logged } = require('../support/node-red');

const fixtures = path.join(__dirname, '..', 'fixtures');
const read = (name) => fs.readFileSync(path.join(fixtures, name), 'utf8');
const at = { x: 100, y: 100 };

describe('identity-config with a tls-config node (custom CA, client certificate)', function () {
  this.timeout(20000);
  let server;
  let tokenEndpoint;
  const clientCertificates = [];

  before(async () => {
    await startNodeRed();
    server = https.createServer({
      key: read('server-key.pem'), cert: read('server-cert.pem'),
      requestCert: true, rejectUnauthorized: true, ca: read('client-cert.pem'),
    }, (req, res) => {
      clientCertificates.push(req.socket.getPeerCertificate().subject?.CN);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'mtls-token', token_type: 'Bearer', expires_in: 60 }));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenEndpoint = `https://127.0.0.1:${server.address().port}/token`;
  });
  after(async () => {
    await helper.unload();
    await helper.stopServer();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => helper.unload());

  function flow(tls) {
    return [
      { id: 'tab', type: 'tab', label: 'tls' },
      { id: 'tls', type: 'tls-config', name: '', cert: '', key: '', ca: '', certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '' },
      { id: 'idp', type: 'identity-config', issuer: 'https://idp.example.test', audience: 'api', clientId: 'app', tokenEndpoint, tls, timeoutMs: '2000' },
      { id: 'in', type: 'http in', z: 'tab', url: '/m2m', method: 'get', ...at, wires: [['gt']] },
      { id: 'gt', type: 'get-token', z: 'tab', identity: 'idp', grantType: 'client_credentials', scope: '', cache: false, ...at, wires: [['out'], ['out']] },
      { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
    ];
  }
  const credentials = {
    idp: { clientSecret: 's' },
    tls: { certdata: read('client-cert.pem'), keydata: read('client-key.pem'), cadata: read('server-cert.pem') },
  };

  it('trusts the private CA and presents the client certificate (mTLS)', async () => {
    await loadFlow(flow('tls'), credentials);
    const response = await request('/m2m');
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.access_token, 'mtls-token');
    assert.equal(clientCertificates.at(-1), 'node-red-contrib-identity test client');
  });

  it('without the tls-config node the server certificate is not trusted: 503, the cause a TLS error', async () => {
    await loadFlow(flow(''), credentials);
    const response = await request('/m2m');
    assert.equal(response.status, 503);
    assert.equal(statusesOf(helper.getNode('gt')).at(-1).text, 'ERR_TOKEN_ENDPOINT_UNAVAILABLE');
    const warning = logged('WARN').find((entry) => entry.id === 'gt');
    assert.match(String(warning?.msg), /^ERR_TOKEN_ENDPOINT_UNAVAILABLE: .*\(ERR_HTTP_TLS\)$/);
  });

  it('a tls-config that does not exist: ERR_CONFIG_TLS_MISSING, 503', async () => {
    await loadFlow(flow('missing'), credentials);
    assert.equal(statusesOf(helper.getNode('gt')).at(-1).text, 'ERR_CONFIG_TLS_MISSING');
    assert.equal((await request('/m2m')).status, 503);
  });
});
