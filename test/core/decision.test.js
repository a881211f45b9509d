'use strict';
/** The decision trace (nodes/core/decision.ts): which checks passed and which failed, from the failing code. */
const assert = require('node:assert/strict');
const { DecisionTrace, JWT_CHECKS, INTROSPECTION_CHECKS, checkOf } = require('../../dist/core/decision');
const { ERROR_CODES } = require('../../dist/core/errors');

describe('core: the decision trace', () => {
  it('every error code names a check, and only ERR_INTERNAL names "internal" among those validate-token meets', () => {
    const internal = Object.keys(ERROR_CODES).filter((code) => checkOf(code) === 'internal');
    const validateCodes = internal.filter((code) => !/^ERR_(GRANT|INPUT|LOGIN|SESSION|CLIENT|TOKEN_RESPONSE|TOKEN_ENDPOINT)/.test(code));
    assert.deepEqual(validateCodes, ['ERR_INTERNAL']);
  });

  it('a provider failure stands where the provider is first asked: the key lookup, or the introspection call', () => {
    const jwt = new DecisionTrace();
    jwt.failWithin(JWT_CHECKS, 'ERR_JWKS_UNAVAILABLE');
    assert.deepEqual(jwt.rejected('ERR_JWKS_UNAVAILABLE').steps, [
      { check: 'format', result: 'pass' }, { check: 'algorithm', result: 'pass' }, { check: 'provider', result: 'fail', code: 'ERR_JWKS_UNAVAILABLE' },
    ]);
    const introspection = new DecisionTrace();
    introspection.failWithin(INTROSPECTION_CHECKS, 'ERR_HTTP_TIMEOUT');
    assert.deepEqual(introspection.rejected('ERR_HTTP_TIMEOUT').steps, [{ check: 'provider', result: 'fail', code: 'ERR_HTTP_TIMEOUT' }]);
  });

  it('a check passes once; a rejection nobody recorded records its own failing check', () => {
    const trace = new DecisionTrace();
    trace.pass('credentials', 'credentials');
    trace.checkedBy('jwt');
    const decision = trace.rejected('ERR_SCOPE_INSUFFICIENT');
    assert.deepEqual(decision, {
      result: 'rejected', via: 'jwt', code: 'ERR_SCOPE_INSUFFICIENT',
      steps: [{ check: 'credentials', result: 'pass' }, { check: 'scope', result: 'fail', code: 'ERR_SCOPE_INSUFFICIENT' }],
    });
  });
});
