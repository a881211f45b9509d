'use strict';
/** Options are validated once, at deploy time, with a code naming the problem. */
const assert = require('node:assert/strict');
const { Identity, parseAccessRules, IDENTITY_DEFAULTS } = require('../../dist/core/identity');
const { throwsWithCode } = require('../support/assert');
const t = require('../support/keys');

const build = (options) => new Identity({ http: t.fakeHttp({}), ...options });

describe('core: identity options', () => {
  it('applies documented defaults', () => {
    const { settings } = build({ issuer: t.ISSUER });
    assert.equal(settings.clockToleranceSec, 30);
    assert.equal(settings.timeoutMs, 5000);
    assert.equal(settings.maxResponseBytes, 1024 * 1024);
    assert.equal(settings.maxTokenLength, 16384);
    assert.equal(settings.realm, IDENTITY_DEFAULTS.realm);
    assert.equal(settings.rfc9068, false);
    assert.deepEqual(settings.audiences, []);
  });

  it('reads audiences from a space-separated string or a list', () => {
    assert.deepEqual(build({ issuer: t.ISSUER, audience: ' a  b ' }).settings.audiences, ['a', 'b']);
    assert.deepEqual(build({ issuer: t.ISSUER, audience: ['a', ' ', 'b'] }).settings.audiences, ['a', 'b']);
  });

  it('a missing issuer: ERR_CONFIG_ISSUER_MISSING', () => {
    throwsWithCode(() => build({ issuer: '' }), 'ERR_CONFIG_ISSUER_MISSING');
    throwsWithCode(() => build({ issuer: '   ' }), 'ERR_CONFIG_ISSUER_MISSING');
    throwsWithCode(() => build({}), 'ERR_CONFIG_ISSUER_MISSING');
  });

  it('an issuer that is not an https URL: ERR_CONFIG_ISSUER_INVALID', () => {
    for (const issuer of ['not a url', 'ftp://idp.test', 'https://user:pw@idp.test', 'https://idp.test/?realm=a', 'https://idp.test/#x']) {
      const error = throwsWithCode(() => build({ issuer }), 'ERR_CONFIG_ISSUER_INVALID');
      assert.equal(error.option, 'issuer');
    }
  });

  it('plain http to a non-loopback host: ERR_CONFIG_INSECURE_HTTP unless explicitly allowed', () => {
    throwsWithCode(() => build({ issuer: 'http://idp.example.test' }), 'ERR_CONFIG_INSECURE_HTTP');
    throwsWithCode(() => build({ issuer: 'http://10.0.0.5:8080/realms/a' }), 'ERR_CONFIG_INSECURE_HTTP');
    assert.equal(build({ issuer: 'http://idp.example.test', allowInsecureHttp: true }).settings.issuer, 'http://idp.example.test');
    for (const issuer of ['http://127.0.0.1:9000', 'http://localhost:8080/realms/a', 'http://[::1]:8080']) {
      assert.equal(build({ issuer }).settings.issuer, issuer);
    }
  });

  it('checks a jwksUri override the same way', () => {
    throwsWithCode(() => build({ issuer: t.ISSUER, jwksUri: 'http://keys.example.test' }), 'ERR_CONFIG_INSECURE_HTTP');
    assert.equal(throwsWithCode(() => build({ issuer: t.ISSUER, jwksUri: 'not a url' }), 'ERR_CONFIG_INVALID').option, 'jwksUri');
    throwsWithCode(() => build({ issuer: t.ISSUER, jwksUri: 'ftp://keys.example.test' }), 'ERR_CONFIG_INVALID');
    assert.equal(build({ issuer: t.ISSUER, jwksUri: t.JWKS_URI }).settings.jwksUri, t.JWKS_URI);
  });

  it('algorithms: only asymmetric ones; none and HS* are refused at deploy time', () => {
    assert.deepEqual([...build({ issuer: t.ISSUER, algorithms: 'RS256 ES256' }).settings.algorithms], ['RS256', 'ES256']);
    for (const algorithms of ['none', 'HS256', 'RS256 HS512', 'rs256']) {
      const error = throwsWithCode(() => build({ issuer: t.ISSUER, algorithms }), 'ERR_CONFIG_INVALID');
      assert.equal(error.option, 'algorithms');
    }
  });

  it('scopeClaims and roleClaims: claim paths, checked at deploy time', () => {
    const settings = build({ issuer: t.ISSUER, scopeClaims: 'scp', roleClaims: ' realm_access.roles  https://example.com/roles ' }).settings;
    assert.deepEqual([settings.scopeClaims, settings.roleClaims], [['scp'], ['realm_access.roles', 'https://example.com/roles']]);
    assert.deepEqual([...build({ issuer: t.ISSUER }).settings.roleClaims], [], 'empty: every known spelling');
    for (const roleClaims of ['realm_access..roles', '.roles', 'roles.', 'x'.repeat(257), Array.from({ length: 17 }, (_, i) => `c${i}`).join(' ')]) {
      assert.equal(throwsWithCode(() => build({ issuer: t.ISSUER, roleClaims }), 'ERR_CONFIG_INVALID').option, 'roleClaims');
    }
    assert.equal(throwsWithCode(() => build({ issuer: t.ISSUER, scopeClaims: 'a..b' }), 'ERR_CONFIG_INVALID').option, 'scopeClaims');
  });

  it('numbers out of range or not numbers: ERR_CONFIG_INVALID naming the option; blanks take the default', () => {
    for (const [option, value] of [['clockToleranceSec', -1], ['clockToleranceSec', 'soon'], ['timeoutMs', 0], ['maxTokenLength', 1e9], ['backoffMinMs', NaN]]) {
      const error = throwsWithCode(() => build({ issuer: t.ISSUER, [option]: value }), 'ERR_CONFIG_INVALID');
      assert.equal(error.option, option);
    }
    assert.equal(build({ issuer: t.ISSUER, timeoutMs: '' }).settings.timeoutMs, 5000);
    assert.equal(build({ issuer: t.ISSUER, timeoutMs: '  ' }).settings.timeoutMs, 5000);
    assert.equal(build({ issuer: t.ISSUER, timeoutMs: '2500' }).settings.timeoutMs, 2500);
  });

  it('close() aborts provider calls in flight', async () => {
    let seen;
    const http = { getJson: (url, signal) => { seen = signal; return new Promise(() => undefined); } };
    const identity = new Identity({ issuer: t.ISSUER, http });
    identity.warmUp().catch(() => undefined);
    await new Promise(setImmediate);
    identity.close();
    assert.equal(seen.aborted, true);
  });

  describe('options for obtaining tokens', () => {
    const crypto = require('node:crypto');
    const pem = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });

    it('authMethod defaults to client_secret_basic; an unknown one is ERR_CONFIG_INVALID', () => {
      assert.equal(build({ issuer: t.ISSUER }).settings.authMethod, 'client_secret_basic');
      assert.equal(throwsWithCode(() => build({ issuer: t.ISSUER, authMethod: 'client_secret_jwt' }), 'ERR_CONFIG_INVALID').option, 'authMethod');
    });

    it('endpoint overrides are checked like the issuer', () => {
      throwsWithCode(() => build({ issuer: t.ISSUER, tokenEndpoint: 'http://idp.example.test/token' }), 'ERR_CONFIG_INSECURE_HTTP');
      throwsWithCode(() => build({ issuer: t.ISSUER, authorizationEndpoint: 'nope' }), 'ERR_CONFIG_INVALID');
      assert.equal(build({ issuer: t.ISSUER, tokenEndpoint: `${t.ISSUER}/token` }).settings.tokenEndpoint, `${t.ISSUER}/token`);
    });

    it('what is missing to request tokens is told by assertCanRequestTokens, not at construction', () => {
      const cases = [
        [{}, 'ERR_CONFIG_CLIENT_MISSING', 'clientId'],
        [{ clientId: 'app' }, 'ERR_CONFIG_CLIENT_MISSING', 'clientSecret'],
        [{ clientId: 'app', authMethod: 'client_secret_post' }, 'ERR_CONFIG_CLIENT_MISSING', 'clientSecret'],
        [{ clientId: 'app', authMethod: 'private_key_jwt' }, 'ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey'],
        [{ clientId: 'app', authMethod: 'private_key_jwt', privateKey: 'garbage' }, 'ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey'],
      ];
      for (const [options, code, option] of cases) {
        const identity = build({ issuer: t.ISSUER, ...options });
        assert.equal(throwsWithCode(() => identity.assertCanRequestTokens(), code).option, option);
        throwsWithCode(() => identity.tokens, code);
      }
      for (const options of [
        { clientId: 'app', clientSecret: 's' },
        { clientId: 'app', authMethod: 'none' },
        { clientId: 'app', authMethod: 'private_key_jwt', privateKey: pem },
      ]) {
        build({ issuer: t.ISSUER, ...options }).assertCanRequestTokens();
      }
    });

    it('a bad private key does not keep the identity from validating tokens', () => {
      const identity = build({ issuer: t.ISSUER, audience: 'api', clientId: 'app', authMethod: 'private_key_jwt', privateKey: 'garbage' });
      identity.assertCanValidate();
    });
  });

  it('route rules: scope and roles space-separated; anything else is ERR_CONFIG_INVALID', () => {
    assert.deepEqual(parseAccessRules('orders:read  orders:write', ''), { scopes: ['orders:read', 'orders:write'], roles: [] });
    assert.deepEqual(parseAccessRules(undefined, 'admin reader'), { scopes: [], roles: ['admin', 'reader'] });
    throwsWithCode(() => parseAccessRules(['a'], ''), 'ERR_CONFIG_INVALID');
  });
});
