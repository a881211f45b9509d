/**
 * The HTTP answer to a refused request: status, `WWW-Authenticate` challenge (RFC 6750 §3) and a
 * JSON body `{ error, error_description }`, derived from the error's code alone.
 *
 * - no credentials: 401 with a bare `Bearer realm="…"` challenge and no error attribute (§3.1);
 * - malformed request: 400 `invalid_request`; bad token: 401 `invalid_token`;
 * - missing scope or role: 403 `insufficient_scope` with the `scope` attribute (§3);
 * - authentication too weak or too old: 401 `insufficient_user_authentication` with the route's
 *   `acr_values` and `max_age` (RFC 9470 §3);
 * - provider unreachable or node misconfigured: 503 with `Retry-After` (RFC 9110 §10.2.3) and no
 *   challenge, since the client's credentials are not at fault.
 *
 * With the URL of the resource's metadata, every challenge names it in `resource_metadata`
 * (RFC 9728 §5.1), so that a client learns there which authorization server to ask.
 *
 * Where DPoP is accepted (RFC 9449 §7.1) the answer carries a `DPoP realm="…", algs="…"` challenge,
 * after the Bearer one when both schemes are accepted, alone when only DPoP is. The error attributes
 * go to the challenge of the scheme the client used; a bad proof is answered 401
 * `invalid_dpop_proof`, always on the DPoP challenge.
 */
import type { AuthScheme } from './bearer';
import { AccessDeniedError, IdentityError, ProviderUnavailableError, StepUpRequiredError, type ErrorCode } from './errors';
import { OAuthError } from './token-client';

export interface Rejection {
  statusCode: number;
  headers: Record<string, string>;
  payload: { error: string; error_description: string };
  code: ErrorCode;
}

/** What the challenges say besides the error: the resource's metadata, and the schemes accepted. */
export interface ChallengeOptions {
  /** The URL of the protected resource metadata (RFC 9728 §5.1), added to every challenge. */
  resourceMetadata?: string;
  /** Set when DPoP is accepted: whether it is the only scheme, and the proof algorithms (`algs`). */
  dpop?: { required: boolean; algorithms: readonly string[] };
  /** The scheme of the request's Authorization header, whose challenge gets the error attributes. */
  scheme?: AuthScheme;
}

/** Seconds a client is asked to wait when the node itself is misconfigured. */
const CONFIGURATION_RETRY_AFTER_SEC = 60;

const CHALLENGE_STATUS = {
  invalid_request: 400, invalid_token: 401, invalid_dpop_proof: 401, insufficient_scope: 403, insufficient_user_authentication: 401,
} as const;

export function rejectionFor(error: IdentityError, realm: string, options: ChallengeOptions = {}): Rejection {
  const description = headerSafe(error.message);
  const noStore = { 'Cache-Control': 'no-store' };
  switch (error.rejectionClass) {
    case 'no_credentials':
      return {
        statusCode: 401,
        headers: { ...noStore, 'WWW-Authenticate': challenges(headerSafe(realm), options, []) },
        payload: { error: 'unauthorized', error_description: description },
        code: error.code,
      };
    case 'invalid_request':
    case 'invalid_token':
    case 'invalid_dpop_proof':
    case 'insufficient_scope':
    case 'insufficient_user_authentication':
      return {
        statusCode: CHALLENGE_STATUS[error.rejectionClass],
        headers: {
          ...noStore,
          'WWW-Authenticate': challenges(headerSafe(realm), options,
            [`error="${error.rejectionClass}"`, `error_description="${description}"`, ...requirementsOf(error)],
            error.rejectionClass === 'invalid_dpop_proof'),
        },
        payload: { error: error.rejectionClass, error_description: description },
        code: error.code,
      };
    default: {
      const retryAfter = error instanceof ProviderUnavailableError ? error.retryAfterSec : CONFIGURATION_RETRY_AFTER_SEC;
      return {
        statusCode: 503,
        headers: { ...noStore, 'Retry-After': String(retryAfter) },
        payload: { error: 'temporarily_unavailable', error_description: unavailableDescription(error) },
        code: error.code,
      };
    }
  }
}

/**
 * The challenges of a 400/401/403 (RFC 9110 §11.6.1: a comma-separated list): Bearer, DPoP or
 * both, each naming the resource's metadata when it is known; `attributes` (error,
 * error_description, scope, …) go to the challenge of the scheme used, and always to DPoP's for a
 * bad proof. RFC 6750 attributes stay within its character set, the others are quoted-strings.
 */
function challenges(realm: string, options: ChallengeOptions, attributes: readonly string[], proofError = false): string {
  const metadata = options.resourceMetadata ? [`resource_metadata="${quotedStringContent(options.resourceMetadata)}"`] : [];
  const challenge = (scheme: string, own: readonly string[], withAttributes: boolean): string =>
    `${scheme} ${[...own, ...(withAttributes ? attributes : []), ...metadata].join(', ')}`;
  const bearer = (withAttributes: boolean): string => challenge('Bearer', [`realm="${realm}"`], withAttributes);
  const { dpop } = options;
  if (!dpop && !proofError) return bearer(true);
  const dpopChallenge = (withAttributes: boolean): string =>
    challenge('DPoP', [`realm="${realm}"`, ...(dpop ? [`algs="${dpop.algorithms.join(' ')}"`] : [])], withAttributes);
  if (dpop?.required) return dpopChallenge(true);
  return proofError || options.scheme === 'dpop' ? `${bearer(false)}, ${dpopChallenge(true)}` : `${bearer(true)}, ${dpopChallenge(false)}`;
}

/**
 * What the client must obtain: the route's scopes (RFC 6750 §3), or its authentication requirements,
 * `acr_values` and `max_age` in the quoted form of RFC 9470 §3's examples.
 */
function requirementsOf(error: IdentityError): string[] {
  if (error instanceof AccessDeniedError && error.requiredScope) return [`scope="${headerSafe(error.requiredScope)}"`];
  if (!(error instanceof StepUpRequiredError)) return [];
  const requirements: string[] = [];
  if (error.acrValues.length > 0) requirements.push(`acr_values="${quotedStringContent(error.acrValues.join(' '))}"`);
  if (error.maxAgeSec !== undefined) requirements.push(`max_age="${error.maxAgeSec}"`);
  return requirements;
}

/** What a 503 tells the client: the kind of trouble, never the provider's URLs or our internals. */
function unavailableDescription(error: IdentityError): string {
  if (error.rejectionClass === 'configuration') return 'the identity provider is not configured correctly';
  if (error.code === 'ERR_INTERNAL' || error.code === 'ERR_INTROSPECTION_INVALID') return 'the access token could not be checked; try again later';
  return 'the identity provider cannot be reached';
}

/**
 * RFC 6750 §3: error_description and scope values are limited to %x20-21 / %x23-5B / %x5D-7E, so
 * quotes, backslashes and control or non-ASCII characters are replaced.
 */
function headerSafe(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "'").slice(0, 300);
}

/**
 * The content of an RFC 9110 §5.6.4 quoted-string, for attributes RFC 6750 does not restrict
 * (`acr_values`, `resource_metadata`): `"` and `\` become quoted-pairs; control and non-ASCII
 * characters, which a URL or an acr value never needs, are replaced.
 */
function quotedStringContent(text: string): string {
  return text.replace(/[^\x20-\x7E]/g, "'").replace(/["\\]/g, '\\$&');
}

/**
 * The answer of a token endpoint built in a flow (get-token, refresh-token) when no token could be
 * had (RFC 6749 §5.2): the provider's own OAuth error with its status, 400 for a message that lacks
 * its input, 401 `login_required` without a session, 502 for a provider answer that is not OAuth,
 * 503 with `Retry-After` when the provider cannot be reached or the node is misconfigured. Always
 * `Cache-Control: no-store` and `Pragma: no-cache` (§5.1).
 */
export function tokenFailureFor(error: IdentityError): Rejection {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  const answer = (statusCode: number, code: string, description: string): Rejection => ({
    statusCode, headers, payload: { error: code, error_description: headerSafe(description) }, code: error.code,
  });
  switch (error.rejectionClass) {
    case 'provider_rejected': {
      const oauth = error instanceof OAuthError ? error : undefined;
      return answer(oauth?.status ?? 400, oauth?.error ?? 'invalid_request', oauth?.error_description ?? error.message);
    }
    case 'invalid_request':
      return answer(400, 'invalid_request', error.message);
    case 'login_required':
      return answer(401, 'login_required', error.message);
    case 'bad_gateway':
      return answer(502, 'server_error', 'the identity provider answered something that is not an OAuth response');
    default: {
      const rejection = rejectionFor(error, '');
      headers['Retry-After'] = rejection.headers['Retry-After'] ?? String(CONFIGURATION_RETRY_AFTER_SEC);
      return answer(503, 'temporarily_unavailable', rejection.payload.error_description);
    }
  }
}

