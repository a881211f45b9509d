'use strict';
/**
 * Step-up authentication (RFC 9470) and the resource_metadata attribute (RFC 9728 §5.1) through a
 * real `http in` → validate-token → `http response`, with tokens the demo provider issues and tokens
 * signed by its key with chosen acr and auth_time claims.
 */
const assert = require('node:assert/strict');
const { useDemoProviderAndNodeRed } = require('../support/suites');
const { helper, loadFlow, request, waitForStatus } = require('../support/node-red');
const { passwordToken, providerSigned } = require('../support/demo');

const at = { x: 100, y: 100 };
const MFA = 'urn:example:mfa';
const METADATA = 'http://127.0.0.1:1880/.well-known/oauth-protected-resource';
const REALM = 'reports';

/** Two routes on one identity-config: /api/reports with the step-up rules, /api/plain without. */
function stepUpFlow({ issuer, audience, acr = MFA, maxAge = '300', scope = 'orders:read', resourceMetadata = METADATA, identity = {} }) {
  return [
    { id: 'tab', type: 'tab', label: 'step-up' },
    { id: 'idp', type: 'identity-config', name: 'demo', issuer, audience, clientId: 'demo-client', realm: REALM, backoffMinMs: '0', ...identity },
    { id: 'in', type: 'http in', z: 'tab', url: '/api/reports', method: 'get', upload: false, ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope, roles: '', acr, maxAge, resourceMetadata, ...at, wires: [['ok'], ['out']] },
    { id: 'in2', type: 'http in', z: 'tab', url: '/api/plain', method: 'get', upload: false, ...at, wires: [['plain']] },
    { id: 'plain', type: 'validate-token', z: 'tab', identity: 'idp', scope, roles: '', ...at, wires: [['ok'], ['out']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const get = (token, path = '/api/reports') => request(path, { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });
const now = () => Math.floor(Date.now() / 1000);

/** The exact step-up challenge (RFC 9470 §3) with the route's requirements and resource_metadata. */
function assertStepUp(response, requirements = `, acr_values="${MFA}", max_age="300"`) {
  assert.equal(response.status, 401, response.text);
  const description = response.body.error_description;
  assert.equal(typeof description, 'string');
  assert.equal(response.headers['www-authenticate'],
    `Bearer realm="${REALM}", error="insufficient_user_authentication", error_description="${description}"${requirements}, resource_metadata="${METADATA}"`);
  assert.deepEqual(response.body, { error: 'insufficient_user_authentication', error_description: description });
  assert.equal(response.headers['cache-control'], 'no-store');
}

describe('validate-token: step-up (RFC 9470) and resource_metadata (RFC 9728) through http in / http response', function () {
  this.timeout(20000);
  let provider;

  useDemoProviderAndNodeRed((started) => { provider = started; });

  const deploy = (options = {}) => loadFlow(stepUpFlow({ issuer: provider.issuer, audience: provider.audience, ...options }));
  /** The error code of the next message validate-token `vt` sends on its second output. */
  const nextCode = () => new Promise((resolve) => {
    const vt = helper.getNode('vt');
    const onSend = (call) => {
      const [, rejected] = call.args[0];
      if (!rejected) return;
      vt.removeListener('call:send', onSend);
      resolve(rejected.authError.code);
    };
    vt.on('call:send', onSend);
  });
  const signed = (claims) => providerSigned(provider, claims);

  describe('lets through a token whose login meets the rules', () => {
    it('acr one of Auth level and auth_time within Max auth age: 200 with the claims in msg.auth', async () => {
      await deploy({ acr: `phrh ${MFA}` });
      const authTime = now() - 120;
      const response = await get(await signed({ acr: MFA, auth_time: authTime }));
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.subject, 'alice');
      assert.equal(response.body.claims.acr, MFA);
      assert.equal(response.body.claims.auth_time, authTime);
    });

    it("auth_time older than Max auth age but within the identity-config's clock tolerance", async () => {
      await deploy({ acr: '' });
      assert.equal((await get(await signed({ auth_time: now() - 320 }))).status, 200);
    });

    it('no step-up rule: a token without acr and auth_time passes as before', async () => {
      await deploy({ acr: '', maxAge: '' });
      assert.equal((await get(await signed({}))).status, 200);
    });
  });

  describe('refuses with 401 insufficient_user_authentication, acr_values, max_age and resource_metadata', () => {
    const cases = {
      'no acr': ['ERR_AUTH_LEVEL_INSUFFICIENT', () => ({ auth_time: now() })],
      'another acr': ['ERR_AUTH_LEVEL_INSUFFICIENT', () => ({ acr: 'pwd', auth_time: now() })],
      'the right acr, but a login an hour ago': ['ERR_AUTH_TOO_OLD', () => ({ acr: MFA, auth_time: now() - 3600 })],
      'the right acr, but no auth_time': ['ERR_AUTH_TOO_OLD', () => ({ acr: MFA })],
    };
    for (const [name, [code, claims]] of Object.entries(cases)) {
      it(`${name}: ${code}, both requirements in the challenge`, async () => {
        await deploy();
        const refused = nextCode();
        assertStepUp(await get(await signed(claims())));
        assert.equal(await refused, code);
        const status = await waitForStatus(helper.getNode('vt'), (shown) => shown.text?.includes(code));
        assert.equal(status.fill, 'yellow');
        assert.match(status.text, /401/);
      });
    }

    it('only the rules that are set: acr_values alone, max_age alone', async () => {
      await deploy({ maxAge: '' });
      assertStepUp(await get(await signed({})), `, acr_values="${MFA}"`);
      await helper.unload();
      await deploy({ acr: '', maxAge: '60' });
      assertStepUp(await get(await signed({ auth_time: now() - 3600 })), ', max_age="60"');
    });

    it("a login beyond Max auth age with the identity-config's clock tolerance set to 0", async () => {
      await deploy({ acr: '', identity: { clockToleranceSec: '0' } });
      assertStepUp(await get(await signed({ auth_time: now() - 320 })), ', max_age="300"');
    });

    it("the demo provider's own token (password grant: neither acr nor auth_time), as the sample flow shows", async () => {
      await deploy();
      const refused = nextCode();
      assertStepUp(await get(await passwordToken(provider, 'alice')));
      assert.equal(await refused, 'ERR_AUTH_LEVEL_INSUFFICIENT');
    });

    it('a token verified and cached by another route is still checked against the rules on every request', async () => {
      await deploy();
      const token = await signed({ acr: 'pwd', auth_time: now() });
      assert.equal((await get(token, '/api/plain')).status, 200);
      assertStepUp(await get(token));
    });
  });

  describe('the order of the checks: validity, then scope (403), then step-up', () => {
    it('an expired token that also fails step-up: 401 invalid_token, not a step-up challenge', async () => {
      await deploy();
      const response = await get(await signed({ exp: now() - 3600 }));
      assert.equal(response.status, 401);
      assert.match(response.headers['www-authenticate'], /^Bearer realm="reports", error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+"$/);
    });

    it('a token lacking the scope and the acr: 403 insufficient_scope, since logging in again would not add the scope', async () => {
      await deploy();
      const refused = nextCode();
      const response = await get(await signed({ scope: 'profile' }));
      assert.equal(response.status, 403, response.text);
      assert.equal(response.headers['www-authenticate'],
        `Bearer realm="${REALM}", error="insufficient_scope", error_description="${response.body.error_description}", scope="orders:read", resource_metadata="${METADATA}"`);
      assert.equal(await refused, 'ERR_SCOPE_INSUFFICIENT');
    });
  });

  describe('resource_metadata in every challenge (RFC 9728 §5.1)', () => {
    it('no token: the bare 401 challenge names the metadata', async () => {
      await deploy();
      const response = await get(undefined);
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], `Bearer realm="${REALM}", resource_metadata="${METADATA}"`);
    });

    it('without Resource metadata, no resource_metadata attribute', async () => {
      await deploy({ resourceMetadata: '' });
      assert.equal((await get(undefined)).headers['www-authenticate'], `Bearer realm="${REALM}"`);
      const response = await get(await signed({}));
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'],
        `Bearer realm="${REALM}", error="insufficient_user_authentication", error_description="${response.body.error_description}", acr_values="${MFA}", max_age="300"`);
    });
  });

  describe('invalid options: 503 at every request, with the code', () => {
    const cases = {
      'an acr value with a quote': [{ acr: 'say"mfa"' }, 'ERR_CONFIG_INVALID'],
      'a negative max age': [{ maxAge: '-5' }, 'ERR_CONFIG_INVALID'],
      'a metadata URL that is no URL': [{ resourceMetadata: '/.well-known/oauth-protected-resource' }, 'ERR_CONFIG_INVALID'],
      'a metadata URL over plain http to another host': [{ resourceMetadata: 'http://api.example.com/.well-known/oauth-protected-resource' }, 'ERR_CONFIG_INSECURE_HTTP'],
    };
    for (const [name, [options, code]] of Object.entries(cases)) {
      it(`${name}: ${code}`, async () => {
        await deploy(options);
        const status = await waitForStatus(helper.getNode('vt'), (shown) => shown.fill === 'red');
        assert.equal(status.text, code);
        const refused = nextCode();
        const response = await get(await signed({ acr: MFA, auth_time: now() }));
        assert.equal(response.status, 503);
        assert.equal(response.headers['retry-after'], '60');
        assert.equal(response.headers['www-authenticate'], undefined);
        assert.equal(await refused, code);
      });
    }
  });
});
