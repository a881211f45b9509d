'use strict';
/**
 * DPoP (RFC 9449) in validate-token, through a real `http in` and `http response`: DPoP-bound
 * access tokens from the demo provider (oidc-provider binds a client-credentials token to the key
 * of the proof sent to its token endpoint: `cnf.jkt`), proofs signed in the test, and each
 * refusal with its code, status and challenge (§7.1).
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const jose = require('jose');
const { useDemoProviderAndNodeRed } = require('../support/suites');
const { helper, loadFlow, request, statusesOf, logged } = require('../support/node-red');
const { CLIENT_SECRET, passwordToken } = require('../support/demo');

const at = { x: 100, y: 100 };
const PATH = '/api/dpop/orders';
const ALGS = 'algs="ES256 ES384 ES512 EdDSA Ed25519 PS256 PS384 PS512 RS256 RS384 RS512"';

function dpopFlow({ issuer, audience, dpop, publicUrl }) {
  return [
    { id: 'tab', type: 'tab', label: 'DPoP' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', backoffMinMs: '0' },
    { id: 'in', type: 'http in', z: 'tab', name: '', url: PATH, method: 'get', upload: false, ...at, wires: [['vt']] },
    {
      id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '',
      ...(dpop === undefined ? {} : { dpop, publicUrl }), ...at, wires: [['ok'], ['out']],
    },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

/** A client's DPoP key, and proofs signed with it; `claims` and `header` override the honest values (undefined drops one). */
async function dpopKey() {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  return {
    jwk, privateJwk: await jose.exportJWK(privateKey), jkt: await jose.calculateJwkThumbprint(jwk),
    proof({ htm = 'GET', htu, token, ...claims } = {}, header = {}) {
      const body = {
        htm, htu, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(),
        ath: token === undefined ? undefined : crypto.createHash('sha256').update(token).digest('base64url'), ...claims,
      };
      return new jose.SignJWT(defined(body)).setProtectedHeader(defined({ typ: 'dpop+jwt', alg: 'ES256', jwk, ...header })).sign(privateKey);
    },
  };
}

const defined = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

/** A client-credentials token from the demo provider, bound to `key` by the proof sent with the token request. */
async function dpopBoundToken(provider, key) {
  const { token_endpoint: endpoint } = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${provider.clientId}:${CLIENT_SECRET}`).toString('base64')}`,
      dpop: await key.proof({ htm: 'POST', htu: endpoint }),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read' }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.token_type, 'DPoP');
  return body.access_token;
}

describe('validate-token with DPoP (RFC 9449) through http in / http response', function () {
  this.timeout(20000);
  let provider;
  let client;
  let other;
  let bound;
  let alice;
  let publicUrl;

  useDemoProviderAndNodeRed((started) => { provider = started; });
  before(async () => {
    publicUrl = helper.url();
    client = await dpopKey();
    other = await dpopKey();
    bound = await dpopBoundToken(provider, client);
    alice = await passwordToken(provider, 'alice');
  });

  const deploy = (dpop = 'allowed', url = publicUrl) => loadFlow(dpopFlow({ issuer: provider.issuer, audience: provider.audience, dpop, publicUrl: url }));
  const honestProof = (claims = {}, header = {}) => client.proof({ htu: `${publicUrl}${PATH}`, token: bound, ...claims }, header);
  const get = (headers) => request(`${PATH}?page=1`, { headers });
  const withProof = async (proof, token = bound, extra = {}) => get({ Authorization: `DPoP ${token}`, DPoP: await proof, ...extra });
  /** The last message validate-token sent on its second output. */
  const lastRejection = () => helper._NodePrototype.send.getCalls()
    .filter((call) => call.thisValue === helper.getNode('vt') && call.args[0][1]).at(-1)?.args[0][1];

  function assertRefused(response, { status = 401, error, code, challenge }) {
    assert.equal(response.status, status, response.text);
    assert.equal(response.body.error, error);
    assert.match(response.headers['www-authenticate'], challenge);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.ok(statusesOf(helper.getNode('vt')).some((shown) => shown.text.startsWith(`rejected: ${status} ${code} (`)), JSON.stringify(statusesOf(helper.getNode('vt'))));
  }
  const proofError = /^Bearer realm="node-red", DPoP realm="node-red", algs="[^"]+", error="invalid_dpop_proof", error_description="[^"]+"$/;
  const tokenErrorOnDpop = /^Bearer realm="node-red", DPoP realm="node-red", algs="[^"]+", error="invalid_token", error_description="[^"]+"$/;

  describe('dpop allowed', () => {
    beforeEach(() => deploy('allowed'));

    it('the provider bound its token to the key of the proof at its token endpoint (cnf.jkt)', () => {
      assert.deepEqual(jose.decodeJwt(bound).cnf, { jkt: client.jkt });
    });

    it('a DPoP-bound token with a fresh proof: 200, msg.auth.confirmation names the key, never the token or proof', async () => {
      const proof = await honestProof();
      const response = await withProof(proof);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body.confirmation, { jkt: client.jkt });
      assert.equal(response.body.subject, 'demo-client');
      assert.ok(!response.text.includes(bound) && !response.text.includes(proof));
    });

    it('the same proof twice: 401 invalid_dpop_proof ERR_DPOP_PROOF_REPLAYED, msg.authError only the code, no secret logged', async () => {
      const proof = await honestProof();
      assert.equal((await withProof(proof)).status, 200);
      const response = await withProof(proof);
      assertRefused(response, { error: 'invalid_dpop_proof', code: 'ERR_DPOP_PROOF_REPLAYED', challenge: proofError });
      const rejected = lastRejection();
      assert.deepEqual(rejected.authError, { code: 'ERR_DPOP_PROOF_REPLAYED' });
      assert.deepEqual(Object.keys(rejected.auth), ['decision'], 'a rejected message carries only the decision');
      assert.deepEqual(rejected.auth.decision.steps.at(-1), { check: 'sender constraint', result: 'fail', code: 'ERR_DPOP_PROOF_REPLAYED' });
      const everything = JSON.stringify([logged('WARN'), logged('ERROR'), statusesOf(helper.getNode('vt'))]);
      assert.ok(!everything.includes(bound.split('.')[2]) && !everything.includes(proof.split('.')[2]), 'a token or proof was logged');
    });

    const refusals = {
      'a proof for POST (htm)': () => honestProof({ htm: 'POST' }),
      'a proof for another path (htu)': () => honestProof({ htu: `${publicUrl}/api/orders` }),
      'a proof issued an hour ago (iat)': () => honestProof({ iat: Math.floor(Date.now() / 1000) - 3600 }),
      'a proof for another access token (ath)': () => honestProof({ token: alice }),
      'a proof signed with alg none': async () => {
        const [header, payload] = (await honestProof()).split('.');
        const none = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header, 'base64url')), alg: 'none' })).toString('base64url');
        return `${none}.${payload}.`;
      },
      'a proof signed with HS256 (the public jwk as the secret)': () => new jose.SignJWT({
        htm: 'GET', htu: `${publicUrl}${PATH}`, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(),
        ath: crypto.createHash('sha256').update(bound).digest('base64url'),
      }).setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: client.jwk }).sign(new TextEncoder().encode(JSON.stringify(client.jwk))),
      'a proof whose jwk carries the private key': () => honestProof({}, { jwk: client.privateJwk }),
      'a proof of typ JWT': () => honestProof({}, { typ: 'JWT' }),
    };
    for (const [name, make] of Object.entries(refusals)) {
      it(`${name}: 401 invalid_dpop_proof ERR_DPOP_PROOF_INVALID`, async () => {
        assertRefused(await withProof(make()), { error: 'invalid_dpop_proof', code: 'ERR_DPOP_PROOF_INVALID', challenge: proofError });
      });
    }

    it('a forged Host and X-Forwarded-* never make htu: a proof for that host is refused, an honest one still passes', async () => {
      const forged = { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' };
      const toEvil = honestProof({ htu: `https://evil.example${PATH}` });
      assertRefused(await withProof(toEvil, bound, forged), { error: 'invalid_dpop_proof', code: 'ERR_DPOP_PROOF_INVALID', challenge: proofError });
      assert.equal((await withProof(honestProof(), bound, forged)).status, 200);
    });

    it('the DPoP scheme without a proof: 401 invalid_dpop_proof ERR_DPOP_PROOF_MISSING', async () => {
      assertRefused(await get({ Authorization: `DPoP ${bound}` }), { error: 'invalid_dpop_proof', code: 'ERR_DPOP_PROOF_MISSING', challenge: proofError });
    });

    it("a valid proof by another key than the token's: 401 invalid_token ERR_DPOP_BINDING on the DPoP challenge", async () => {
      const proof = other.proof({ htu: `${publicUrl}${PATH}`, token: bound });
      assertRefused(await withProof(proof), { error: 'invalid_token', code: 'ERR_DPOP_BINDING', challenge: tokenErrorOnDpop });
    });

    it('an unbound token with the DPoP scheme: 401 invalid_token ERR_DPOP_BINDING', async () => {
      const proof = client.proof({ htu: `${publicUrl}${PATH}`, token: alice });
      assertRefused(await withProof(proof, alice), { error: 'invalid_token', code: 'ERR_DPOP_BINDING', challenge: tokenErrorOnDpop });
    });

    it('the DPoP-bound token with the Bearer scheme (§7.1): 401 invalid_token ERR_TOKEN_DPOP_BOUND on the Bearer challenge', async () => {
      const response = await get({ Authorization: `Bearer ${bound}`, DPoP: await honestProof() });
      assertRefused(response, {
        error: 'invalid_token', code: 'ERR_TOKEN_DPOP_BOUND',
        challenge: new RegExp(`^Bearer realm="node-red", error="invalid_token", error_description="[^"]+", DPoP realm="node-red", ${ALGS}$`),
      });
    });

    it('an unbound bearer token is still accepted, without confirmation', async () => {
      const response = await get({ Authorization: `Bearer ${alice}` });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.subject, 'alice');
      assert.equal(response.body.confirmation, undefined);
    });

    it('no token: 401 with a bare Bearer and a bare DPoP challenge', async () => {
      const response = await get({});
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], `Bearer realm="node-red", DPoP realm="node-red", ${ALGS}`);
    });
  });

  describe('dpop required', () => {
    beforeEach(() => deploy('required'));

    it('a DPoP-bound token with a fresh proof: 200', async () => {
      const response = await withProof(honestProof());
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body.confirmation, { jkt: client.jkt });
    });

    it('a bearer token: 401 invalid_token ERR_DPOP_REQUIRED, with the DPoP challenge alone', async () => {
      assertRefused(await get({ Authorization: `Bearer ${alice}` }), {
        error: 'invalid_token', code: 'ERR_DPOP_REQUIRED',
        challenge: new RegExp(`^DPoP realm="node-red", ${ALGS}, error="invalid_token", error_description="[^"]+"$`),
      });
    });

    it('no token: 401 with the bare DPoP challenge', async () => {
      const response = await get({});
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], `DPoP realm="node-red", ${ALGS}`);
    });

    it('a replayed proof: ERR_DPOP_PROOF_REPLAYED on the DPoP challenge', async () => {
      const proof = await honestProof();
      assert.equal((await withProof(proof)).status, 200);
      assertRefused(await withProof(proof), {
        error: 'invalid_dpop_proof', code: 'ERR_DPOP_PROOF_REPLAYED',
        challenge: new RegExp(`^DPoP realm="node-red", ${ALGS}, error="invalid_dpop_proof", error_description="[^"]+"$`),
      });
    });
  });

  describe('dpop off (the default, and flows from before DPoP)', () => {
    beforeEach(() => loadFlow(dpopFlow({ issuer: provider.issuer, audience: provider.audience })));

    it('a DPoP-bound token with the Bearer scheme is refused even so (RFC 9449 §7.1): a stolen bound token is no bearer token', async () => {
      const response = await get({ Authorization: `Bearer ${bound}` });
      assert.equal(response.status, 401, response.text);
      assert.match(response.headers['www-authenticate'], /^Bearer realm="node-red", error="invalid_token"/);
      assert.equal(response.body.error, 'invalid_token');
    });

    it('the DPoP scheme: 401 ERR_BEARER_SCHEME with the bare Bearer challenge, DPoP not offered', async () => {
      const response = await withProof(honestProof());
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="node-red"');
      assert.ok(statusesOf(helper.getNode('vt')).some((shown) => shown.text.startsWith('rejected: 401 ERR_BEARER_SCHEME (')));
    });
  });

  describe('checked at deploy time', () => {
    for (const [name, url] of [['no publicUrl', ''], ['a publicUrl with a query', 'https://api.example.com/?x=1']]) {
      it(`dpop required with ${name}: red status ERR_CONFIG_INVALID, a logged error naming publicUrl, 503`, async () => {
        await deploy('required', url);
        assert.equal(statusesOf(helper.getNode('vt')).at(-1).text, 'ERR_CONFIG_INVALID');
        const error = logged('ERROR').find((entry) => entry.id === 'vt');
        assert.match(String(error?.msg), /^ERR_CONFIG_INVALID: .*publicUrl/);
        const response = await withProof(honestProof());
        assert.equal(response.status, 503);
        assert.equal(response.headers['retry-after'], '60');
      });
    }
  });
});
