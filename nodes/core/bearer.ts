/**
 * Reads the bearer token of an HTTP request (RFC 6750 §2).
 *
 * Only the Authorization header is accepted (§2.1). Tokens in the URL query (§2.3) are refused,
 * as RFC 9700 §2.4.2 asks, because URLs end up in logs and Referer headers; a token in a form body
 * (§2.2) is refused too, since a flow cannot tell it from form data. A request that presents a token
 * in more than one way, or two Authorization headers, is malformed (§2: "MUST NOT use more than one
 * method").
 */
import { AccessDeniedError } from './errors';

/** The parts of a request that carry credentials; Node-RED's `msg.req` (an Express request) fits. */
export interface CredentialSource {
  headers?: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
  query?: Record<string, unknown>;
  body?: unknown;
}

export const BEARER_DEFAULTS = Object.freeze({ maxTokenLength: 16 * 1024 });

/** RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^([A-Za-z0-9!#$%&'*+\-.^_`|~]+)(?: |$)/;

/**
 * The token of the request; throws an `AccessDeniedError` (`ERR_BEARER_*`, `ERR_TOKEN_TOO_LARGE`).
 * @param maxTokenLength longest token accepted, in characters (default 16 KiB)
 */
export function extractBearerToken(request: CredentialSource, maxTokenLength: number = BEARER_DEFAULTS.maxTokenLength): string {
  const header = authorizationHeader(request);
  const inQuery = hasAccessTokenField(request.query);
  // §2.2 applies to form bodies only: a JSON API may well carry an `access_token` field as data.
  const inBody = isFormBody(request) && hasAccessTokenField(request.body);
  if (header !== undefined && (inQuery || inBody)) {
    throw new AccessDeniedError('ERR_BEARER_MULTIPLE', 'the request presents the access token in more than one way');
  }
  if (header === undefined) {
    if (inQuery) throw new AccessDeniedError('ERR_BEARER_NOT_IN_HEADER', 'access tokens are not accepted in the URL query; use the Authorization header');
    if (inBody) throw new AccessDeniedError('ERR_BEARER_NOT_IN_HEADER', 'access tokens are not accepted in the request body; use the Authorization header');
    throw new AccessDeniedError('ERR_BEARER_MISSING', 'a bearer access token is required');
  }
  const scheme = SCHEME.exec(header);
  if (!scheme) throw new AccessDeniedError('ERR_BEARER_MALFORMED', 'the Authorization header is malformed');
  if (scheme[1].toLowerCase() !== 'bearer') {
    throw new AccessDeniedError('ERR_BEARER_SCHEME', 'a bearer access token is required');
  }
  // Checked before the syntax so that a huge header costs no regular-expression work.
  if (header.length > maxTokenLength + 7 + 64) {
    throw new AccessDeniedError('ERR_TOKEN_TOO_LARGE', `the access token is longer than ${maxTokenLength} characters`);
  }
  const match = BEARER.exec(header);
  if (!match) throw new AccessDeniedError('ERR_BEARER_MALFORMED', 'the Authorization header is not "Bearer" followed by one token');
  if (match[1].length > maxTokenLength) {
    throw new AccessDeniedError('ERR_TOKEN_TOO_LARGE', `the access token is longer than ${maxTokenLength} characters`);
  }
  return match[1];
}

/** The Authorization header, or undefined; Node keeps only the first of several, so count the raw ones. */
function authorizationHeader(request: CredentialSource): string | undefined {
  const raw = request.rawHeaders;
  if (Array.isArray(raw)) {
    let count = 0;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length === 13 && raw[i].toLowerCase() === 'authorization') count += 1;
    }
    if (count > 1) throw new AccessDeniedError('ERR_BEARER_MULTIPLE', 'the request has more than one Authorization header');
  }
  const value = request.headers?.authorization;
  if (Array.isArray(value)) {
    if (value.length > 1) throw new AccessDeniedError('ERR_BEARER_MULTIPLE', 'the request has more than one Authorization header');
    return value[0];
  }
  return value === undefined || value === '' ? undefined : value;
}

function isFormBody(request: CredentialSource): boolean {
  const type = request.headers?.['content-type'];
  return typeof type === 'string' && type.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

function hasAccessTokenField(container: unknown): boolean {
  return typeof container === 'object' && container !== null && !Array.isArray(container)
    && Object.prototype.hasOwnProperty.call(container, 'access_token');
}
