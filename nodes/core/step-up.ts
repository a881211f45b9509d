/**
 * Step-up authentication (RFC 9470): a route may require that the user's authentication behind an
 * access token was strong enough (the token's `acr` claim, RFC 9470 §6.1) or recent enough (its
 * `auth_time` claim). A token that falls short is refused with a `StepUpRequiredError`, answered
 * 401 `insufficient_user_authentication` with the route's `acr_values` and `max_age` (§3), so that
 * the client can ask the authorization server for a new token with those parameters (§4).
 *
 * The check runs after the token is verified and after the route's scope and role rules: a token
 * that lacks a scope or role is refused 403 first, since authenticating again would not give it
 * what it lacks; a step-up challenge is only sent to a caller that stepping up would let in.
 */
import type { AuthInfo } from './claims';
import { words } from './claims';
import { ConfigurationError, StepUpRequiredError } from './errors';

export interface StepUpRules {
  /** The acceptable `acr` values, in order of preference; empty requires none. */
  acrValues: readonly string[];
  /** The longest time since the user authenticated, in seconds; undefined sets no limit. */
  maxAgeSec: number | undefined;
}

/** An acr value sent as it is in a challenge: RFC 6750's character set, no quote or backslash. */
const ACR_VALUE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_ACR_VALUES = 16;
/** One year: a longer max_age is no requirement at all. */
const MAX_AGE_LIMIT_SEC = 366 * 24 * 60 * 60;

/**
 * Parses a route's step-up options: `acr` (space-separated, in order of preference) and `maxAge`
 * (whole seconds, 0 to one year; blank for none). Throws a `ConfigurationError` at deploy time.
 */
export function parseStepUpRules(acr: unknown, maxAge: unknown): StepUpRules {
  if (acr !== undefined && acr !== null && typeof acr !== 'string') {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'acr', 'acr must be a space-separated list');
  }
  const acrValues = words(acr);
  if (acrValues.length > MAX_ACR_VALUES || !acrValues.every((value) => ACR_VALUE.test(value))) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'acr',
      `acr must be up to ${MAX_ACR_VALUES} space-separated values without quotes, backslashes or non-ASCII characters`);
  }
  return { acrValues, maxAgeSec: maxAgeOption(maxAge) };
}

function maxAgeOption(value: unknown): number | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_AGE_LIMIT_SEC) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'maxAge', `maxAge must be a whole number of seconds from 0 to ${MAX_AGE_LIMIT_SEC}`);
  }
  return seconds;
}

/**
 * Throws a `StepUpRequiredError` when the token's authentication does not meet the rules:
 * `ERR_AUTH_LEVEL_INSUFFICIENT` when its `acr` is missing or not one of `acrValues`,
 * `ERR_AUTH_TOO_OLD` when its `auth_time` is missing or more than `maxAgeSec` (plus the clock
 * tolerance) before `nowMs`. The acr rule is checked first.
 * @param nowMs the current time, in ms since the epoch
 * @param clockToleranceSec the identity's leeway for clocks that differ, in seconds
 */
export function checkStepUp(auth: AuthInfo, rules: StepUpRules, nowMs: number, clockToleranceSec: number): void {
  const refusal = (code: 'ERR_AUTH_LEVEL_INSUFFICIENT' | 'ERR_AUTH_TOO_OLD', message: string): StepUpRequiredError =>
    new StepUpRequiredError(code, message, rules.acrValues, rules.maxAgeSec);
  const { acr, auth_time: authTime } = auth.claims;
  if (rules.acrValues.length > 0) {
    if (typeof acr !== 'string') {
      throw refusal('ERR_AUTH_LEVEL_INSUFFICIENT', 'the access token does not say how the user authenticated (no acr claim); a stronger authentication is required');
    }
    if (!rules.acrValues.includes(acr)) {
      throw refusal('ERR_AUTH_LEVEL_INSUFFICIENT', 'a different authentication level is required');
    }
  }
  if (rules.maxAgeSec !== undefined) {
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) {
      throw refusal('ERR_AUTH_TOO_OLD', 'the access token does not say when the user authenticated (no auth_time claim); a recent authentication is required');
    }
    const ageSec = nowMs / 1000 - authTime;
    if (ageSec > rules.maxAgeSec + clockToleranceSec) {
      throw refusal('ERR_AUTH_TOO_OLD',
        `more recent authentication is required: the user authenticated ${Math.floor(ageSec)} s ago, at most ${rules.maxAgeSec} s are accepted`);
    }
  }
}
