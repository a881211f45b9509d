'use strict';
/**
 * validate-token behind a real `http in`, answering through a real `http response`, against the
 * demo provider (oidc-provider) on 127.0.0.1. Each rejection class is asserted with its exact
 * status and RFC 6750 challenge.
 */
const assert = require('node:assert/strict');
const { useDemoProviderAndNodeRed } = require('../support/suites');
const { text, helper, loadFlow, request, statusesOf, waitForStatus, logged } = require('../support/node-red');
const { passwordToken, providerSigned, tokenResponse } = require('../support/demo');

const at = { x: 100, y: 100 };

function protectedFlow({ issuer, audience, scope = 'orders:read', roles = '', identity = {}, wired = true }) {
  return [
    { id: 'tab', type: 'tab', label: 'protected API' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', backoffMinMs: '0', ...identity },
    { id: 'in', type: 'http in', z: 'tab', name: '', url: '/api/orders', method: 'get', upload: false, ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope, roles, ...at, wires: wired ? [['ok'], ['out']] : [['ok']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const get = (authorization, path = '/api/orders') => request(path, { headers: authorization === undefined ? {} : { Authorization: authorization } });

function assertChallenge(response, status, error, extra = '') {
  assert.equal(response.status, status, response.text);
  const challenge = response.headers['www-authenticate'];
  if (error === undefined) {
    assert.equal(challenge, 'Bearer realm="node-red"');
  } else {
    assert.match(challenge, new RegExp(`^Bearer realm="node-red", error="${error}", error_description="[^"]+"${extra}$`));
    assert.equal(response.body.error, error);
  }
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.equal(typeof response.body.error_description, 'string');
}

describe('validate-token through http in / http response', function () {
  this.timeout(20000);
  let provider;
  let alice;
  let bob;

  useDemoProviderAndNodeRed((started) => { provider = started; });
  before(async () => {
    alice = await passwordToken(provider, 'alice');
    bob = await passwordToken(provider, 'bob');
  });

  const deploy = (options = {}) => loadFlow(protectedFlow({ issuer: provider.issuer, audience: provider.audience, ...options }));
  /** The next message validate-token sends on its second output. */
  const nextRejection = () => new Promise((resolve) => {
    const vt = helper.getNode('vt');
    const onSend = (call) => {
      const [, rejected] = call.args[0];
      if (!rejected) return;
      vt.removeListener('call:send', onSend);
      resolve(rejected);
    };
    vt.on('call:send', onSend);
  });

  describe('accepts', () => {
    it("alice's token from the provider's password grant: 200 with msg.auth, never the raw token", async () => {
      await deploy();
      const response = await get(`Bearer ${alice}`);
      assert.equal(response.status, 200, response.text);
      const auth = response.body;
      assert.equal(auth.subject, 'alice');
      assert.equal(auth.clientId, 'demo-client');
      assert.ok(auth.scopes.includes('orders:read'));
      assert.deepEqual(auth.roles, ['orders-reader']);
      assert.equal(auth.issuer, provider.issuer);
      assert.deepEqual(auth.audience, [provider.audience]);
      assert.ok(Date.parse(auth.expiresAt) > Date.now());
      assert.equal(auth.claims.sub, 'alice');
      assert.ok(!response.text.includes(alice.split('.')[2]), 'the token signature never leaves in msg.auth');
    });

    it('a client_credentials token in strict RFC 9068 mode', async () => {
      await deploy({ identity: { rfc9068: true } });
      const { access_token: token } = await tokenResponse(provider, { grant_type: 'client_credentials', scope: 'orders:read' });
      const response = await get(`Bearer ${token}`);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.clientId, 'demo-client');
    });

    it('a role rule: any one listed role suffices', async () => {
      await deploy({ scope: '', roles: 'admin orders-reader' });
      assert.equal((await get(`Bearer ${alice}`)).status, 200);
    });

    it('the scheme in any case', async () => {
      await deploy();
      assert.equal((await get(`bEaReR ${alice}`)).status, 200);
    });
  });

  describe('no credentials: 401 with a bare challenge (RFC 6750 §3.1)', () => {
    beforeEach(() => deploy());

    it('no Authorization header', async () => {
      const response = await get(undefined);
      assertChallenge(response, 401);
      assert.deepEqual(response.body, { error: 'unauthorized', error_description: 'a bearer access token is required' });
    });

    it('another scheme (Basic)', async () => {
      assertChallenge(await get('Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ='), 401);
    });
  });

  describe('malformed request: 400 invalid_request (RFC 6750 §3.1)', () => {
    beforeEach(() => deploy());

    it('"Bearer" with no token', async () => {
      assertChallenge(await get('Bearer'), 400, 'invalid_request');
    });

    it('two tokens in one header', async () => {
      assertChallenge(await get(`Bearer ${alice} ${alice}`), 400, 'invalid_request');
    });

    it('two Authorization headers (read from req.rawHeaders)', async () => {
      const response = await request('/api/orders', { headers: [['Authorization', `Bearer ${alice}`], ['Authorization', `Bearer ${bob}`]] });
      assertChallenge(response, 400, 'invalid_request');
    });

    it('token in the header and in the query', async () => {
      assertChallenge(await get(`Bearer ${alice}`, `/api/orders?access_token=${alice}`), 400, 'invalid_request');
    });

    it('token in the URL query only (RFC 9700 §2.4.2)', async () => {
      assertChallenge(await get(undefined, `/api/orders?access_token=${alice}`), 400, 'invalid_request');
    });
  });

  describe('bad token: 401 invalid_token (RFC 6750 §3.1)', () => {
    beforeEach(() => deploy());

    const now = () => Math.floor(Date.now() / 1000);
    const cases = {
      'expired (beyond the 30 s tolerance)': ['ERR_TOKEN_EXPIRED', () => providerSigned(provider, { exp: now() - 60 })],
      'not yet valid': ['ERR_TOKEN_NOT_YET_VALID', () => providerSigned(provider, { nbf: now() + 120 })],
      'another audience': ['ERR_TOKEN_AUDIENCE', () => providerSigned(provider, { aud: 'account' })],
      'another issuer': ['ERR_TOKEN_ISSUER', () => providerSigned(provider, { iss: 'http://127.0.0.1:1/evil' })],
      'no exp': ['ERR_TOKEN_CLAIM_INVALID', () => providerSigned(provider, { exp: undefined })],
      'alg none': ['ERR_TOKEN_ALG_NOT_ALLOWED', async () => {
        const [, payload] = (await providerSigned(provider, {})).split('.');
        return `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${payload}.`;
      }],
      'a tampered payload': ['ERR_TOKEN_SIGNATURE', async () => {
        const [header, , signature] = alice.split('.');
        const claims = JSON.parse(Buffer.from(alice.split('.')[1], 'base64url'));
        claims.sub = 'mallory';
        return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
      }],
      'a jku header pointing elsewhere': ['ERR_TOKEN_HEADER_KEY', () => providerSigned(provider, {}, { jku: 'http://127.0.0.1:1/jwks' })],
      'an unknown kid': ['ERR_TOKEN_KEY_UNKNOWN', () => providerSigned(provider, {}, { kid: 'not-a-provider-key' })],
      'not a JWT': ['ERR_TOKEN_MALFORMED', async () => 'opaque-token-value'],
      'a JWE': ['ERR_TOKEN_ENCRYPTED', async () => 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'],
    };
    for (const [name, [code, make]] of Object.entries(cases)) {
      it(`${name}: ${code}`, async () => {
        const token = await make();
        const rejected = nextRejection();
        const response = await get(`Bearer ${token}`);
        assertChallenge(response, 401, 'invalid_token');
        assert.equal((await rejected).authError.code, code);
      });
    }

    it('a token without typ at+jwt, in strict RFC 9068 mode', async () => {
      await helper.unload();
      await deploy({ identity: { rfc9068: true } });
      assertChallenge(await get(`Bearer ${await providerSigned(provider, {}, { typ: 'JWT' })}`), 401, 'invalid_token');
    });
  });

  describe('insufficient scope or role: 403 insufficient_scope (RFC 6750 §3.1)', () => {
    it("bob's token lacks orders:read: 403 with scope=\"orders:read\"", async () => {
      await deploy();
      const response = await get(`Bearer ${bob}`);
      assertChallenge(response, 403, 'insufficient_scope', ', scope="orders:read"');
    });

    it('alice lacks a second required scope', async () => {
      await deploy({ scope: 'orders:read orders:write' });
      assertChallenge(await get(`Bearer ${alice}`), 403, 'insufficient_scope', ', scope="orders:read orders:write"');
    });

    it('a role rule that alice does not meet', async () => {
      await deploy({ scope: '', roles: 'admin' });
      assertChallenge(await get(`Bearer ${alice}`), 403, 'insufficient_scope');
    });
  });

  describe('output 2 carries the contract and msg.authError', () => {
    it('statusCode, headers, payload and authError.code on the rejected message; msg.auth holds only the decision', async () => {
      await deploy();
      const vt = helper.getNode('vt');
      const sent = new Promise((resolve) => vt.on('call:send', (call) => resolve(call.args[0])));
      await get(`Bearer ${bob}`);
      const [first, second] = await sent;
      assert.equal(first, null);
      assert.equal(second.statusCode, 403);
      assert.deepEqual(second.authError, { code: 'ERR_SCOPE_INSUFFICIENT' });
      assert.equal(second.payload.error, 'insufficient_scope');
      assert.deepEqual(second.auth, {
        decision: {
          result: 'rejected', via: 'jwt', code: 'ERR_SCOPE_INSUFFICIENT',
          steps: [...['credentials', 'format', 'algorithm', 'key', 'signature', 'issuer', 'audience', 'lifetime', 'claims'].map((check) => ({ check, result: 'pass' })),
            { check: 'scope', result: 'fail', code: 'ERR_SCOPE_INSUFFICIENT' }],
        },
      }, 'no subject, claims or scopes of a refused token, only the checks made');
      assert.ok(second.headers['WWW-Authenticate'].startsWith('Bearer realm="node-red"'));
      const status = statusesOf(vt).at(-1);
      assert.equal(status.fill, 'yellow');
      assert.ok(status.text.includes('ERR_SCOPE_INSUFFICIENT'));
    });

    it('a message without msg.req goes to the Catch node with ERR_REQUEST_MISSING', async () => {
      const flow = protectedFlow({ issuer: provider.issuer, audience: provider.audience });
      flow.push({ id: 'catch', type: 'catch', z: 'tab', scope: null, uncaught: false, ...at, wires: [['caught']] });
      flow.push({ id: 'caught', type: 'helper', z: 'tab', ...at, wires: [] });
      await loadFlow(flow);
      const caught = new Promise((resolve) => helper.getNode('caught').on('input', resolve));
      helper.getNode('vt').receive({ payload: 'not from http in' });
      const msg = await caught;
      assert.equal(msg.error.code, 'ERR_REQUEST_MISSING');
      assert.equal(msg.error.source.id, 'vt');
    });

    it('warns at deploy when the second output is not wired', async () => {
      await deploy({ wired: false });
      const warning = text('validate-token', 'validate-token.warnings.rejectionsNotWired');
      assert.notEqual(warning, 'validate-token.warnings.rejectionsNotWired', 'the catalog has the text');
      assert.ok(logged('WARN').some((entry) => entry.id === 'vt' && entry.msg === warning));
    });
  });

  describe('no request, however malformed, yields a 5xx', () => {
    it('a batch of hostile Authorization headers all get 400 or 401', async () => {
      await deploy();
      const [h, p] = alice.split('.');
      const hostile = [
        'Bearer ', 'Bearer \tabc', `Bearer ${'A'.repeat(15000)}`, 'Bearer ....', 'Bearer a.b.c', `Bearer ${h}..`, `Bearer ${h}.${p}`,
        `Bearer ${Buffer.from('{"alg":"RS256","kid":{"$ne":1}}').toString('base64url')}.${p}.c2ln`,
        `Bearer ${Buffer.from('{"alg":"RS256","kid":"../../etc/passwd"}').toString('base64url')}.${p}.c2ln`,
        `Bearer ${Buffer.from('{"alg":"RS256","kid":"__proto__"}').toString('base64url')}.${p}.c2ln`,
        `Bearer ${Buffer.from('{"alg":"RS256","__proto__":{"kid":"x"}}').toString('base64url')}.${p}.c2ln`,
        `Bearer ${Buffer.from('\xff\xfe').toString('base64url')}.${p}.c2ln`,
        `Bearer ${Buffer.from('{"alg":"PS256","kid":"x"}').toString('base64url')}.${Buffer.from('[]').toString('base64url')}.c2ln`,
        'Bearer ' + 'a.'.repeat(2000) + 'a', 'Digest username="x"', 'Bearer=abc', ',,,', 'Bearer %%%',
      ];
      for (const header of hostile) {
        const response = await get(header);
        assert.ok([400, 401].includes(response.status), `${JSON.stringify(header.slice(0, 60))} -> ${response.status}`);
      }
    });
  });
});
