'use strict';
/**
 * validate-token with encrypted access tokens (nested JWTs), behind a real `http in`, answering
 * through a real `http response`, against the demo provider (oidc-provider), whose third API signs
 * its access tokens and then encrypts them (RSA-OAEP-256, A256GCM) to a key pair of the test.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { helper, startNodeRed, loadFlow, request, statusesOf, waitForStatus, logged } = require('../support/node-red');
const { startProvider, tokenResponse, passwordToken } = require('../support/demo');
const { JweDecrypter } = require('../../dist/core/jwe');

const at = { x: 100, y: 100 };
/** Route -> identity-config options: the API's key, none, another key, and a narrower algorithm list. */
const ROUTES = {
  encrypted: {},
  'no-key': {},
  'other-key': {},
  narrow: { jweAlgorithms: 'RSA-OAEP' },
};

function encryptedFlow({ issuer, audience }) {
  const nodes = [{ id: 'tab', type: 'tab', label: 'encrypted API' }];
  for (const [name, options] of Object.entries(ROUTES)) {
    nodes.push(
      { id: `idp-${name}`, type: 'identity-config', name, issuer, audience, clientId: 'demo-client', backoffMinMs: '0', ...options },
      { id: `in-${name}`, type: 'http in', z: 'tab', name: '', url: `/api/${name}/orders`, method: 'get', upload: false, ...at, wires: [[`vt-${name}`]] },
      { id: `vt-${name}`, type: 'validate-token', z: 'tab', identity: `idp-${name}`, scope: 'orders:read', roles: '', ...at, wires: [['ok'], ['out']] },
    );
  }
  nodes.push(
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  );
  return nodes;
}

const get = (route, token) => request(`/api/${route}/orders`, { headers: { Authorization: `Bearer ${token}` } });
const headerOf = (jwe) => JSON.parse(Buffer.from(jwe.split('.')[0], 'base64url'));

describe('validate-token with encrypted access tokens (JWE), through http in / http response', function () {
  this.timeout(20000);
  let provider;
  let demo;
  let decryptionKey;
  let otherKey;
  let decryptions = 0;
  const originalDecrypt = JweDecrypter.prototype.decrypt;

  before(async () => {
    provider = await startProvider();
    demo = await import('../../flows/demo/provider.mjs');
    decryptionKey = JSON.stringify(provider.tokenEncryptionKey);
    otherKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    JweDecrypter.prototype.decrypt = function countingDecrypt(...args) {
      decryptions += 1;
      return originalDecrypt.apply(this, args);
    };
    await startNodeRed();
  });

  after(async () => {
    JweDecrypter.prototype.decrypt = originalDecrypt;
    await helper.stopServer();
    await provider.close();
  });

  const encryptedToken = async (username = 'alice') => (await tokenResponse(provider, {
    grant_type: 'password', username, password: `${username}-password`, scope: 'orders:read', resource: demo.ENCRYPTED_AUDIENCE,
  })).access_token;

  /** The next message a validate-token node sends on its second output. */
  function nextRejection(nodeId) {
    const node = helper.getNode(nodeId);
    return new Promise((resolve) => {
      const listener = (call) => {
        const [, rejected] = call.args[0];
        if (!rejected) return;
        node.removeListener('call:send', listener);
        resolve(rejected);
      };
      node.on('call:send', listener);
    });
  }

  /** A refusal: 401 invalid_token with an RFC 6750 challenge, and msg.authError.code. */
  async function refused(route, token, code) {
    const rejection = nextRejection(`vt-${route}`);
    const response = await get(route, token);
    assert.equal(response.status, 401, response.text);
    assert.match(response.headers['www-authenticate'], /^Bearer realm="node-red", error="invalid_token", error_description="[^"]+"$/);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.deepEqual((await rejection).authError, { code });
    return response;
  }

  describe('with the API\'s decryption key deployed', () => {
    let jwe;

    before(async () => {
      await loadFlow(encryptedFlow({ issuer: provider.issuer, audience: demo.ENCRYPTED_AUDIENCE }), {
        'idp-encrypted': { decryptionKey },
        'idp-other-key': { decryptionKey: otherKey },
        // As PEM: the provider's JWK names its alg (RSA-OAEP-256), which RSA-OAEP alone would leave without a use.
        'idp-narrow': { decryptionKey: crypto.createPrivateKey({ key: provider.tokenEncryptionKey, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }) },
      });
      await Promise.all(Object.keys(ROUTES).map((name) => waitForStatus(helper.getNode(`vt-${name}`), (status) => status.fill !== 'yellow')));
      jwe = await encryptedToken('alice');
    });

    after(() => helper.unload());

    it('the provider issues a nested JWT: five parts, RSA-OAEP-256 / A256GCM, cty at+jwt, the key pair\'s kid', () => {
      assert.equal(jwe.split('.').length, 5);
      const header = headerOf(jwe);
      assert.deepEqual([header.alg, header.enc, header.cty, header.kid], ['RSA-OAEP-256', 'A256GCM', 'at+jwt', provider.tokenEncryptionKey.kid]);
      assert.equal(header.aud, demo.ENCRYPTED_AUDIENCE);
    });

    it("alice's encrypted token: 200 with msg.auth from the nested JWT's claims; the token never comes back", async () => {
      const response = await get('encrypted', jwe);
      assert.equal(response.status, 200, response.text);
      const auth = response.body;
      assert.deepEqual([auth.subject, auth.issuer, auth.audience, auth.scopes], ['alice', provider.issuer, [demo.ENCRYPTED_AUDIENCE], ['orders:read']]);
      assert.deepEqual(auth.roles, ['orders-reader']);
      assert.ok(!response.text.includes(jwe.split('.')[3]), 'no part of the token in msg.auth');
      assert.equal(statusesOf(helper.getNode('vt-encrypted')).at(-1).fill, 'green');
    });

    it('a repeated JWE is decrypted once: later requests are served from the verified-token cache', async () => {
      const fresh = await encryptedToken('alice');
      const before = decryptions;
      for (let i = 0; i < 3; i += 1) assert.equal((await get('encrypted', fresh)).status, 200);
      assert.equal(decryptions - before, 1);
    });

    it("bob's encrypted token lacks orders:read: 403 insufficient_scope (the route's rules apply)", async () => {
      const response = await get('encrypted', await encryptedToken('bob'));
      assert.equal(response.status, 403, response.text);
      assert.match(response.headers['www-authenticate'], /error="insufficient_scope".*scope="orders:read"$/);
    });

    it('no decryption key in the identity-config: 401 ERR_TOKEN_ENCRYPTED', async () => {
      await refused('no-key', jwe, 'ERR_TOKEN_ENCRYPTED');
    });

    it('another key, or an altered tag or ciphertext: 401 ERR_TOKEN_DECRYPTION, the same description for each', async () => {
      const parts = jwe.split('.');
      const flip = (index) => {
        const bytes = Buffer.from(parts[index], 'base64url');
        bytes[0] ^= 0x80;
        return parts.map((part, i) => (i === index ? bytes.toString('base64url') : part)).join('.');
      };
      const descriptions = new Set();
      descriptions.add((await refused('other-key', jwe, 'ERR_TOKEN_DECRYPTION')).body.error_description);
      descriptions.add((await refused('encrypted', flip(4), 'ERR_TOKEN_DECRYPTION')).body.error_description);
      descriptions.add((await refused('encrypted', flip(3), 'ERR_TOKEN_DECRYPTION')).body.error_description);
      assert.equal(descriptions.size, 1, [...descriptions].join(' | '));
    });

    it('an identity-config that allows only RSA-OAEP: 401 ERR_TOKEN_ENC_ALG_NOT_ALLOWED', async () => {
      await refused('narrow', jwe, 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
    });

    it("the JWT API's signed token at the encrypted API: accepted as a JWT would be, up to its audience (401 ERR_TOKEN_AUDIENCE)", async () => {
      await refused('encrypted', await passwordToken(provider, 'alice'), 'ERR_TOKEN_AUDIENCE');
    });

    it('neither a token nor the key shows in a status or the log', () => {
      const shown = JSON.stringify([Object.keys(ROUTES).map((name) => statusesOf(helper.getNode(`vt-${name}`))), helper.log().args]);
      for (const secret of [jwe.split('.')[3], provider.tokenEncryptionKey.d.slice(0, 24), otherKey.split('\n')[1]]) {
        assert.ok(!shown.includes(secret));
      }
      assert.deepEqual(logged('ERROR').filter((entry) => ['validate-token', 'identity-config'].includes(entry.type)), []);
    });
  });

  describe('deploy-time checks', () => {
    afterEach(() => helper.unload());

    const deployOne = async (options, credentials) => {
      const flow = encryptedFlow({ issuer: provider.issuer, audience: demo.ENCRYPTED_AUDIENCE })
        .filter((node) => !/-(no-key|other-key|narrow)$/.test(node.id));
      Object.assign(flow.find((node) => node.id === 'idp-encrypted'), options);
      await loadFlow(flow, { 'idp-encrypted': credentials });
      return waitForStatus(helper.getNode('vt-encrypted'), (status) => status.fill === 'red');
    };

    it('a decryption key that cannot decrypt: ERR_CONFIG_DECRYPTION_KEY_INVALID logged, requests 503, the key never shown', async () => {
      const ed25519 = crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
      const status = await deployOne({}, { decryptionKey: ed25519 });
      assert.equal(status.text, 'ERR_CONFIG_DECRYPTION_KEY_INVALID');
      const errors = logged('ERROR').filter((entry) => entry.type === 'identity-config').map((entry) => String(entry.msg));
      assert.equal(errors.length, 1);
      assert.match(errors[0], /ERR_CONFIG_DECRYPTION_KEY_INVALID/);
      const response = await get('encrypted', await encryptedToken('alice'));
      assert.equal(response.status, 503, response.text);
      assert.ok(!JSON.stringify(helper.log().args).includes(ed25519.split('\n')[1]), 'the key is never logged');
    });

    it('RSA1_5 in JWE algorithms: ERR_CONFIG_INVALID naming jweAlgorithms', async () => {
      const status = await deployOne({ jweAlgorithms: 'RSA-OAEP-256 RSA1_5' }, { decryptionKey });
      assert.equal(status.text, 'ERR_CONFIG_INVALID');
      const errors = logged('ERROR').filter((entry) => entry.type === 'identity-config').map((entry) => String(entry.msg));
      assert.match(errors.join('\n'), /jweAlgorithms/);
    });
  });
});
