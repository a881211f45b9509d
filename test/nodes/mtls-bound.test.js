'use strict';
/**
 * Certificate-bound access tokens (RFC 8705 §3) in validate-token: Node-RED served over TLS with
 * client certificates requested (a real HTTPS server on 127.0.0.1 in front of the flow's routes),
 * tokens signed with the demo provider's key carrying `cnf.x5t#S256`; and the trusted-header mode,
 * where a reverse proxy that ends TLS passes the certificate on in a header.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const { helper, startNodeRed, loadFlow, request, statusesOf, logged } = require('../support/node-red');
const { startProvider, providerSigned } = require('../support/demo');

const fixtures = path.join(__dirname, '..', 'fixtures');
const read = (name) => fs.readFileSync(path.join(fixtures, name), 'utf8');
const at = { x: 100, y: 100 };
const PATH = '/api/mtls/orders';
const CLIENT = { cert: read('client-cert.pem'), key: read('client-key.pem') };
// Another certificate with its key: the server's, presented as a client certificate.
const STRANGER = { cert: read('server-cert.pem'), key: read('server-key.pem') };
const thumbprintOf = (pem) => crypto.createHash('sha256').update(new crypto.X509Certificate(pem).raw).digest('base64url');

function mtlsFlow({ issuer, audience, mtls, clientCertHeader = '' }) {
  return [
    { id: 'tab', type: 'tab', label: 'mTLS' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', backoffMinMs: '0' },
    { id: 'in', type: 'http in', z: 'tab', name: '', url: PATH, method: 'get', upload: false, ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', mtls, clientCertHeader, ...at, wires: [['ok'], ['out']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

describe('validate-token with certificate-bound tokens (RFC 8705)', function () {
  this.timeout(20000);
  let provider;
  let server;
  let boundToken;
  let unboundToken;

  before(async () => {
    provider = await startProvider();
    await startNodeRed();
    // Node-RED over TLS: client certificates are asked for but not required by the handshake, so
    // that a request without one reaches the flow and gets the node's answer.
    server = https.createServer({
      key: read('server-key.pem'), cert: read('server-cert.pem'), requestCert: true, rejectUnauthorized: false,
    }, (req, res) => helper._app(req, res));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    boundToken = await providerSigned(provider, { cnf: { 'x5t#S256': thumbprintOf(CLIENT.cert) } });
    unboundToken = await providerSigned(provider, {});
  });

  after(async () => {
    await helper.unload();
    await helper.stopServer();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await provider.close();
  });

  afterEach(() => helper.unload());

  const deploy = (options) => loadFlow(mtlsFlow({ issuer: provider.issuer, audience: provider.audience, ...options }));

  /** GET over TLS, presenting `identity` (a certificate and its key) or no certificate. */
  function overTls(token, identity, headers = {}) {
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: server.address().port, path: PATH, method: 'GET', ca: read('server-cert.pem'), agent: false,
        headers: { Authorization: `Bearer ${token}`, ...headers }, ...(identity ?? {}),
      }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode, headers: res.headers, text, body: JSON.parse(text) });
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  function assertRefused(response, code) {
    assert.equal(response.status, 401, response.text);
    assert.equal(response.body.error, 'invalid_token');
    assert.match(response.headers['www-authenticate'], /^Bearer realm="node-red", error="invalid_token", error_description="[^"]+"$/);
    assert.ok(statusesOf(helper.getNode('vt')).some((shown) => shown.text.startsWith(`rejected: 401 ${code} (`)), JSON.stringify(statusesOf(helper.getNode('vt'))));
  }

  describe('mtls required, the certificate of the TLS connection', () => {
    beforeEach(() => deploy({ mtls: 'required' }));

    it("the certificate the token is bound to: 200, msg.auth.confirmation names its thumbprint", async () => {
      const response = await overTls(boundToken, CLIENT);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body.confirmation, { 'x5t#S256': thumbprintOf(CLIENT.cert) });
    });

    it('another client certificate: 401 ERR_MTLS_BINDING', async () => {
      assertRefused(await overTls(boundToken, STRANGER), 'ERR_MTLS_BINDING');
    });

    it('no client certificate: 401 ERR_MTLS_CERT_MISSING', async () => {
      assertRefused(await overTls(boundToken, undefined), 'ERR_MTLS_CERT_MISSING');
    });

    it('a token without cnf.x5t#S256, with a certificate: 401 ERR_MTLS_BINDING', async () => {
      assertRefused(await overTls(unboundToken, CLIENT), 'ERR_MTLS_BINDING');
    });

    it('plain HTTP (no TLS at all): 401 ERR_MTLS_CERT_MISSING', async () => {
      assertRefused(await request(PATH, { headers: { Authorization: `Bearer ${boundToken}` } }), 'ERR_MTLS_CERT_MISSING');
    });

    it('a certificate header sent by the client is ignored when no header is configured', async () => {
      const response = await request(PATH, { headers: { Authorization: `Bearer ${boundToken}`, 'X-SSL-Client-Cert': encodeURIComponent(CLIENT.cert) } });
      assertRefused(response, 'ERR_MTLS_CERT_MISSING');
    });
  });

  describe("mtls required, the certificate in a trusted proxy's header", () => {
    beforeEach(() => deploy({ mtls: 'required', clientCertHeader: 'X-SSL-Client-Cert' }));
    const viaProxy = (token, headers) => request(PATH, { headers: [['Authorization', `Bearer ${token}`], ...headers] });

    it("the URL-encoded PEM the token is bound to (nginx's $ssl_client_escaped_cert): 200", async () => {
      const response = await viaProxy(boundToken, [['X-SSL-Client-Cert', encodeURIComponent(CLIENT.cert)]]);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body.confirmation, { 'x5t#S256': thumbprintOf(CLIENT.cert) });
    });

    it('another certificate in the header: 401 ERR_MTLS_BINDING', async () => {
      assertRefused(await viaProxy(boundToken, [['X-SSL-Client-Cert', encodeURIComponent(STRANGER.cert)]]), 'ERR_MTLS_BINDING');
    });

    it('no header: 401 ERR_MTLS_CERT_MISSING, even over TLS with the right certificate (only the header counts)', async () => {
      assertRefused(await viaProxy(boundToken, []), 'ERR_MTLS_CERT_MISSING');
      assertRefused(await overTls(boundToken, CLIENT), 'ERR_MTLS_CERT_MISSING');
    });

    it('the header twice: 401 ERR_MTLS_CERT_INVALID', async () => {
      const twice = [['X-SSL-Client-Cert', encodeURIComponent(CLIENT.cert)], ['X-SSL-Client-Cert', encodeURIComponent(CLIENT.cert)]];
      assertRefused(await viaProxy(boundToken, twice), 'ERR_MTLS_CERT_INVALID');
    });

    it('a header that holds no certificate: 401 ERR_MTLS_CERT_INVALID', async () => {
      assertRefused(await viaProxy(boundToken, [['X-SSL-Client-Cert', 'not-a-certificate']]), 'ERR_MTLS_CERT_INVALID');
    });
  });

  describe('mtls off (the default)', () => {
    it('a certificate-bound token is accepted as a bearer token, without a certificate, as before', async () => {
      await deploy({});
      const response = await request(PATH, { headers: { Authorization: `Bearer ${boundToken}` } });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.confirmation, undefined);
    });
  });

  it('a header name that is no HTTP token: red status ERR_CONFIG_INVALID naming clientCertHeader, 503', async () => {
    await deploy({ mtls: 'required', clientCertHeader: 'x ssl cert' });
    assert.equal(statusesOf(helper.getNode('vt')).at(-1).text, 'ERR_CONFIG_INVALID');
    assert.match(String(logged('ERROR').find((entry) => entry.id === 'vt')?.msg), /clientCertHeader/);
    assert.equal((await overTls(boundToken, CLIENT)).status, 503);
  });
});
