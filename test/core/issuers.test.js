'use strict';
/**
 * Issuer templates over tenants (Microsoft Entra ID multi-tenant): the accepted iss values, the
 * deploy-time rules, and a real verification with locally signed tokens and a key set and metadata
 * served on 127.0.0.1.
 */
const assert = require('node:assert/strict');
const http = require('node:http');
const jose = require('jose');
const { issuerSet, TENANT_PLACEHOLDER } = require('../../dist/core/issuers');
const { Identity } = require('../../dist/core/identity');
const { rejectsWithCode } = require('../support/assert');

const A = '11111111-1111-1111-1111-111111111111';
const B = '22222222-2222-2222-2222-222222222222';
const C = '33333333-3333-3333-3333-333333333333';

describe('core: issuer templates over tenants', () => {
  it('an issuer without a template accepts itself, and takes no tenants', () => {
    assert.deepEqual(issuerSet('https://sso.example.com/realms/a', []), { accepted: ['https://sso.example.com/realms/a'], discovered: 'https://sso.example.com/realms/a' });
    assert.throws(() => issuerSet('https://sso.example.com/realms/a', [A]), { code: 'ERR_CONFIG_INVALID', option: 'tenants' });
  });

  it('a template accepts exactly the listed tenants, and is discovered at the first', () => {
    const set = issuerSet(`https://login.microsoftonline.com/${TENANT_PLACEHOLDER}/v2.0`, [A, B, A]);
    assert.deepEqual(set.accepted, [`https://login.microsoftonline.com/${A}/v2.0`, `https://login.microsoftonline.com/${B}/v2.0`]);
    assert.equal(set.discovered, `https://login.microsoftonline.com/${A}/v2.0`);
  });

  it('a template without tenants would accept every tenant of the provider: refused at deploy', () => {
    assert.throws(() => issuerSet(`https://login.microsoftonline.com/${TENANT_PLACEHOLDER}/v2.0`, []), { code: 'ERR_CONFIG_INVALID', option: 'tenants' });
    assert.throws(() => issuerSet(`https://x.example/${TENANT_PLACEHOLDER}/${TENANT_PLACEHOLDER}`, [A]), { code: 'ERR_CONFIG_ISSUER_INVALID' });
    for (const bad of ['a/b', '../x', 'a b', '-x', '%2f']) {
      assert.throws(() => issuerSet(`https://x.example/${TENANT_PLACEHOLDER}`, [bad]), { code: 'ERR_CONFIG_INVALID', option: 'tenants' }, bad);
    }
  });

  describe('validation with a template (tokens signed here, keys and metadata served on 127.0.0.1)', () => {
    let server;
    let base;
    let privateKey;
    let discoveries = 0;

    before(async () => {
      const pair = await jose.generateKeyPair('RS256', { extractable: true });
      privateKey = pair.privateKey;
      const jwk = { ...(await jose.exportJWK(pair.publicKey)), kid: 'common-1', use: 'sig' }; // Entra publishes no alg
      server = http.createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/common/discovery/v2.0/keys') return res.end(JSON.stringify({ keys: [jwk] }));
        const tenant = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(req.url)?.[1];
        if (tenant) {
          discoveries += 1;
          return res.end(JSON.stringify({ issuer: `${base}/${tenant}/v2.0`, jwks_uri: `${base}/common/discovery/v2.0/keys` }));
        }
        res.statusCode = 404;
        return res.end('{}');
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${server.address().port}`;
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    const token = (tenant, claims = {}) => new jose.SignJWT({
      iss: `${base}/${tenant}/v2.0`, aud: 'api-client-id', tid: tenant, scp: 'Orders.Read', sub: 'user', ...claims,
    }).setProtectedHeader({ alg: 'RS256', kid: 'common-1', typ: 'JWT' }).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const bearer = (jwt) => ({ headers: { authorization: `Bearer ${jwt}` } });
    const rules = { scopes: ['Orders.Read'], roles: [] };

    it('tokens of each listed tenant pass; another tenant is ERR_TOKEN_ISSUER; discovery reads the first tenant', async () => {
      const identity = new Identity({ issuer: `${base}/${TENANT_PLACEHOLDER}/v2.0`, tenants: `${A} ${B}`, audience: 'api-client-id', scopeClaims: 'scp' });
      try {
        assert.equal((await identity.authenticate(bearer(await token(A)), rules)).issuer, `${base}/${A}/v2.0`);
        assert.equal((await identity.authenticate(bearer(await token(B)), rules)).issuer, `${base}/${B}/v2.0`);
        await rejectsWithCode(identity.authenticate(bearer(await token(C)), rules), 'ERR_TOKEN_ISSUER');
        assert.equal(discoveries, 1);
        assert.equal(identity.acceptsIssuer(`${base}/${B}/v2.0`), true);
        assert.equal(identity.acceptsIssuer(`${base}/${TENANT_PLACEHOLDER}/v2.0`), false, 'the template itself is no issuer');
      } finally {
        identity.close();
      }
    });
  });
});
