/**
 * Obtaining tokens, per grant, with the caching rules that keep them safe:
 *
 * - client_credentials (RFC 6749 §4.4): one token per scope and extra parameters, reused until
 *   shortly before it expires; concurrent misses make one provider call.
 * - password (§4.3) and token exchange (RFC 8693): never cached, never shared: the token belongs
 *   to the caller whose credentials or subject token obtained it.
 * - refresh_token (§6): concurrent refreshes of one refresh token make one provider call, so a
 *   single-use token is never spent twice; once the answer is in, the old token goes to the
 *   provider again, which refuses a reuse (RFC 9700 §4.14.2). When no new refresh token comes
 *   back, the old one is passed on.
 * - authorization_code with PKCE (RFC 7636, S256): pending logins are bounded and expire; `state`
 *   is single-use and bound to the browser that started the login (a cookie value given back to
 *   the caller), which stops login CSRF (RFC 9700 §4.7); the callback's `iss` must be ours, and is
 *   required when the provider says it sends one (RFC 9207).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { IdentityError } from './errors';
import { OAuthError, RESERVED_PARAMETERS, sanitize, type TokenClient, type TokenResponse } from './token-client';
import { SingleFlight } from './single-flight';
import { TtlCache } from './ttl-cache';

export const TOKEN_DEFAULTS = Object.freeze({
  /** A cached token is renewed this long before it expires, at most (half its life for short ones). */
  renewBeforeExpiryMs: 60_000,
  cacheEntries: 200,
  /** How long a login may take between the redirect and the callback. */
  loginTtlMs: 10 * 60_000,
  pendingLogins: 10_000,
});

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export type ExtraParameters = Readonly<Record<string, unknown>>;
/** Form parameters in order; a name may repeat (RFC 8707 `resource`). */
export type Parameters = Array<[string, string]>;

export interface TokenServiceOptions {
  client: TokenClient;
  clientId: string;
  /** The issuer a login callback's `iss` must name (RFC 9207), or one per tenant of an issuer template. */
  issuer: string | readonly string[];
  /** Resolves the authorization endpoint (a configured override, or discovery's). */
  authorizationEndpoint(): Promise<string>;
  /** Whether the provider says its authorization responses carry `iss` (RFC 9207 §3). */
  issParameterSupported(): Promise<boolean>;
  now(): number;
}

interface PendingLogin {
  codeVerifier: string;
  redirectUri: string;
  /** The value of the cookie the browser that started the login must bring back. */
  binding: string;
}

/** A login to start: where to send the browser, and the cookie value that binds it to this browser. */
export interface LoginStart {
  url: string;
  binding: string;
}

interface CachedToken {
  response: TokenResponse;
  expiresAtMs: number;
}

export class TokenService {
  private readonly options: TokenServiceOptions;
  private readonly cache: TtlCache<CachedToken>;
  private readonly logins: TtlCache<PendingLogin>;
  private readonly flights = new SingleFlight<TokenResponse>();

  constructor(options: TokenServiceOptions) {
    this.options = options;
    this.cache = new TtlCache({ maxEntries: TOKEN_DEFAULTS.cacheEntries, now: options.now });
    this.logins = new TtlCache({ maxEntries: TOKEN_DEFAULTS.pendingLogins, now: options.now });
  }

  /**
   * The cached client_credentials token for these parameters, if one is still fresh, with
   * `expires_in` counting the seconds it has left, not the ones it was issued with.
   */
  cachedClientCredentials(scope: string, extra: ExtraParameters): TokenResponse | undefined {
    const cached = this.cache.get(cacheKey(withExtra({ grant_type: 'client_credentials', scope }, extra)));
    return cached && this.remaining(cached);
  }

  /** A client_credentials token; `cache` reuses one until shortly before it expires. */
  clientCredentials(scope: string, extra: ExtraParameters, cache = true): Promise<TokenResponse> {
    const parameters = withExtra({ grant_type: 'client_credentials', scope }, extra);
    if (!cache) return this.options.client.request(parameters);
    const key = cacheKey(parameters);
    const cached = this.cache.get(key);
    if (cached) return Promise.resolve(this.remaining(cached));
    return this.flights.run(`cc:${key}`, async () => {
      const obtainedAtMs = this.options.now();
      const response = await this.options.client.request(parameters);
      const lifetimeMs = seconds(response.expires_in) * 1000;
      if (lifetimeMs > 0) {
        const renewAtMs = obtainedAtMs + lifetimeMs - Math.min(TOKEN_DEFAULTS.renewBeforeExpiryMs, lifetimeMs / 2);
        this.cache.set(key, { response, expiresAtMs: obtainedAtMs + lifetimeMs }, renewAtMs);
      }
      return response;
    }).then((response) => ({ ...response }));
  }

  /** Resource owner password credentials; the answer is the caller's alone and is not kept. */
  password(username: string, password: string, scope: string, extra: ExtraParameters): Promise<TokenResponse> {
    return this.options.client.request(withExtra({ grant_type: 'password', username, password, scope }, extra));
  }

  /** RFC 8693 token exchange of the caller's subject token. */
  exchange(subjectToken: string, subjectTokenType: string, scope: string, extra: ExtraParameters): Promise<TokenResponse> {
    return this.options.client.request(withExtra({
      grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subjectToken, subject_token_type: subjectTokenType, scope,
    }, extra));
  }

  /**
   * Trades a refresh token; concurrent refreshes of one token share one provider call and its
   * answer. Nothing is kept afterwards: a later reuse of the old token is the provider's to refuse.
   */
  refresh(refreshToken: string, extra: ExtraParameters = {}): Promise<TokenResponse> {
    return this.flights.run(`rt:${digest(refreshToken)}`, async () => {
      const response = await this.options.client.request(withExtra({ grant_type: 'refresh_token', refresh_token: refreshToken }, extra));
      // No new refresh token means the old one stays valid (RFC 6749 §6): pass it on.
      return response.refresh_token ? response : { ...response, refresh_token: refreshToken };
    }).then((response) => ({ ...response }));
  }

  /**
   * Where to send the browser, with a fresh `state` and PKCE S256 challenge (RFC 7636 §4), and the
   * binding value the caller must set as a cookie on that browser.
   */
  async startLogin(redirectUri: string, scope: string, extra: ExtraParameters): Promise<LoginStart> {
    const endpoint = new URL(await this.options.authorizationEndpoint());
    const state = randomBytes(32).toString('base64url');
    const binding = randomBytes(32).toString('base64url');
    const codeVerifier = randomBytes(32).toString('base64url');
    const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
    this.logins.set(state, { codeVerifier, redirectUri, binding }, this.options.now() + TOKEN_DEFAULTS.loginTtlMs);
    const parameters = withExtra({
      response_type: 'code', client_id: this.options.clientId, redirect_uri: redirectUri, scope, state,
      code_challenge: codeChallenge, code_challenge_method: 'S256',
    }, extra);
    for (const name of new Set(parameters.map(([key]) => key))) endpoint.searchParams.delete(name);
    for (const [name, value] of parameters) endpoint.searchParams.append(name, value);
    return { url: endpoint.href, binding };
  }

  /**
   * Checks the callback: `state` known and unused, brought back by the browser that started the
   * login (`binding`, the cookie's value), and `iss` ours; then exchanges the code with its verifier.
   */
  async finishLogin(query: Readonly<Record<string, unknown>>, binding: string | undefined, extra: ExtraParameters): Promise<TokenResponse> {
    const state = typeof query.state === 'string' ? query.state : '';
    const pending = state ? this.logins.get(state) : undefined;
    if (!pending) {
      throw new IdentityError('ERR_LOGIN_STATE_INVALID', 'the login is unknown or has expired; start it again');
    }
    // Checked before the state is spent, so that someone else's request cannot cancel a login.
    if (!binding || !safeEqual(binding, pending.binding)) {
      throw new IdentityError('ERR_LOGIN_STATE_INVALID', 'the callback comes from another browser than the login (login CSRF)');
    }
    this.logins.take(state);
    const issuers: readonly string[] = typeof this.options.issuer === 'string' ? [this.options.issuer] : this.options.issuer;
    if (query.iss === undefined ? await this.options.issParameterSupported() : !(typeof query.iss === 'string' && issuers.includes(query.iss))) {
      throw new IdentityError('ERR_LOGIN_STATE_INVALID', 'the callback does not name this issuer (RFC 9207)');
    }
    if (typeof query.error === 'string') {
      const description = typeof query.error_description === 'string' ? sanitize(query.error_description) : undefined;
      throw new OAuthError(401, sanitize(query.error), description, 'ERR_LOGIN_DENIED');
    }
    if (typeof query.code !== 'string' || !query.code) {
      throw new IdentityError('ERR_LOGIN_STATE_INVALID', 'the callback carries no authorization code');
    }
    return this.options.client.request(withExtra({
      grant_type: 'authorization_code', code: query.code, redirect_uri: pending.redirectUri, code_verifier: pending.codeVerifier,
    }, extra));
  }

  /** Drops every cached token and pending login (on redeploy). */
  clear(): void {
    this.cache.clear();
    this.logins.clear();
  }

  private remaining(cached: CachedToken): TokenResponse {
    const left = Math.max(0, Math.floor((cached.expiresAtMs - this.options.now()) / 1000));
    return { ...cached.response, expires_in: left };
  }
}

/**
 * The token set a session keeps: the token response plus absolute expiry times in ms, so that a
 * session read back from a context store after a restart still knows when its tokens end.
 */
export interface SessionTokens extends TokenResponse {
  expires_at?: number;
  refresh_expires_at?: number;
}

export function toSession(response: TokenResponse, nowMs: number): SessionTokens {
  const session: SessionTokens = { ...response };
  const lifetime = seconds(response.expires_in);
  if (lifetime > 0) session.expires_at = nowMs + lifetime * 1000;
  const refreshLifetime = seconds(response.refresh_expires_in);
  if (refreshLifetime > 0) session.refresh_expires_at = nowMs + refreshLifetime * 1000;
  return session;
}

/**
 * Whether a session's access token must be refreshed to stay valid for `minValiditySec` more.
 * A token of unknown lifetime is refreshed only when asked to be valid at all beyond now.
 */
export function needsRefresh(session: SessionTokens, nowMs: number, minValiditySec: number): boolean {
  if (typeof session.expires_at !== 'number') return false;
  return session.expires_at - nowMs < minValiditySec * 1000;
}

/** Whether the refresh token is known to have expired (Keycloak's `refresh_expires_in`). */
export function refreshExpired(session: SessionTokens, nowMs: number): boolean {
  return typeof session.refresh_expires_at === 'number' && session.refresh_expires_at <= nowMs;
}

/**
 * The grant's parameters plus a flow's extra ones. Extra parameters never replace the grant's own
 * or client authentication's; an array repeats its parameter (RFC 8707 `resource`); an empty grant
 * value (no scope configured) leaves the flow's in place.
 */
function withExtra(base: Record<string, string>, extra: ExtraParameters): Parameters {
  const parameters: Parameters = [];
  for (const [name, value] of Object.entries(extra)) {
    if (RESERVED_PARAMETERS.has(name) || (base[name] ?? '') !== '' || value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      parameters.push([name, typeof item === 'string' ? item : JSON.stringify(item)]);
    }
  }
  for (const [name, value] of Object.entries(base)) {
    if (value !== '') parameters.push([name, value]);
  }
  return parameters;
}

function cacheKey(parameters: Parameters): string {
  return JSON.stringify([...parameters].sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1)));
}

/** Compares two strings in constant time. */
function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Refresh tokens are looked up by digest, so no map key is a usable token. */
function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** `expires_in` as seconds; some providers (Entra v1) send it as a string. */
function seconds(value: unknown): number {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number > 0 ? number : 0;
}
