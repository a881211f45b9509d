'use strict';
/** RFC 9470: a route's step-up rules (acr, max age) against a token's acr and auth_time, with a fixed clock. */
const assert = require('node:assert/strict');
const { toAuthInfo } = require('../../dist/core/claims');
const { parseStepUpRules, checkStepUp } = require('../../dist/core/step-up');
const { StepUpRequiredError } = require('../../dist/core/errors');
const { rejectionFor } = require('../../dist/core/challenge');
const { throwsWithCode } = require('../support/assert');

const NOW_SEC = 1_700_000_000;
const NOW_MS = NOW_SEC * 1000;
const TOLERANCE_SEC = 30;
const MFA = 'urn:example:mfa';
const check = (claims, rules) => checkStepUp(toAuthInfo({ sub: 'alice', ...claims }), rules, NOW_MS, TOLERANCE_SEC);

describe('core: step-up rules (RFC 9470)', () => {
  describe('parseStepUpRules', () => {
    it('reads acr values in order of preference and max age in whole seconds', () => {
      assert.deepEqual(parseStepUpRules(' phrh  phr ', '300'), { acrValues: ['phrh', 'phr'], maxAgeSec: 300 });
      assert.deepEqual(parseStepUpRules(undefined, 0), { acrValues: [], maxAgeSec: 0 });
      assert.deepEqual(parseStepUpRules('', '  '), { acrValues: [], maxAgeSec: undefined });
      assert.deepEqual(parseStepUpRules(null, null), { acrValues: [], maxAgeSec: undefined });
    });

    it('refuses at deploy time what a challenge could not carry as it is, and ages that are no ages', () => {
      for (const acr of ['say "mfa"', 'back\\slash', 'ümlaut', ['mfa'], 'a b c d e f g h i j k l m n o p q']) {
        assert.equal(throwsWithCode(() => parseStepUpRules(acr, ''), 'ERR_CONFIG_INVALID').option, 'acr', String(acr));
      }
      for (const maxAge of ['-1', '1.5', 'soon', 366 * 24 * 3600 + 1, true, Number.NaN]) {
        assert.equal(throwsWithCode(() => parseStepUpRules('', maxAge), 'ERR_CONFIG_INVALID').option, 'maxAge', String(maxAge));
      }
      assert.equal(parseStepUpRules('', 366 * 24 * 3600).maxAgeSec, 366 * 24 * 3600);
    });
  });

  describe('checkStepUp', () => {
    const acrRule = { acrValues: [MFA, 'phrh'], maxAgeSec: undefined };
    const ageRule = { acrValues: [], maxAgeSec: 300 };

    it('no rules: any token passes, with or without acr and auth_time', () => {
      check({}, { acrValues: [], maxAgeSec: undefined });
    });

    it('acr: one of the listed values passes; another, a missing or a non-string acr is ERR_AUTH_LEVEL_INSUFFICIENT', () => {
      check({ acr: 'phrh' }, acrRule);
      check({ acr: MFA }, acrRule);
      for (const acr of ['pwd', 'URN:EXAMPLE:MFA', '', undefined, 2, [MFA]]) {
        const error = throwsWithCode(() => check({ acr }, acrRule), 'ERR_AUTH_LEVEL_INSUFFICIENT');
        assert.ok(error instanceof StepUpRequiredError);
        assert.deepEqual(error.acrValues, [MFA, 'phrh']);
        assert.equal(error.maxAgeSec, undefined);
      }
    });

    it('max age: auth_time up to max age plus the clock tolerance ago passes; older is ERR_AUTH_TOO_OLD', () => {
      check({ auth_time: NOW_SEC }, ageRule);
      check({ auth_time: NOW_SEC - 330 }, ageRule); // 300 s + 30 s tolerance: the last accepted second
      check({ auth_time: NOW_SEC + 60 }, ageRule); // a provider clock ahead is not a stale login
      const error = throwsWithCode(() => check({ auth_time: NOW_SEC - 331 }, ageRule), 'ERR_AUTH_TOO_OLD');
      assert.match(error.message, /331 s ago, at most 300 s/);
      assert.deepEqual([error.acrValues, error.maxAgeSec], [[], 300]);
      checkStepUp(toAuthInfo({ auth_time: NOW_SEC - 300 }), ageRule, NOW_MS, 0);
      throwsWithCode(() => checkStepUp(toAuthInfo({ auth_time: NOW_SEC - 301 }), ageRule, NOW_MS, 0), 'ERR_AUTH_TOO_OLD');
    });

    it('max age: a missing or non-numeric auth_time is ERR_AUTH_TOO_OLD (nothing proves the login recent)', () => {
      for (const authTime of [undefined, String(NOW_SEC), null, Number.POSITIVE_INFINITY]) {
        throwsWithCode(() => check({ auth_time: authTime }, ageRule), 'ERR_AUTH_TOO_OLD');
      }
    });

    it('max age 0: only a login within the clock tolerance passes (as OIDC max_age=0)', () => {
      const now = { acrValues: [], maxAgeSec: 0 };
      check({ auth_time: NOW_SEC - 30 }, now);
      throwsWithCode(() => check({ auth_time: NOW_SEC - 31 }, now), 'ERR_AUTH_TOO_OLD');
    });

    it('both rules: acr is checked first, and the error carries both requirements', () => {
      const both = { acrValues: [MFA], maxAgeSec: 300 };
      check({ acr: MFA, auth_time: NOW_SEC - 10 }, both);
      const weak = throwsWithCode(() => check({ acr: 'pwd', auth_time: NOW_SEC - 1000 }, both), 'ERR_AUTH_LEVEL_INSUFFICIENT');
      assert.deepEqual([weak.acrValues, weak.maxAgeSec], [[MFA], 300]);
      const old = throwsWithCode(() => check({ acr: MFA, auth_time: NOW_SEC - 1000 }, both), 'ERR_AUTH_TOO_OLD');
      assert.deepEqual([old.acrValues, old.maxAgeSec], [[MFA], 300]);
    });

    it('never echoes the token\'s own acr into the description', () => {
      const error = throwsWithCode(() => check({ acr: 'secret-looking-value' }, acrRule), 'ERR_AUTH_LEVEL_INSUFFICIENT');
      assert.ok(!error.message.includes('secret-looking-value'));
      assert.ok(!rejectionFor(error, 'r').headers['WWW-Authenticate'].includes('secret-looking-value'));
    });
  });
});
