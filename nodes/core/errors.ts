/**
 * One error model for the whole package.
 *
 * Every failure is an `IdentityError` with a stable `code` (`ERR_<AREA>_<CONDITION>`). A code never
 * changes once shipped: flows switch on it and the catalogs translate it. Each code belongs to one
 * class of answer that a protected resource gives (RFC 6750 §3.1, RFC 9470 §3 for step-up, plus 503
 * for an unreachable provider), so the HTTP answer is derived from the code alone, in `challenge.ts`.
 *
 * Messages are written for the API client and the log: they never carry a token, a secret or a
 * password, and causes are kept only where they are our own errors or transport errors whose
 * messages carry no request data.
 */

/** How a rejection is answered (RFC 6750 §3.1, RFC 9470 §3; 503 when the provider cannot be asked). */
export type RejectionClass =
  | 'no_credentials' // 401, bare challenge, no error attribute (RFC 6750 §3.1 last paragraph)
  | 'invalid_request' // 400
  | 'invalid_token' // 401
  | 'invalid_dpop_proof' // 401 with a DPoP challenge (RFC 9449 §7.1)
  | 'insufficient_scope' // 403
  | 'insufficient_user_authentication' // 401 with the route's acr_values / max_age (RFC 9470 §3)
  | 'unavailable' // 503 with Retry-After
  | 'configuration' // 503: the node cannot work until it is reconfigured
  | 'provider_rejected' // the provider's own OAuth error (RFC 6749 §5.2), passed on with its status
  | 'bad_gateway' // 502: the provider answered something that is not OAuth
  | 'login_required'; // 401: no session (refresh-token in session mode) or the user must log in again

export const ERROR_CODES = {
  // The request (RFC 6750 §2)
  ERR_BEARER_MISSING: 'no_credentials',
  ERR_BEARER_SCHEME: 'no_credentials',
  ERR_BEARER_MALFORMED: 'invalid_request',
  ERR_BEARER_MULTIPLE: 'invalid_request',
  ERR_BEARER_NOT_IN_HEADER: 'invalid_request',
  ERR_REQUEST_MISSING: 'invalid_request',
  // The token (RFC 7515, RFC 7519, RFC 8725, RFC 9068)
  ERR_TOKEN_TOO_LARGE: 'invalid_token',
  ERR_TOKEN_MALFORMED: 'invalid_token',
  ERR_TOKEN_ENCRYPTED: 'invalid_token',
  ERR_TOKEN_ALG_NOT_ALLOWED: 'invalid_token',
  ERR_TOKEN_HEADER_KEY: 'invalid_token',
  ERR_TOKEN_CRIT: 'invalid_token',
  ERR_TOKEN_TYPE: 'invalid_token',
  ERR_TOKEN_KEY_UNKNOWN: 'invalid_token',
  ERR_TOKEN_SIGNATURE: 'invalid_token',
  ERR_TOKEN_EXPIRED: 'invalid_token',
  ERR_TOKEN_NOT_YET_VALID: 'invalid_token',
  ERR_TOKEN_ISSUER: 'invalid_token',
  ERR_TOKEN_AUDIENCE: 'invalid_token',
  ERR_TOKEN_CLAIM_INVALID: 'invalid_token',
  // The token, encrypted (RFC 7516, RFC 7519 §11.2); ERR_TOKEN_ENCRYPTED when no decryption key is configured
  ERR_TOKEN_ENC_ALG_NOT_ALLOWED: 'invalid_token', // alg or enc off the allowlists, or zip
  ERR_TOKEN_DECRYPTION: 'invalid_token', // every failure to decrypt (wrong key, altered part, bad tag): one code, no oracle
  ERR_TOKEN_NOT_NESTED: 'invalid_token', // cty does not name a JWT, or the plaintext is no signed JWT
  // The token, as the provider's introspection endpoint describes it (RFC 7662 §2.2)
  ERR_TOKEN_INACTIVE: 'invalid_token', // active: false: unknown, expired, revoked, or not for this client to know
  ERR_TOKEN_NOT_ACCESS_TOKEN: 'invalid_token', // token_type refresh_token: a refresh token sent as a bearer token
  // Sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens (RFC 8705)
  ERR_DPOP_PROOF_MISSING: 'invalid_dpop_proof', // the DPoP scheme without a DPoP header
  ERR_DPOP_PROOF_INVALID: 'invalid_dpop_proof', // two DPoP headers, or a proof that fails a check of RFC 9449 §4.3
  ERR_DPOP_PROOF_REPLAYED: 'invalid_dpop_proof', // a proof whose jti was seen within its window
  ERR_DPOP_BINDING: 'invalid_token', // the DPoP scheme, and the token's cnf.jkt is missing or names another key
  ERR_DPOP_REQUIRED: 'invalid_token', // dpop required, and the Bearer scheme was used
  ERR_TOKEN_DPOP_BOUND: 'invalid_token', // a DPoP-bound token (cnf.jkt) sent with the Bearer scheme (§7.1)
  ERR_MTLS_CERT_MISSING: 'invalid_token', // mtls required, and no client certificate came with the request
  ERR_MTLS_CERT_INVALID: 'invalid_token', // the trusted proxy's certificate header cannot be read as one certificate
  ERR_MTLS_BINDING: 'invalid_token', // the token's cnf.x5t#S256 is missing or names another certificate
  // Authorization rules of the route
  ERR_SCOPE_INSUFFICIENT: 'insufficient_scope',
  ERR_ROLE_INSUFFICIENT: 'insufficient_scope',
  // Step-up authentication rules of the route (RFC 9470): the user must authenticate again
  ERR_AUTH_LEVEL_INSUFFICIENT: 'insufficient_user_authentication', // acr missing or not an accepted one
  ERR_AUTH_TOO_OLD: 'insufficient_user_authentication', // auth_time missing or older than the route's max age
  // The identity provider
  ERR_DISCOVERY_UNAVAILABLE: 'unavailable',
  ERR_DISCOVERY_INVALID: 'unavailable',
  ERR_DISCOVERY_ISSUER_MISMATCH: 'unavailable',
  ERR_JWKS_UNAVAILABLE: 'unavailable',
  ERR_JWKS_INVALID: 'unavailable',
  ERR_INTROSPECTION_UNAVAILABLE: 'unavailable', // unreachable, timed out, or 5xx
  ERR_INTROSPECTION_INVALID: 'unavailable', // an answer that is not an RFC 7662 introspection response
  ERR_INTROSPECTION_CLIENT_REJECTED: 'configuration', // 401/403 or invalid_client: our own client is refused
  // Transport (always the cause of a discovery or JWKS error)
  ERR_HTTP_UNREACHABLE: 'unavailable',
  ERR_HTTP_TIMEOUT: 'unavailable',
  ERR_HTTP_TOO_LARGE: 'unavailable',
  ERR_HTTP_STATUS: 'unavailable',
  ERR_HTTP_REDIRECT: 'unavailable',
  ERR_HTTP_TLS: 'unavailable',
  ERR_HTTP_BODY: 'unavailable',
  ERR_HTTP_ABORTED: 'unavailable',
  // A bug of ours: answered 503 (fail closed) and logged, never a 500
  ERR_INTERNAL: 'unavailable',
  // Token requests (RFC 6749 §4-§6, RFC 8693, RFC 7636)
  ERR_GRANT_INVALID: 'provider_rejected', // invalid_grant: wrong password, expired or reused refresh token, bad code
  ERR_GRANT_REJECTED: 'provider_rejected', // any other OAuth error: invalid_client, invalid_scope, …
  ERR_TOKEN_RESPONSE_INVALID: 'bad_gateway',
  ERR_CLIENT_REJECTED: 'bad_gateway', // invalid_client / unauthorized_client: the flow's own client is refused
  ERR_INPUT_TOKENS_MISSING: 'invalid_request',
  ERR_TOKEN_ENDPOINT_UNAVAILABLE: 'unavailable',
  ERR_INPUT_CREDENTIALS_MISSING: 'invalid_request',
  ERR_INPUT_REFRESH_TOKEN_MISSING: 'invalid_request',
  ERR_INPUT_SUBJECT_TOKEN_MISSING: 'invalid_request',
  ERR_INPUT_PARAMS_INVALID: 'invalid_request',
  ERR_LOGIN_STATE_INVALID: 'invalid_request',
  ERR_LOGIN_DENIED: 'provider_rejected',
  ERR_SESSION_MISSING: 'login_required',
  // Configuration (raised at deploy time)
  ERR_CONFIG_MISSING: 'configuration',
  ERR_CONFIG_ISSUER_MISSING: 'configuration',
  ERR_CONFIG_ISSUER_INVALID: 'configuration',
  ERR_CONFIG_INSECURE_HTTP: 'configuration',
  ERR_CONFIG_AUDIENCE_MISSING: 'configuration',
  ERR_CONFIG_INVALID: 'configuration',
  ERR_CONFIG_CLIENT_MISSING: 'configuration',
  ERR_CONFIG_PRIVATE_KEY_INVALID: 'configuration',
  ERR_CONFIG_TLS_MISSING: 'configuration',
  ERR_CONFIG_INTROSPECTION_CLIENT: 'configuration', // introspection needs a confidential client (RFC 7662 §2.1)
  ERR_CONFIG_DECRYPTION_KEY_INVALID: 'configuration', // the decryptionKey credential cannot decrypt tokens
} as const satisfies Record<string, RejectionClass>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface IdentityErrorOptions {
  cause?: unknown;
}

export class IdentityError extends Error {
  override readonly name: string = 'IdentityError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: IdentityErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  get rejectionClass(): RejectionClass {
    return ERROR_CODES[this.code];
  }
}

/** A token or request was refused; `scope` names what a 403 was missing (RFC 6750 §3). */
export class AccessDeniedError extends IdentityError {
  override readonly name = 'AccessDeniedError';
  readonly requiredScope: string | undefined;

  constructor(code: ErrorCode, message: string, requiredScope?: string) {
    super(code, message);
    this.requiredScope = requiredScope;
  }
}

/**
 * The token is valid and authorized, but the user's authentication behind it is too weak or too old
 * (RFC 9470 §3). It carries every requirement of the route, so that the challenge tells the client
 * all it must ask the authorization server for (`acr_values`, `max_age`, RFC 9470 §4).
 */
export class StepUpRequiredError extends IdentityError {
  override readonly name = 'StepUpRequiredError';
  /** The acceptable `acr` values, in order of preference; empty when the route requires none. */
  readonly acrValues: readonly string[];
  /** The longest time since the user authenticated, in seconds; undefined when the route sets none. */
  readonly maxAgeSec: number | undefined;

  constructor(code: ErrorCode, message: string, acrValues: readonly string[], maxAgeSec: number | undefined) {
    super(code, message);
    this.acrValues = acrValues;
    this.maxAgeSec = maxAgeSec;
  }
}

/** The provider could not be asked; `retryAfterSec` says when the next attempt will be made. */
export class ProviderUnavailableError extends IdentityError {
  override readonly name = 'ProviderUnavailableError';
  readonly retryAfterSec: number;

  constructor(code: ErrorCode, message: string, retryAfterSec: number, options: IdentityErrorOptions = {}) {
    super(code, message, options);
    this.retryAfterSec = retryAfterSec;
  }
}

/** Bad options: thrown at deploy time, never at the first request. */
export class ConfigurationError extends IdentityError {
  override readonly name = 'ConfigurationError';
  /** The option that is wrong, as named in the node's properties. */
  readonly option: string;

  constructor(code: ErrorCode, option: string, message: string) {
    super(code, message);
    this.option = option;
  }
}

export function isIdentityError(value: unknown): value is IdentityError {
  return value instanceof IdentityError;
}
