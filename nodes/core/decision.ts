/**
 * The decision trace of one request (`msg.auth.decision`): the checks made, in order, and the one
 * that failed, for support ("why was this token refused?") and for compliance. It names checks and
 * codes only: never a token, a claim value or a secret.
 *
 * A verification or an introspection runs its checks in a fixed order (`JWT_CHECKS`,
 * `INTROSPECTION_CHECKS`); when one fails, every check before it in that order has passed, so the
 * trace can be written from the failing code without instrumenting the verifier step by step.
 */

export type Check =
  | 'configuration' // the node and its identity-config can validate at all
  | 'credentials' // one bearer token, in the Authorization header (RFC 6750 §2)
  | 'issuer choice' // several providers: the token's iss names one of them
  | 'format' // a well-formed signed JWT, with a header policy it meets (RFC 8725)
  | 'decryption' // an encrypted token (JWE): allowed algorithms, our key, a signed JWT inside
  | 'algorithm' // an allowed asymmetric algorithm
  | 'key' // a key of the provider's key set matches kid and alg
  | 'provider' // the provider (discovery, keys, introspection endpoint) could be asked
  | 'signature'
  | 'issuer'
  | 'audience'
  | 'lifetime' // exp, nbf (with the clock tolerance)
  | 'claims' // required claims (exp; RFC 9068's sub, client_id, iat, jti)
  | 'cached verification' // verified by an earlier request; time and key set checked again
  | 'introspection' // RFC 7662: the provider answered an introspection response
  | 'active'
  | 'token type' // an access token, not a refresh token
  | 'scope'
  | 'role'
  | 'sender constraint' // DPoP proof (RFC 9449) or client certificate (RFC 8705) bound to the token
  | 'authentication level' // RFC 9470: the token's acr is one the route accepts
  | 'authentication age' // RFC 9470: the user authenticated recently enough (auth_time)
  | 'internal';

export type Via = 'jwt' | 'introspection' | 'cache';

export interface DecisionStep {
  check: Check;
  result: 'pass' | 'fail';
  /** The error code of a failed check. */
  code?: string;
}

export interface Decision {
  result: 'authorized' | 'rejected';
  /** How the token was checked, once that was known. */
  via?: Via;
  steps: DecisionStep[];
  /** The error code of a rejection. */
  code?: string;
}

/** The checks of a local JWT verification (verifier.ts), in the order they are made. */
export const JWT_CHECKS: readonly Check[] = ['format', 'algorithm', 'key', 'signature', 'issuer', 'audience', 'lifetime', 'claims'];
/** The checks of an encrypted token (jwe.ts, then verifier.ts on the signed JWT inside), in order. */
export const JWE_CHECKS: readonly Check[] = ['format', 'decryption', ...JWT_CHECKS.slice(1)];
/** The checks of an introspection (introspection.ts), in the order they are made. */
export const INTROSPECTION_CHECKS: readonly Check[] = ['introspection', 'active', 'issuer', 'audience', 'lifetime', 'token type'];

const CHECK_OF_CODE: Readonly<Record<string, Check>> = {
  ERR_TOKEN_TOO_LARGE: 'format',
  ERR_TOKEN_MALFORMED: 'format',
  ERR_TOKEN_ENCRYPTED: 'format',
  ERR_TOKEN_HEADER_KEY: 'format',
  ERR_TOKEN_CRIT: 'format',
  ERR_TOKEN_TYPE: 'format',
  ERR_TOKEN_ALG_NOT_ALLOWED: 'algorithm',
  ERR_TOKEN_ENC_ALG_NOT_ALLOWED: 'decryption',
  ERR_TOKEN_DECRYPTION: 'decryption',
  ERR_TOKEN_NOT_NESTED: 'decryption',
  ERR_TOKEN_KEY_UNKNOWN: 'key',
  ERR_TOKEN_SIGNATURE: 'signature',
  ERR_TOKEN_ISSUER: 'issuer',
  ERR_TOKEN_AUDIENCE: 'audience',
  ERR_TOKEN_EXPIRED: 'lifetime',
  ERR_TOKEN_NOT_YET_VALID: 'lifetime',
  ERR_TOKEN_CLAIM_INVALID: 'claims',
  ERR_TOKEN_INACTIVE: 'active',
  ERR_TOKEN_NOT_ACCESS_TOKEN: 'token type',
  ERR_SCOPE_INSUFFICIENT: 'scope',
  ERR_ROLE_INSUFFICIENT: 'role',
  ERR_AUTH_LEVEL_INSUFFICIENT: 'authentication level',
  ERR_AUTH_TOO_OLD: 'authentication age',
};

/** The check an error code says failed. */
export function checkOf(code: string): Check {
  if (CHECK_OF_CODE[code]) return CHECK_OF_CODE[code];
  if (code.startsWith('ERR_BEARER_') || code === 'ERR_REQUEST_MISSING' || code === 'ERR_DPOP_REQUIRED') return 'credentials';
  if (code.startsWith('ERR_DPOP_') || code.startsWith('ERR_MTLS_') || code === 'ERR_TOKEN_DPOP_BOUND') return 'sender constraint';
  if (code.startsWith('ERR_CONFIG_')) return 'configuration';
  if (code.startsWith('ERR_INTROSPECTION_')) return 'introspection';
  if (code.startsWith('ERR_JWKS_') || code.startsWith('ERR_DISCOVERY_') || code.startsWith('ERR_HTTP_')) return 'provider';
  return 'internal';
}

export class DecisionTrace {
  private readonly steps: DecisionStep[] = [];
  private via: Via | undefined;

  /** Records passed checks; one already recorded as passed is not repeated. */
  pass(...checks: Check[]): void {
    for (const check of checks) {
      if (!this.steps.some((step) => step.check === check)) this.steps.push({ check, result: 'pass' });
    }
  }

  /** How the token is being checked; set before its checks are recorded. */
  checkedBy(via: Via): void {
    this.via = via;
  }

  /**
   * Records the failure of `code` within a fixed sequence of checks: those before it passed. A
   * provider failure stands where the provider is first asked (the key lookup of a verification,
   * the call of an introspection).
   */
  failWithin(sequence: readonly Check[], code: string): void {
    const failed = checkOf(code);
    const at = sequence.indexOf(failed === 'provider' && sequence.includes('key') ? 'key' : failed === 'provider' ? 'introspection' : failed);
    if (at > 0) this.pass(...sequence.slice(0, at));
    this.fail(code);
  }

  /** Records the failure of `code`, as the check it names unless another is given. */
  fail(code: string, check: Check = checkOf(code)): void {
    this.steps.push({ check, result: 'fail', code });
  }

  authorized(): Decision {
    return { result: 'authorized', ...(this.via && { via: this.via }), steps: [...this.steps] };
  }

  /** The trace of a rejection; the failing step is recorded here when no one recorded it yet. */
  rejected(code: string): Decision {
    if (!this.steps.some((step) => step.result === 'fail')) this.fail(code);
    return { result: 'rejected', ...(this.via && { via: this.via }), steps: [...this.steps], code };
  }
}
