/**
 * Token introspection (RFC 7662): the provider says whether a token is active and what it stands
 * for. For tokens this resource server cannot verify itself (opaque tokens), and for JWTs whose
 * revocation must be seen before their `exp`.
 *
 * - The request (§2.1): a form POST of `token` and `token_type_hint=access_token`, authenticated
 *   as the client exactly as at the token endpoint, with the HTTP client's deadline and size limit.
 * - The answer (§2.2) is held to the rules a JWT's claims are held to: `active` must be the
 *   boolean true; `iss`, when present, must be the issuer; `aud` must name a configured audience,
 *   and an answer without `aud` is refused, since nothing else ties the token to this API (§4:
 *   a token meant for another API is "active" too); `exp` and `nbf` hold with the clock
 *   tolerance; `token_type`, when present, must not be `refresh_token`.
 * - Failures: the endpoint unreachable, timing out or answering 5xx is a 503 with Retry-After; a
 *   refusal of our own client (401, 403, `invalid_client`) is a configuration error; anything else
 *   that is no introspection response is a 503 too. None of them ever lets a token through.
 * - Caching (§4 leaves the trade between load and revocation latency to the resource server):
 *   an answer is kept under the SHA-256 of the token, never the token itself; a positive one
 *   until the token's `exp` or `cacheSec`, whichever comes first, a negative one (a refused token)
 *   for `NEGATIVE_CACHE_SEC`; failures are not kept. Concurrent checks of one token make one call.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { AccessDeniedError, IdentityError, ProviderUnavailableError } from './errors';
import { SingleFlight } from './single-flight';
import { postAsClient, sanitize, type ClientPostOptions } from './token-client';
import { TtlCache } from './ttl-cache';

export const INTROSPECTION_DEFAULTS = Object.freeze({
  /** Longest a positive answer is kept, in seconds (identity-config `introspectionCacheSec`). */
  cacheSec: 60,
  /** How long a refused token's answer is kept, in seconds: a client that retries a dead token is not worth a call each time. */
  negativeCacheSec: 5,
  /** Seconds a caller is asked to wait when the introspection endpoint cannot be asked. */
  retryAfterSec: 5,
  /** Larger answers (serialised JSON, in characters) are used, but not kept. */
  maxCachedAnswerLength: 16 * 1024,
  /** Deeper answers are no introspection response; JSON.stringify in a later node would overflow its stack. */
  maxAnswerDepth: 32,
});

export interface IntrospectorOptions<T> extends ClientPostOptions {
  /** Resolves the introspection endpoint (a configured override, or discovery's `introspection_endpoint`). */
  endpoint(signal?: AbortSignal): Promise<string>;
  /** The issuer, or one per tenant of an issuer template; an answer's `iss`, when present, must be one. */
  issuer: string | readonly string[];
  /** An answer's `aud` must name at least one of these (never empty: see `Identity.assertCanValidate`). */
  audiences: readonly string[];
  /** Leeway for `exp` and `nbf`, in seconds. */
  clockToleranceSec: number;
  /** Longest a positive answer is kept, in seconds; 0 keeps no answer, positive or negative. */
  cacheSec: number;
  /** Most answers kept; the least recently used go first. */
  maxEntries: number;
  /** What a checked answer becomes for callers (`msg.auth`); called once per call to the provider. */
  toResult(claims: JWTPayload): T;
}

type Outcome<T> = { accepted: true; value: T } | { accepted: false; error: IdentityError };

export class Introspector<T> {
  private readonly options: IntrospectorOptions<T>;
  private readonly answers: TtlCache<Outcome<T>>;
  private readonly flights = new SingleFlight<T>();
  private readonly abort = new AbortController();

  constructor(options: IntrospectorOptions<T>) {
    this.options = options;
    this.answers = new TtlCache({ maxEntries: options.maxEntries, now: options.now });
  }

  /**
   * What the provider says about a token, checked and mapped by `toResult`; the result is frozen,
   * since it may be kept and handed to later requests.
   * @throws AccessDeniedError (401: inactive, or an answer that breaks a rule), ProviderUnavailableError
   *   ERR_INTROSPECTION_UNAVAILABLE / ERR_INTROSPECTION_INVALID (503), IdentityError
   *   ERR_INTROSPECTION_CLIENT_REJECTED (configuration), or a discovery error
   */
  check(token: string): Promise<T> {
    const key = createHash('sha256').update(token).digest('base64url');
    const kept = this.answers.get(key);
    if (kept) return kept.accepted ? Promise.resolve(kept.value) : Promise.reject(kept.error);
    return this.flights.run(key, () => this.introspect(token, key));
  }

  /** Stops calls in flight and forgets every answer. */
  close(): void {
    this.abort.abort();
    this.answers.clear();
  }

  private async introspect(token: string, key: string): Promise<T> {
    const nowMs = this.options.now();
    const cacheMs = this.options.cacheSec * 1000;
    let claims: JWTPayload;
    try {
      claims = this.checkAnswer(await this.ask(token));
    } catch (error) {
      if (error instanceof AccessDeniedError) {
        this.answers.set(key, { accepted: false, error }, nowMs + Math.min(cacheMs, INTROSPECTION_DEFAULTS.negativeCacheSec * 1000));
      }
      throw error;
    }
    const value = this.options.toResult(claims);
    freezeAll(value, INTROSPECTION_DEFAULTS.maxAnswerDepth + 1); // what toResult added to the frozen claims
    if (JSON.stringify(claims).length <= INTROSPECTION_DEFAULTS.maxCachedAnswerLength) {
      const expiresAtMs = typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY;
      this.answers.set(key, { accepted: true, value }, Math.min(nowMs + cacheMs, expiresAtMs));
    }
    return value;
  }

  private async ask(token: string): Promise<Record<string, unknown>> {
    const { signal } = this.abort;
    const url = await this.options.endpoint(signal);
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const response = await postAsClient(this.options, url, form, (reason, cause) =>
      new ProviderUnavailableError('ERR_INTROSPECTION_UNAVAILABLE', `the introspection endpoint could not be reached${reason}`,
        INTROSPECTION_DEFAULTS.retryAfterSec, { cause }), signal);
    const answer = parseIntrospectionResponse(response.status, response.body, response.contentType);
    if (!freezeAll(answer, INTROSPECTION_DEFAULTS.maxAnswerDepth)) {
      throw new ProviderUnavailableError('ERR_INTROSPECTION_INVALID',
        `the introspection response is nested more than ${INTROSPECTION_DEFAULTS.maxAnswerDepth} levels deep`, INTROSPECTION_DEFAULTS.retryAfterSec);
    }
    return answer;
  }

  /** RFC 7662 §2.2 and §4, with the rules of RFC 8725 §3.8-3.9 for `iss` and `aud`. */
  private checkAnswer(answer: Record<string, unknown>): JWTPayload {
    if (answer.active !== true) {
      throw new AccessDeniedError('ERR_TOKEN_INACTIVE', 'the identity provider says the access token is not active');
    }
    const { iss, aud, exp, nbf, token_type: tokenType } = answer;
    if (typeof tokenType === 'string' && tokenType.toLowerCase() === 'refresh_token') {
      throw new AccessDeniedError('ERR_TOKEN_NOT_ACCESS_TOKEN', 'the token is a refresh token, not an access token');
    }
    const issuers: readonly string[] = typeof this.options.issuer === 'string' ? [this.options.issuer] : this.options.issuer;
    if (iss !== undefined && !(typeof iss === 'string' && issuers.includes(iss))) {
      throw new AccessDeniedError('ERR_TOKEN_ISSUER', 'the access token was issued by another issuer');
    }
    if (aud === undefined) {
      throw new AccessDeniedError('ERR_TOKEN_AUDIENCE', 'the introspection response names no audience (aud), so the token cannot be tied to this API');
    }
    const audiences = typeof aud === 'string' ? [aud] : aud;
    if (!Array.isArray(audiences) || !audiences.every((value) => typeof value === 'string')) {
      throw new AccessDeniedError('ERR_TOKEN_CLAIM_INVALID', 'the "aud" member of the introspection response is not of the right type');
    }
    if (!audiences.some((value) => this.options.audiences.includes(value))) {
      throw new AccessDeniedError('ERR_TOKEN_AUDIENCE', 'the access token is not meant for this audience');
    }
    for (const [name, value] of [['exp', exp], ['nbf', nbf]] as const) {
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) {
        throw new AccessDeniedError('ERR_TOKEN_CLAIM_INVALID', `the "${name}" member of the introspection response is not a number`);
      }
    }
    const nowSec = this.options.now() / 1000;
    const tolerance = this.options.clockToleranceSec;
    if (typeof exp === 'number' && exp <= nowSec - tolerance) {
      throw new AccessDeniedError('ERR_TOKEN_EXPIRED', 'the access token has expired');
    }
    if (typeof nbf === 'number' && nbf > nowSec + tolerance) {
      throw new AccessDeniedError('ERR_TOKEN_NOT_YET_VALID', 'the access token is not valid yet');
    }
    return answer as JWTPayload;
  }
}

/**
 * RFC 7662 §2.2-2.3: the answer as an object with a boolean `active`, or the error model. Only the
 * provider's `error` code is quoted, never its `error_description`, which may echo what was sent.
 */
export function parseIntrospectionResponse(status: number, body: unknown, contentType: string): Record<string, unknown> {
  const object = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  const retryAfterSec = INTROSPECTION_DEFAULTS.retryAfterSec;
  if (status >= 200 && status < 300) {
    if (!object) {
      throw new ProviderUnavailableError('ERR_INTROSPECTION_INVALID',
        `the introspection endpoint answered ${status} without a JSON object (${contentType || 'no content type'})`, retryAfterSec);
    }
    if (typeof object.active !== 'boolean') {
      throw new ProviderUnavailableError('ERR_INTROSPECTION_INVALID', 'the introspection response has no boolean "active" member', retryAfterSec);
    }
    return object;
  }
  if (status >= 500) {
    throw new ProviderUnavailableError('ERR_INTROSPECTION_UNAVAILABLE', `the introspection endpoint answered HTTP ${status}`, retryAfterSec);
  }
  const error = typeof object?.error === 'string' ? sanitize(object.error) : undefined;
  const said = error ? ` (${error})` : '';
  if (status === 401 || status === 403 || error === 'invalid_client' || error === 'unauthorized_client') {
    throw new IdentityError('ERR_INTROSPECTION_CLIENT_REJECTED', `the introspection endpoint refused this client: HTTP ${status}${said}`);
  }
  throw new ProviderUnavailableError('ERR_INTROSPECTION_INVALID',
    `the introspection endpoint answered HTTP ${status}${said}, which is not an introspection response`, retryAfterSec);
}

/**
 * Freezes a value and everything in it, iteratively (an answer may nest deeply): what is kept is
 * shared by later requests. False, with the rest left unfrozen, once it nests deeper than `maxDepth`.
 */
function freezeAll(value: unknown, maxDepth: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop() as [unknown, number];
    if (!current || typeof current !== 'object' || Object.isFrozen(current)) continue;
    if (depth > maxDepth) return false;
    Object.freeze(current);
    for (const member of Object.values(current)) pending.push([member, depth + 1]);
  }
  return true;
}
