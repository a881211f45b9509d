/**
 * One call to the token endpoint (RFC 6749 §3.2): client authentication, the form POST, and the
 * answer parsed into a token response or the error model. The authenticated POST is shared with
 * the introspection endpoint (RFC 7662 §2.1), which takes the same client authentication.
 *
 * Client authentication: `client_secret_basic` (§2.3.1, id and secret form-encoded before Base64),
 * `client_secret_post` (§2.3.1), `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9; the `x5t#S256`
 * header carries a certificate thumbprint for providers such as Microsoft Entra) and `none` (public
 * clients, §2.1). A provider's OAuth error (§5.2) keeps its `error`, `error_description` and status;
 * anything else it answers (an HTML error page, a redirect, a 500) is a 502 of ours, and a provider
 * that cannot be reached is a 503.
 */
import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { IdentityError, ProviderUnavailableError, type ErrorCode } from './errors';
import type { FormResponse, HttpClient } from './http';

export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

export interface ClientAuthentication {
  clientId: string;
  method: ClientAuthMethod;
  clientSecret?: string;
  /** For private_key_jwt: the signing key, its JWS algorithm, and the optional header members. */
  privateKey?: { key: KeyObject; alg: string; keyId?: string; x5tS256?: string };
}

/** A successful token response (RFC 6749 §5.1), with the provider's extra members as returned. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number | string;
  refresh_token?: string;
  scope?: string;
  id_token?: string;
  [member: string]: unknown;
}

/** The provider refused the request with an OAuth error (RFC 6749 §5.2). */
export class OAuthError extends IdentityError {
  override readonly name = 'OAuthError';
  /** The HTTP status the provider used (400 or 401 as a rule). */
  readonly status: number;
  readonly error: string;
  readonly error_description: string | undefined;

  constructor(status: number, error: string, errorDescription: string | undefined, code?: ErrorCode) {
    super(code ?? (error === 'invalid_grant' ? 'ERR_GRANT_INVALID' : 'ERR_GRANT_REJECTED'),
      `the identity provider refused the request: ${error}${errorDescription ? ` (${errorDescription})` : ''}`);
    this.status = status;
    this.error = error;
    this.error_description = errorDescription;
  }
}

/** Seconds a caller is asked to wait after the token endpoint could not be reached. */
export const TOKEN_ENDPOINT_RETRY_AFTER_SEC = 5;
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CLIENT_ASSERTION_LIFETIME_SEC = 60;
/** Parameters that only client authentication sets: a flow's extra parameters never override them. */
export const RESERVED_PARAMETERS: ReadonlySet<string> = new Set([
  'grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type',
]);

export interface TokenClientOptions extends ClientPostOptions {
  /** Resolves the token endpoint URL (a configured override, or discovery's `token_endpoint`). */
  endpoint(signal?: AbortSignal): Promise<string>;
}

export class TokenClient {
  private readonly options: TokenClientOptions;

  constructor(options: TokenClientOptions) {
    this.options = options;
  }

  /**
   * POSTs `grant_type` and the other parameters, authenticated as the client.
   * @throws OAuthError (the provider's refusal), IdentityError ERR_TOKEN_RESPONSE_INVALID (502),
   *   ProviderUnavailableError ERR_TOKEN_ENDPOINT_UNAVAILABLE (503)
   */
  async request(parameters: Record<string, string> | Array<[string, string]>, signal?: AbortSignal): Promise<TokenResponse> {
    const url = await this.options.endpoint(signal);
    const response = await postAsClient(this.options, url, new URLSearchParams(parameters), (reason, cause) =>
      new ProviderUnavailableError('ERR_TOKEN_ENDPOINT_UNAVAILABLE', `the token endpoint could not be reached${reason}`,
        TOKEN_ENDPOINT_RETRY_AFTER_SEC, { cause }), signal);
    return parseTokenResponse(response.status, response.body, response.contentType);
  }
}

/** What a POST as the client needs: the HTTP client, the client's authentication and the clock. */
export interface ClientPostOptions {
  http: HttpClient;
  client: ClientAuthentication;
  /** Milliseconds since the epoch. */
  now(): number;
}

/**
 * POSTs a form to one of the provider's endpoints, authenticated as the client, asking for JSON.
 * The token endpoint and the introspection endpoint (RFC 7662 §2.1) take the same authentication.
 * @param unavailable what a transport failure (no answer at all) becomes; `reason` is ": <message>"
 *   of our transport error, or empty
 * @returns the answer, whatever its status: each endpoint reads its own
 */
export async function postAsClient(options: ClientPostOptions, url: string, form: URLSearchParams,
  unavailable: (reason: string, cause: unknown) => IdentityError, signal?: AbortSignal): Promise<FormResponse> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  await authenticateClient(options.client, url, form, headers, options.now());
  return options.http.postForm(url, form, headers, signal).catch((error: unknown) => {
    throw unavailable(error instanceof IdentityError ? `: ${error.message}` : '', error);
  });
}

/**
 * Authenticates the client on a request to one of the provider's endpoints (RFC 6749 §2.3,
 * RFC 7523 §2.2): sets the `Authorization` header or the form parameters the method needs.
 * @param audience the URL the request goes to: the `aud` of a private_key_jwt client assertion
 * @param nowMs milliseconds since the epoch, for the assertion's `iat` and `exp`
 */
async function authenticateClient(client: ClientAuthentication, audience: string, form: URLSearchParams,
  headers: Record<string, string>, nowMs: number): Promise<void> {
  const { clientId, method, clientSecret, privateKey } = client;
  switch (method) {
    case 'client_secret_basic':
      headers.Authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret ?? '')}`).toString('base64')}`;
      return;
    case 'client_secret_post':
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret ?? '');
      return;
    case 'none':
      form.set('client_id', clientId);
      return;
    case 'private_key_jwt': {
      const signing = privateKey as NonNullable<ClientAuthentication['privateKey']>;
      const nowSec = Math.floor(nowMs / 1000);
      const header: Record<string, string> = { alg: signing.alg, typ: 'JWT' };
      if (signing.keyId) header.kid = signing.keyId;
      if (signing.x5tS256) header['x5t#S256'] = signing.x5tS256;
      const assertion = await new SignJWT({})
        .setProtectedHeader(header as { alg: string })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(audience)
        .setJti(randomUUID())
        .setIssuedAt(nowSec)
        .setExpirationTime(nowSec + CLIENT_ASSERTION_LIFETIME_SEC)
        .sign(signing.key);
      form.set('client_id', clientId);
      form.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
      form.set('client_assertion', assertion);
      return;
    }
  }
}

/** RFC 6749 §5: a token response, an OAuth error, or a 502/503 of ours. */
export function parseTokenResponse(status: number, body: unknown, contentType: string): TokenResponse {
  const object = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  if (status >= 200 && status < 300) {
    if (object && typeof object.access_token === 'string' && object.access_token && typeof object.token_type === 'string') {
      return object as TokenResponse;
    }
    throw new IdentityError('ERR_TOKEN_RESPONSE_INVALID',
      `the token endpoint answered ${status} without a token response (${contentType || 'no content type'})`);
  }
  const error = typeof object?.error === 'string' ? object.error : undefined;
  if (status === 503 || error === 'temporarily_unavailable') {
    throw new ProviderUnavailableError('ERR_TOKEN_ENDPOINT_UNAVAILABLE', `the token endpoint is unavailable (HTTP ${status})`,
      TOKEN_ENDPOINT_RETRY_AFTER_SEC);
  }
  if (error && status >= 400 && status < 500) {
    const description = typeof object?.error_description === 'string' ? sanitize(object.error_description) : undefined;
    // The provider refusing our client (a wrong or expired secret, a grant the client may not use)
    // is the flow's configuration at fault, not the caller: a 502 that gets logged, not their 401.
    const ours = error === 'invalid_client' || error === 'unauthorized_client' ? 'ERR_CLIENT_REJECTED' : undefined;
    throw new OAuthError(status, sanitize(error), description, ours);
  }
  throw new IdentityError('ERR_TOKEN_RESPONSE_INVALID',
    `the token endpoint answered HTTP ${status} (${contentType || 'no content type'}), which is not an OAuth answer`);
}

/** RFC 6749 §2.3.1: the client id and secret are form-encoded before they are joined and Base64-encoded. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** RFC 6749 §5.2 limits error and error_description to %x20-21 / %x23-5B / %x5D-7E; keep them short. */
export function sanitize(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "'").slice(0, 500);
}
