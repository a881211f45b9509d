/**
 * Verifies a JWT access token, following the JWT Best Current Practices (RFC 8725) and, in strict
 * mode, the JWT profile for access tokens (RFC 9068 §4).
 *
 * The policy is ours, the primitives are jose's. Before any key is looked up, the header must pass:
 * an algorithm from the configured allowlist (RFC 8725 §3.1; asymmetric only, so never `none` and
 * never an HMAC keyed with a public key, §2.1-2.2), no key or key URL carried by the token itself
 * (§3.10), no `crit` or unencoded payload (RFC 7515 §4.1.11, RFC 7797). The key comes from the
 * provider's key set only. Then jose checks the signature with exactly that algorithm, and the
 * registered claims: `iss` exact (§3.8), `aud` (§3.9), `exp` (always required) and `nbf`.
 *
 * An encrypted token (a nested JWT, RFC 7519 §11.2) is refused unless a decrypter is configured;
 * then `jwe.ts` applies its own header policy and decrypts, and the inner JWS goes through all of
 * the above, unchanged; `iss`, `sub` or `aud` repeated in the JWE header must equal its claims
 * (RFC 7519 §5.3). The length limit applies to the token as sent.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { AccessDeniedError, IdentityError, isIdentityError } from './errors';
import type { DecryptedToken } from './jwe';

export interface VerifierOptions {
  /** The accepted `iss`: one issuer, or one per tenant of an issuer template. */
  issuer: string | readonly string[];
  /** A token must carry at least one of these in `aud` (never empty: see `Identity.assertCanValidate`). */
  audiences: readonly string[];
  /** Accepted JWS algorithms; only asymmetric ones (see `ASYMMETRIC_ALGORITHMS`). */
  algorithms: readonly string[];
  /** Leeway for `exp` and `nbf`, in seconds. */
  clockToleranceSec: number;
  /** RFC 9068 strict mode: `typ` at+jwt and the claims `sub`, `client_id`, `iat`, `jti` required. */
  rfc9068: boolean;
  /** Longest token accepted, in characters. */
  maxTokenLength: number;
  keys: {
    keyFor(kid: string | undefined, alg: string): Promise<CryptoKey>;
    /** Which published key this is, so that a cached verification can be checked against the JWKS. */
    identityOf?(key: CryptoKey): string;
  };
  /** Milliseconds since the epoch. */
  now(): number;
  /** Opens encrypted tokens (see `JweDecrypter`); without it they are refused with ERR_TOKEN_ENCRYPTED. */
  decrypter?: { decrypt(token: string): Promise<DecryptedToken> };
}

export interface VerifiedToken {
  claims: JWTPayload;
  header: { alg: string; kid?: string; typ?: string };
  /** The identity of the key that verified the signature (see `KeyStore.identityOf`). */
  keyIdentity: string;
}

/** Header members that carry a key or point to one (RFC 7515 §4.1.2-4.1.6, RFC 7516 §4.1.4-4.1.8). */
const KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const AT_JWT = /^(application\/)?at\+jwt$/i;
export const MAX_KID_LENGTH = 256;
/** Deeper claims than this are no access token; JSON.stringify in a later node would overflow its stack. */
const MAX_CLAIM_DEPTH = 32;
/** Claims an issuer may repeat in a JWE header (RFC 7519 §5.3); they must equal the signed ones. */
const REPLICATED_CLAIMS = ['iss', 'sub', 'aud'] as const;

export class TokenVerifier {
  private readonly options: VerifierOptions;
  private readonly allowed: ReadonlySet<string>;
  private readonly requiredClaims: string[];
  private readonly audiences: string[];
  private readonly issuers: readonly string[];

  /** Everything that does not depend on the token is prepared here, once per deploy. */
  constructor(options: VerifierOptions) {
    this.options = options;
    this.allowed = new Set(options.algorithms);
    this.requiredClaims = options.rfc9068 ? ['exp', 'iat', 'sub', 'client_id', 'jti'] : ['exp'];
    this.audiences = [...options.audiences];
    this.issuers = typeof options.issuer === 'string' ? [options.issuer] : [...options.issuer];
  }

  /** Resolves the verified claims; rejects with an `AccessDeniedError` or a provider error. */
  async verify(token: string): Promise<VerifiedToken> {
    const encrypted = await this.decrypt(token);
    const jws = encrypted?.jws ?? token;
    const header = this.checkHeader(jws);
    let key: CryptoKey;
    try {
      key = await this.options.keys.keyFor(header.kid, header.alg);
    } catch (error) {
      // No key of ours fits: a token of another issuer is told so (an Okta org-server token at a
      // custom server, a Keycloak token from another realm), which is what the integrator must fix.
      if (isIdentityError(error) && error.code === 'ERR_TOKEN_KEY_UNKNOWN') this.refuseForeignIssuer(jws);
      throw error;
    }
    try {
      const { payload } = await jwtVerify(jws, key, {
        algorithms: [header.alg],
        issuer: [...this.issuers],
        audience: this.audiences,
        clockTolerance: this.options.clockToleranceSec,
        currentDate: new Date(this.options.now()),
        requiredClaims: this.requiredClaims,
      });
      if (depthOf(payload) > MAX_CLAIM_DEPTH) {
        throw new AccessDeniedError('ERR_TOKEN_MALFORMED', `the access token claims are nested more than ${MAX_CLAIM_DEPTH} levels deep`);
      }
      if (encrypted) checkReplicatedClaims(encrypted.header, payload);
      return { claims: payload, header, keyIdentity: this.options.keys.identityOf?.(key) ?? '' };
    } catch (error) {
      throw fromJose(error);
    }
  }

  /**
   * Refuses a token whose (unverified) `iss` is none of ours with ERR_TOKEN_ISSUER. This only ever
   * refuses; `jwtVerify` checks `iss` again once the signature holds. A payload that cannot be read
   * is left alone.
   */
  private refuseForeignIssuer(token: string): void {
    let issuer: unknown;
    try {
      const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
      issuer = payload && typeof payload === 'object' ? (payload as { iss?: unknown }).iss : undefined;
    } catch {
      return;
    }
    if (issuer !== undefined && !(typeof issuer === 'string' && this.issuers.includes(issuer))) {
      throw new AccessDeniedError('ERR_TOKEN_ISSUER', 'the token was issued by another issuer than the configured one');
    }
  }

  /** The nested JWS of an encrypted token (five parts), after the length limit; undefined for any other token. */
  private async decrypt(token: string): Promise<DecryptedToken | undefined> {
    if (token.length > this.options.maxTokenLength) {
      throw new AccessDeniedError('ERR_TOKEN_TOO_LARGE', `the access token is longer than ${this.options.maxTokenLength} characters`);
    }
    if (!looksEncrypted(token)) return undefined;
    if (!this.options.decrypter) {
      throw new AccessDeniedError('ERR_TOKEN_ENCRYPTED', 'encrypted (JWE) access tokens are not accepted: no decryption key is configured');
    }
    return this.options.decrypter.decrypt(token);
  }

  private checkHeader(token: string): VerifiedToken['header'] {
    const parts = token.split('.');
    if (parts.length !== 3 || !BASE64URL.test(parts[0]) || !BASE64URL.test(parts[1]) || !/^[A-Za-z0-9_-]*$/.test(parts[2])) {
      throw new AccessDeniedError('ERR_TOKEN_MALFORMED', 'the access token is not a signed JWT');
    }
    const header = protectedHeaderOf(token, 'access token');
    const { alg, kid, typ } = header;
    if (typeof alg !== 'string' || !this.allowed.has(alg)) {
      throw new AccessDeniedError('ERR_TOKEN_ALG_NOT_ALLOWED', 'the token algorithm is not allowed');
    }
    refuseUntrustedMembers(header, 'token');
    if (typ !== undefined && typeof typ !== 'string') {
      throw new AccessDeniedError('ERR_TOKEN_MALFORMED', 'the token "typ" header is not a string');
    }
    if (this.options.rfc9068 && !(typeof typ === 'string' && AT_JWT.test(typ))) {
      throw new AccessDeniedError('ERR_TOKEN_TYPE', 'the token is not an RFC 9068 access token (typ "at+jwt")');
    }
    // Checked after the header policy, so that a refused header keeps its own code.
    // One token, one spelling (RFC 7515 §2, RFC 4648 §3.5): a part with spare bits set decodes to
    // the same bytes as another string, which would let one signature stand for many tokens.
    if (!parts.every(isCanonicalBase64url)) {
      throw new AccessDeniedError('ERR_TOKEN_MALFORMED', 'the access token is not canonically base64url-encoded');
    }
    if (parts[2].length === 0) {
      throw new AccessDeniedError('ERR_TOKEN_SIGNATURE', 'the token has no signature');
    }
    return { alg, kid: kid as string | undefined, typ: typ as string | undefined };
  }
}

/** A compact JWE has five parts (RFC 7516 §7.1); nothing else does. */
export function looksEncrypted(token: string): boolean {
  return token.split('.').length === 5;
}

/**
 * Refuses a token whose JWE header repeats `iss`, `sub` or `aud` with another value than the
 * verified claims (RFC 7519 §5.3): that header is anyone's to write, only the inner token is signed.
 */
function checkReplicatedClaims(header: Readonly<Record<string, unknown>>, claims: JWTPayload): void {
  for (const claim of REPLICATED_CLAIMS) {
    if (claim in header && !isDeepStrictEqual(header[claim], claims[claim])) {
      throw new AccessDeniedError('ERR_TOKEN_CLAIM_INVALID', `the "${claim}" in the encrypted token header differs from the signed one`);
    }
  }
}

/** The protected header of a compact JWS or JWE; ERR_TOKEN_MALFORMED when it is no JSON object. */
export function protectedHeaderOf(token: string, noun: string): Record<string, unknown> {
  try {
    return decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new AccessDeniedError('ERR_TOKEN_MALFORMED', `the ${noun} header is not a JSON object`);
  }
}

/**
 * The header members never honoured, in a JWS or a JWE (RFC 8725 §3.10, RFC 7515 / RFC 7516 §4.1):
 * a key or key URL (ERR_TOKEN_HEADER_KEY), critical extensions, `b64` among them (ERR_TOKEN_CRIT),
 * and a `kid` that is not a short string (ERR_TOKEN_MALFORMED). `noun` names the token in messages.
 */
export function refuseUntrustedMembers(header: Readonly<Record<string, unknown>>, noun: string): void {
  for (const member of KEY_HEADERS) {
    if (member in header) {
      throw new AccessDeniedError('ERR_TOKEN_HEADER_KEY', `the ${noun} carries a "${member}" header; keys are never taken from a token`);
    }
  }
  if ('crit' in header || 'b64' in header) {
    throw new AccessDeniedError('ERR_TOKEN_CRIT', `the ${noun} header has critical extensions, which are not supported`);
  }
  const { kid } = header;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH)) {
    throw new AccessDeniedError('ERR_TOKEN_MALFORMED', `the ${noun} "kid" header is not a short string`);
  }
}

/** Whether a base64url part is the one spelling of its bytes (RFC 4648 §3.5: no spare bits set). */
export function isCanonicalBase64url(part: string): boolean {
  return Buffer.from(part, 'base64url').toString('base64url') === part;
}

/** How deeply a JSON value nests (iteratively: a hostile depth must not overflow our stack either). */
function depthOf(value: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop() as [unknown, number];
    if (!current || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_CLAIM_DEPTH) return deepest;
    for (const member of Object.values(current)) pending.push([member, depth + 1]);
  }
  return deepest;
}

/** jose's errors, translated; only our own messages go out, never jose's with claim values. */
function fromJose(error: unknown): IdentityError {
  if (error instanceof joseErrors.JWTExpired) {
    return new AccessDeniedError('ERR_TOKEN_EXPIRED', 'the access token has expired');
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') {
      return new AccessDeniedError('ERR_TOKEN_CLAIM_INVALID', `the access token has no "${error.claim}" claim`);
    }
    if (error.reason === 'invalid') {
      return new AccessDeniedError('ERR_TOKEN_CLAIM_INVALID', `the access token "${error.claim}" claim is not of the right type`);
    }
    switch (error.claim) {
      case 'iss': return new AccessDeniedError('ERR_TOKEN_ISSUER', 'the access token was issued by another issuer');
      case 'aud': return new AccessDeniedError('ERR_TOKEN_AUDIENCE', 'the access token is not meant for this audience');
      case 'nbf': return new AccessDeniedError('ERR_TOKEN_NOT_YET_VALID', 'the access token is not valid yet');
      default: return new AccessDeniedError('ERR_TOKEN_CLAIM_INVALID', `the access token "${error.claim}" claim is invalid`);
    }
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new AccessDeniedError('ERR_TOKEN_SIGNATURE', 'the access token signature is invalid');
  }
  if (error instanceof IdentityError) return error;
  return new AccessDeniedError('ERR_TOKEN_MALFORMED', 'the access token is malformed');
}
