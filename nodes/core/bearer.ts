/**
 * Reads the bearer token of an HTTP request (RFC 6750 §2).
 *
 * Only the Authorization header is accepted (§2.1). Tokens in the URL query (§2.3) are refused,
 * as RFC 9700 §2.4.2 asks, because URLs end up in logs and Referer headers; a token in a form body
 * (§2.2) is refused too, since a flow cannot tell it from form data. A request that presents a token
 * in more than one way, or two Authorization headers, is malformed (§2: "MUST NOT use more than one
 * method").
 *
 * Where validate-token accepts DPoP (RFC 9449 §7.1), the same header may say `DPoP <token>`
 * instead; the proof that goes with it is checked in `dpop.ts`.
 */
import { AccessDeniedError } from './errors';

/** The parts of a request that carry credentials; Node-RED's `msg.req` (an Express request) fits. */
export interface CredentialSource {
  headers?: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
  query?: Record<string, unknown>;
  body?: unknown;
  /** The method and target of the request, for DPoP's `htm` and `htu` (Express keeps the mount path in originalUrl). */
  method?: string;
  originalUrl?: string;
  url?: string;
  /** The connection, for the TLS client certificate of certificate-bound tokens (RFC 8705 §3). */
  socket?: { getPeerCertificate?(detailed?: boolean): { raw?: Uint8Array } | null };
}

/** The schemes an access token may come with: Bearer (RFC 6750 §2.1) and DPoP (RFC 9449 §7.1). */
export type AuthScheme = 'bearer' | 'dpop';

/** The access token of a request and the scheme it came with. */
export interface PresentedToken {
  token: string;
  scheme: AuthScheme;
}

const BEARER_ONLY: readonly AuthScheme[] = ['bearer'];

export const BEARER_DEFAULTS = Object.freeze({ maxTokenLength: 16 * 1024 });

/** RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token (RFC 9449 §7.1: the same for "DPoP"); schemes are case-insensitive (RFC 9110 §11.1). */
const CREDENTIALS = /^(?:Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^([A-Za-z0-9!#$%&'*+\-.^_`|~]+)(?: |$)/;

/**
 * The token of the request; throws an `AccessDeniedError` (`ERR_BEARER_*`, `ERR_TOKEN_TOO_LARGE`).
 * @param maxTokenLength longest token accepted, in characters (default 16 KiB)
 */
export function extractBearerToken(request: CredentialSource, maxTokenLength: number = BEARER_DEFAULTS.maxTokenLength): string {
  return extractAccessToken(request, maxTokenLength).token;
}

/**
 * The token of the request and its scheme; throws an `AccessDeniedError` (`ERR_BEARER_*`,
 * `ERR_TOKEN_TOO_LARGE`, and `ERR_DPOP_REQUIRED` for a bearer token where only DPoP is accepted).
 * @param maxTokenLength longest token accepted, in characters (default 16 KiB)
 * @param schemes the schemes accepted (default Bearer only)
 */
export function extractAccessToken(request: CredentialSource, maxTokenLength: number = BEARER_DEFAULTS.maxTokenLength,
  schemes: readonly AuthScheme[] = BEARER_ONLY): PresentedToken {
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
  const scheme = SCHEME.exec(header)?.[1].toLowerCase();
  if (scheme === undefined) throw new AccessDeniedError('ERR_BEARER_MALFORMED', 'the Authorization header is malformed');
  if (!schemes.includes(scheme as AuthScheme)) {
    if (scheme === 'bearer') {
      throw new AccessDeniedError('ERR_DPOP_REQUIRED', 'this resource accepts DPoP-bound access tokens only (Authorization: DPoP)');
    }
    throw new AccessDeniedError('ERR_BEARER_SCHEME', schemes.includes('dpop') ? 'a bearer or DPoP access token is required' : 'a bearer access token is required');
  }
  // Checked before the syntax so that a huge header costs no regular-expression work.
  if (header.length > maxTokenLength + 7 + 64) {
    throw new AccessDeniedError('ERR_TOKEN_TOO_LARGE', `the access token is longer than ${maxTokenLength} characters`);
  }
  const match = CREDENTIALS.exec(header);
  if (!match) {
    throw new AccessDeniedError('ERR_BEARER_MALFORMED', `the Authorization header is not "${scheme === 'dpop' ? 'DPoP' : 'Bearer'}" followed by one token`);
  }
  if (match[1].length > maxTokenLength) {
    throw new AccessDeniedError('ERR_TOKEN_TOO_LARGE', `the access token is longer than ${maxTokenLength} characters`);
  }
  return { token: match[1], scheme: scheme as AuthScheme };
}

/** The scheme of the request's (first) Authorization header when it is Bearer or DPoP; never throws. */
export function presentedScheme(request: CredentialSource | undefined): AuthScheme | undefined {
  const value = request?.headers?.authorization;
  const first = Array.isArray(value) ? value[0] : value;
  const scheme = typeof first === 'string' ? SCHEME.exec(first)?.[1].toLowerCase() : undefined;
  return scheme === 'bearer' || scheme === 'dpop' ? scheme : undefined;
}

/** The Authorization header, or undefined. */
function authorizationHeader(request: CredentialSource): string | undefined {
  const value = singleHeader(request, 'authorization');
  if (value === null) throw new AccessDeniedError('ERR_BEARER_MULTIPLE', 'the request has more than one Authorization header');
  return value;
}

/**
 * The value of a header that may come once (`name` in lower case): undefined when absent or
 * empty, null when it comes more than once. Node keeps only the first of some repeated headers
 * and joins others with ", ", so the raw headers are counted.
 */
export function singleHeader(request: CredentialSource, name: string): string | null | undefined {
  const raw = request.rawHeaders;
  if (Array.isArray(raw)) {
    let count = 0;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length === name.length && raw[i].toLowerCase() === name) count += 1;
    }
    if (count > 1) return null;
  }
  const value = request.headers?.[name];
  if (Array.isArray(value)) return value.length > 1 ? null : value[0];
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
