'use strict';
/** RFC 6750 §3: the answer to each class of rejection, derived from the code alone. */
const assert = require('node:assert/strict');
const { rejectionFor } = require('../../dist/core/challenge');
const { ERROR_CODES, IdentityError, AccessDeniedError, ProviderUnavailableError, StepUpRequiredError } = require('../../dist/core/errors');

describe('core: challenges (RFC 6750 §3)', () => {
  it('no credentials: 401 with a bare challenge and no error attribute (§3.1)', () => {
    const answer = rejectionFor(new AccessDeniedError('ERR_BEARER_MISSING', 'a bearer access token is required'), 'orders');
    assert.equal(answer.statusCode, 401);
    assert.equal(answer.headers['WWW-Authenticate'], 'Bearer realm="orders"');
    assert.equal(answer.headers['Cache-Control'], 'no-store');
    assert.equal(answer.code, 'ERR_BEARER_MISSING');
  });

  it('malformed request: 400 invalid_request', () => {
    const answer = rejectionFor(new AccessDeniedError('ERR_BEARER_MULTIPLE', 'two methods'), 'r');
    assert.equal(answer.statusCode, 400);
    assert.equal(answer.headers['WWW-Authenticate'], 'Bearer realm="r", error="invalid_request", error_description="two methods"');
    assert.deepEqual(answer.payload, { error: 'invalid_request', error_description: 'two methods' });
  });

  it('bad token: 401 invalid_token', () => {
    const answer = rejectionFor(new AccessDeniedError('ERR_TOKEN_EXPIRED', 'the access token has expired'), 'r');
    assert.equal(answer.statusCode, 401);
    assert.equal(answer.headers['WWW-Authenticate'], 'Bearer realm="r", error="invalid_token", error_description="the access token has expired"');
  });

  it('missing scope: 403 insufficient_scope with the scope attribute', () => {
    const answer = rejectionFor(new AccessDeniedError('ERR_SCOPE_INSUFFICIENT', 'lacks orders:write', 'orders:read orders:write'), 'r');
    assert.equal(answer.statusCode, 403);
    assert.equal(answer.headers['WWW-Authenticate'],
      'Bearer realm="r", error="insufficient_scope", error_description="lacks orders:write", scope="orders:read orders:write"');
  });

  it('missing role: 403 insufficient_scope without a scope attribute', () => {
    const answer = rejectionFor(new AccessDeniedError('ERR_ROLE_INSUFFICIENT', 'no role'), 'r');
    assert.equal(answer.statusCode, 403);
    assert.ok(!answer.headers['WWW-Authenticate'].includes('scope="'));
  });

  it('provider unreachable: 503 with Retry-After, no challenge, no provider details', () => {
    const answer = rejectionFor(new ProviderUnavailableError('ERR_JWKS_UNAVAILABLE', 'https://idp.internal/jwks timed out', 7), 'r');
    assert.equal(answer.statusCode, 503);
    assert.equal(answer.headers['Retry-After'], '7');
    assert.equal(answer.headers['WWW-Authenticate'], undefined);
    assert.equal(answer.payload.error, 'temporarily_unavailable');
    assert.ok(!answer.payload.error_description.includes('idp.internal'));
  });

  it('a bug of ours: 503 that says so, not that the provider is down', () => {
    const answer = rejectionFor(new IdentityError('ERR_INTERNAL', 'boom'), 'r');
    assert.equal(answer.statusCode, 503);
    assert.match(answer.payload.error_description, /could not be checked/);
  });

  it('misconfigured node: 503 with a Retry-After of 60 s', () => {
    const answer = rejectionFor(new IdentityError('ERR_CONFIG_MISSING', 'no identity'), 'r');
    assert.equal(answer.statusCode, 503);
    assert.equal(answer.headers['Retry-After'], '60');
  });

  it('keeps quoted-string values inside the RFC 6750 character set', () => {
    const answer = rejectionFor(new AccessDeniedError('ERR_TOKEN_MALFORMED', 'bad "kid" \\ é\n'), 'my "realm"');
    const challenge = answer.headers['WWW-Authenticate'];
    assert.match(challenge, /^Bearer realm="my 'realm'", error="invalid_token", error_description="bad 'kid' ' ''"$/);
  });

  describe('step-up (RFC 9470 §3)', () => {
    const MFA = 'urn:example:mfa';

    it('authentication level: 401 insufficient_user_authentication with acr_values', () => {
      const answer = rejectionFor(new StepUpRequiredError('ERR_AUTH_LEVEL_INSUFFICIENT', 'a different authentication level is required', [MFA, 'phrh'], undefined), 'r');
      assert.equal(answer.statusCode, 401);
      assert.equal(answer.headers['WWW-Authenticate'],
        'Bearer realm="r", error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="urn:example:mfa phrh"');
      assert.deepEqual(answer.payload, { error: 'insufficient_user_authentication', error_description: 'a different authentication level is required' });
      assert.equal(answer.headers['Cache-Control'], 'no-store');
      assert.equal(answer.code, 'ERR_AUTH_LEVEL_INSUFFICIENT');
    });

    it('authentication age: 401 with max_age quoted, as in the RFC\'s example', () => {
      const answer = rejectionFor(new StepUpRequiredError('ERR_AUTH_TOO_OLD', 'more recent authentication is required', [], 5), 'r');
      assert.equal(answer.statusCode, 401);
      assert.equal(answer.headers['WWW-Authenticate'],
        'Bearer realm="r", error="insufficient_user_authentication", error_description="more recent authentication is required", max_age="5"');
    });

    it('both requirements in one challenge, whichever failed (§3: both MAY occur); max_age 0 is a requirement too', () => {
      const answer = rejectionFor(new StepUpRequiredError('ERR_AUTH_TOO_OLD', 'old', [MFA], 0), 'r');
      assert.equal(answer.headers['WWW-Authenticate'],
        `Bearer realm="r", error="insufficient_user_authentication", error_description="old", acr_values="${MFA}", max_age="0"`);
    });

    it('a step-up code without its requirements still answers 401 insufficient_user_authentication', () => {
      const answer = rejectionFor(new IdentityError('ERR_AUTH_TOO_OLD', 'old'), 'r');
      assert.equal(answer.statusCode, 401);
      assert.equal(answer.headers['WWW-Authenticate'], 'Bearer realm="r", error="insufficient_user_authentication", error_description="old"');
    });

    it('acr_values is a quoted-string: a quote or backslash becomes a quoted-pair, control and non-ASCII characters are replaced', () => {
      const answer = rejectionFor(new StepUpRequiredError('ERR_AUTH_LEVEL_INSUFFICIENT', 'x', ['a"b', 'c\\d', 'é\n'], undefined), 'r');
      assert.ok(answer.headers['WWW-Authenticate'].endsWith(', acr_values="a\\"b c\\\\d \'\'"'), answer.headers['WWW-Authenticate']);
    });
  });

  describe('resource_metadata (RFC 9728 §5.1)', () => {
    const resourceMetadata = 'https://api.example.com/.well-known/oauth-protected-resource';
    const withMetadata = (error) => rejectionFor(error, 'r', { resourceMetadata }).headers['WWW-Authenticate'];

    it('is added to every challenge, after the other attributes', () => {
      assert.equal(withMetadata(new AccessDeniedError('ERR_BEARER_MISSING', 'x')), `Bearer realm="r", resource_metadata="${resourceMetadata}"`);
      assert.equal(withMetadata(new AccessDeniedError('ERR_BEARER_MULTIPLE', 'two')),
        `Bearer realm="r", error="invalid_request", error_description="two", resource_metadata="${resourceMetadata}"`);
      assert.equal(withMetadata(new AccessDeniedError('ERR_TOKEN_EXPIRED', 'expired')),
        `Bearer realm="r", error="invalid_token", error_description="expired", resource_metadata="${resourceMetadata}"`);
      assert.equal(withMetadata(new AccessDeniedError('ERR_SCOPE_INSUFFICIENT', 'lacks', 'orders:read')),
        `Bearer realm="r", error="insufficient_scope", error_description="lacks", scope="orders:read", resource_metadata="${resourceMetadata}"`);
      assert.equal(withMetadata(new StepUpRequiredError('ERR_AUTH_LEVEL_INSUFFICIENT', 'weak', ['mfa'], 300)),
        `Bearer realm="r", error="insufficient_user_authentication", error_description="weak", acr_values="mfa", max_age="300", resource_metadata="${resourceMetadata}"`);
    });

    it('is not sent with a 503, which has no challenge', () => {
      const answer = rejectionFor(new IdentityError('ERR_CONFIG_MISSING', 'no identity'), 'r', { resourceMetadata });
      assert.equal(answer.headers['WWW-Authenticate'], undefined);
    });

    it('is a quoted-string: a quote or backslash in the URL cannot end it early', () => {
      const challenge = rejectionFor(new AccessDeniedError('ERR_BEARER_MISSING', 'x'), 'r', { resourceMetadata: 'https://a.example/x"y\\z' }).headers['WWW-Authenticate'];
      assert.equal(challenge, 'Bearer realm="r", resource_metadata="https://a.example/x\\"y\\\\z"');
    });
  });

  it('every code maps to a status (none becomes a 500)', () => {
    for (const code of Object.keys(ERROR_CODES)) {
      const { statusCode } = rejectionFor(new IdentityError(code, 'x'), 'r');
      assert.ok([400, 401, 403, 503].includes(statusCode), `${code} -> ${statusCode}`);
    }
  });
});
