'use strict';
/**
 * The token client (RFC 6749 §3.2, §5; RFC 7523) against the demo provider (oidc-provider) on
 * 127.0.0.1, and against a small fault server for what a real provider will not do on demand:
 * an HTML error page, a 200 without a token, a 503, a hang, a redirect.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { listen } = require('../support/servers');
const jose = require('jose');
const { createHttpClient } = require('../../dist/core/http');
const { TokenClient, parseTokenResponse } = require('../../dist/core/token-client');
const { loadClientKey } = require('../../dist/core/client-key');
const { startProvider, CLIENT_SECRET } = require('../support/demo');
const { rejectsWithCode, throwsWithCode } = require('../support/assert');


function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

describe('core: token client', function () {
  this.timeout(15000);
  let provider;
  let tokenEndpoint;
  const httpClient = createHttpClient({ timeoutMs: 2000 });

  before(async () => {
    provider = await startProvider();
    tokenEndpoint = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()).token_endpoint;
  });
  after(() => provider.close());

  const client = (auth, endpoint = tokenEndpoint) => new TokenClient({
    http: httpClient, endpoint: async () => endpoint, now: Date.now, client: { clientId: provider.clientId, ...auth },
  });

  describe('against the demo provider', () => {
    it('client_secret_basic: a client_credentials token response, as returned', async () => {
      const response = await client({ method: 'client_secret_basic', clientSecret: CLIENT_SECRET })
        .request({ grant_type: 'client_credentials', scope: 'orders:read' });
      assert.equal(response.token_type, 'Bearer');
      assert.equal(typeof response.access_token, 'string');
      assert.equal(typeof response.expires_in, 'number');
      assert.equal(response.scope, 'orders:read');
    });

    it('client_secret_post: the same, with the secret in the body', async () => {
      const response = await client({ method: 'client_secret_post', clientSecret: CLIENT_SECRET })
        .request({ grant_type: 'client_credentials' });
      assert.equal(response.token_type, 'Bearer');
    });

    it('a wrong client secret: invalid_client is the flow\'s own fault, ERR_CLIENT_REJECTED (a 502 for callers)', async () => {
      const error = await rejectsWithCode(client({ method: 'client_secret_basic', clientSecret: 'wrong' })
        .request({ grant_type: 'client_credentials' }), 'ERR_CLIENT_REJECTED');
      assert.equal(error.status, 401);
      assert.equal(error.error, 'invalid_client');
    });

    it('a wrong password: invalid_grant with status 400 (ERR_GRANT_INVALID), and the message does not repeat the password', async () => {
      const error = await rejectsWithCode(client({ method: 'client_secret_basic', clientSecret: CLIENT_SECRET })
        .request({ grant_type: 'password', username: 'alice', password: 'not-alices-password' }), 'ERR_GRANT_INVALID');
      assert.equal(error.status, 400);
      assert.equal(error.error, 'invalid_grant');
      assert.ok(!JSON.stringify({ message: error.message, stack: error.stack, ...error }).includes('not-alices-password'));
    });

    it('the provider down: ERR_TOKEN_ENDPOINT_UNAVAILABLE with Retry-After', async () => {
      const closed = await listen(() => undefined);
      const url = `http://127.0.0.1:${closed.address().port}/token`;
      await new Promise((resolve) => closed.close(resolve));
      const error = await rejectsWithCode(client({ method: 'none' }, url).request({ grant_type: 'client_credentials' }),
        'ERR_TOKEN_ENDPOINT_UNAVAILABLE');
      assert.equal(error.retryAfterSec, 5);
      assert.equal(error.cause.code, 'ERR_HTTP_UNREACHABLE');
    });
  });

  describe('against a fault server', () => {
    let server;
    let base;
    let seen;
    const hanging = [];

    before(async () => {
      server = await listen(async (req, res) => {
        seen = { headers: req.headers, body: new URLSearchParams(await readBody(req)) };
        const send = (status, type, body) => {
          res.writeHead(status, { 'content-type': type });
          res.end(body);
        };
        switch (req.url) {
          case '/html': return send(500, 'text/html', '<html><body>Internal error</body></html>');
          case '/html-400': return send(400, 'text/html', '<html>Bad request</html>');
          case '/not-token': return send(200, 'application/json', '{"hello":"world"}');
          case '/unavailable': return send(503, 'application/json', '{"error":"temporarily_unavailable"}');
          case '/redirect': res.writeHead(302, { location: 'https://elsewhere.test/token' }); return res.end();
          case '/hang': hanging.push(res); return undefined;
          case '/echo': return send(200, 'application/json', '{"access_token":"at","token_type":"Bearer","expires_in":"3600"}');
          case '/weird-error': return send(400, 'application/json', '{"error":"invalid_request\\u0000\\"","error_description":"bad \\"x\\""}');
          default: return send(404, 'text/plain', 'no');
        }
      });
      base = `http://127.0.0.1:${server.address().port}`;
    });
    after(async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const faulty = (path, auth = { method: 'client_secret_basic', clientSecret: 's' }, timeoutMs = 2000) => new TokenClient({
      http: createHttpClient({ timeoutMs }), endpoint: async () => base + path, now: Date.now, client: { clientId: 'app', ...auth },
    });

    it('an HTML error page: ERR_TOKEN_RESPONSE_INVALID (502), for 500 and 400 alike', async () => {
      await rejectsWithCode(faulty('/html').request({ grant_type: 'client_credentials' }), 'ERR_TOKEN_RESPONSE_INVALID');
      await rejectsWithCode(faulty('/html-400').request({ grant_type: 'client_credentials' }), 'ERR_TOKEN_RESPONSE_INVALID');
    });

    it('a 200 that is not a token response: ERR_TOKEN_RESPONSE_INVALID', async () => {
      await rejectsWithCode(faulty('/not-token').request({ grant_type: 'client_credentials' }), 'ERR_TOKEN_RESPONSE_INVALID');
    });

    it('a 503: ERR_TOKEN_ENDPOINT_UNAVAILABLE', async () => {
      await rejectsWithCode(faulty('/unavailable').request({ grant_type: 'client_credentials' }), 'ERR_TOKEN_ENDPOINT_UNAVAILABLE');
    });

    it('a redirect is not followed: ERR_TOKEN_RESPONSE_INVALID', async () => {
      await rejectsWithCode(faulty('/redirect').request({ grant_type: 'client_credentials' }), 'ERR_TOKEN_RESPONSE_INVALID');
    });

    it('a hanging provider: ERR_TOKEN_ENDPOINT_UNAVAILABLE within the timeout, the cause ERR_HTTP_TIMEOUT', async () => {
      const error = await rejectsWithCode(faulty('/hang', undefined, 300).request({ grant_type: 'client_credentials' }),
        'ERR_TOKEN_ENDPOINT_UNAVAILABLE');
      assert.equal(error.cause.code, 'ERR_HTTP_TIMEOUT');
    });

    it('an OAuth error with characters outside RFC 6749 §5.2 is kept, made safe', async () => {
      const error = await rejectsWithCode(faulty('/weird-error').request({ grant_type: 'client_credentials' }), 'ERR_GRANT_REJECTED');
      assert.equal(error.error, "invalid_request''");
      assert.equal(error.error_description, "bad 'x'");
    });

    it('client_secret_basic form-encodes id and secret before Base64 (RFC 6749 §2.3.1)', async () => {
      await faulty('/echo', { method: 'client_secret_basic', clientSecret: 'p@ss word:+%' }).request({ grant_type: 'client_credentials' });
      const decoded = Buffer.from(seen.headers.authorization.replace(/^Basic /, ''), 'base64').toString();
      assert.equal(decoded, 'app:p%40ss+word%3A%2B%25');
      assert.equal(seen.body.get('client_secret'), null);
      assert.equal(seen.headers['content-type'], 'application/x-www-form-urlencoded');
    });

    it('client_secret_post and none put the client in the body, never a header', async () => {
      await faulty('/echo', { method: 'client_secret_post', clientSecret: 's3' }).request({ grant_type: 'client_credentials' });
      assert.equal(seen.body.get('client_id'), 'app');
      assert.equal(seen.body.get('client_secret'), 's3');
      assert.equal(seen.headers.authorization, undefined);
      await faulty('/echo', { method: 'none' }).request({ grant_type: 'client_credentials' });
      assert.equal(seen.body.get('client_id'), 'app');
      assert.equal(seen.body.get('client_secret'), null);
    });

    it('private_key_jwt: a signed assertion for the token endpoint (RFC 7523 §3), with kid and x5t#S256', async () => {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const signing = { key: privateKey, alg: 'ES256', keyId: 'k1', x5tS256: 'thumbprint' };
      const before = Math.floor(Date.now() / 1000);
      await faulty('/echo', { method: 'private_key_jwt', privateKey: signing }).request({ grant_type: 'client_credentials' });
      assert.equal(seen.body.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const { payload, protectedHeader } = await jose.jwtVerify(seen.body.get('client_assertion'), publicKey, {
        issuer: 'app', subject: 'app', audience: `${base}/echo`,
      });
      assert.deepEqual(protectedHeader, { alg: 'ES256', typ: 'JWT', kid: 'k1', 'x5t#S256': 'thumbprint' });
      assert.ok(payload.jti && payload.exp - payload.iat === 60 && payload.iat >= before);
      assert.equal(seen.headers.authorization, undefined);
    });

    it('keeps expires_in as the provider sent it (a string, as Entra v1 does)', async () => {
      const response = await faulty('/echo').request({ grant_type: 'client_credentials' });
      assert.equal(response.expires_in, '3600');
    });
  });

  it('parseTokenResponse: an OAuth error on a 5xx is not passed on as the client\'s fault', () => {
    throwsWithCode(() => parseTokenResponse(500, { error: 'server_error' }, 'application/json'), 'ERR_TOKEN_RESPONSE_INVALID');
    throwsWithCode(() => parseTokenResponse(200, { access_token: '', token_type: 'Bearer' }, 'application/json'), 'ERR_TOKEN_RESPONSE_INVALID');
  });

  describe('the client key (private_key_jwt)', () => {
    const pem = (key) => key.export({ type: 'pkcs8', format: 'pem' });

    it('takes the algorithm from the key: RSA, EC P-256/P-384/P-521, Ed25519; PEM or JWK', () => {
      const cases = [
        [crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RS256'],
        [crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'ES256'],
        [crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'ES384'],
        [crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' }), 'ES512'],
        [crypto.generateKeyPairSync('ed25519'), 'EdDSA'],
      ];
      for (const [{ privateKey }, alg] of cases) {
        assert.equal(loadClientKey(pem(privateKey), undefined, undefined).alg, alg);
      }
      const jwk = { ...cases[1][0].privateKey.export({ format: 'jwk' }), kid: 'from-jwk' };
      const fromJwk = loadClientKey(JSON.stringify(jwk), undefined, undefined);
      assert.equal(fromJwk.alg, 'ES256');
      assert.equal(fromJwk.keyId, 'from-jwk');
      assert.equal(loadClientKey(pem(cases[0][0].privateKey).replace(/\n/g, '\\n'), undefined, 'k').keyId, 'k', 'a PEM pasted with \\n escapes');
    });

    it('puts the certificate\'s SHA-256 thumbprint in x5t#S256, and refuses a certificate of another key', () => {
      const fs = require('node:fs');
      const path = require('node:path');
      const fixtures = path.join(__dirname, '..', 'fixtures');
      const keyPem = fs.readFileSync(path.join(fixtures, 'client-key.pem'), 'utf8');
      const certPem = fs.readFileSync(path.join(fixtures, 'client-cert.pem'), 'utf8');
      const fingerprint = '9A839D3F6D2CD96AF1D4769066640F18684B656C92ADBF53B950C92DB9F6E4B4';
      assert.equal(loadClientKey(keyPem, certPem, undefined).x5tS256, Buffer.from(fingerprint, 'hex').toString('base64url'));
      const other = pem(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      throwsWithCode(() => loadClientKey(other, certPem, undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
      throwsWithCode(() => loadClientKey(keyPem, 'not a certificate', undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
    });

    it('refuses what is not a private key: ERR_CONFIG_PRIVATE_KEY_INVALID', () => {
      throwsWithCode(() => loadClientKey('not a key', undefined, undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
      const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      throwsWithCode(() => loadClientKey(publicKey.export({ type: 'spki', format: 'pem' }), undefined, undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
      const { privateKey: x25519 } = crypto.generateKeyPairSync('x25519');
      throwsWithCode(() => loadClientKey(pem(x25519), undefined, undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
      const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
      throwsWithCode(() => loadClientKey(JSON.stringify({ ...ec, alg: 'RS256' }), undefined, undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
      throwsWithCode(() => loadClientKey(JSON.stringify({ ...ec, alg: 'ES384' }), undefined, undefined), 'ERR_CONFIG_PRIVATE_KEY_INVALID');
      const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
      assert.equal(loadClientKey(JSON.stringify({ ...rsa, alg: 'PS384' }), undefined, undefined).alg, 'PS384');
    });
  });
});
