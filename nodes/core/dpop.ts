/**
 * DPoP: access tokens bound to a key that the client holds (RFC 9449).
 *
 * With the DPoP scheme (`Authorization: DPoP <token>`, §7.1) every request carries a proof in its
 * `DPoP` header: a JWT the client signs, for this one request, with the key its token is bound to.
 * The proof is checked as §4.3 lists: one header, a signed JWT of `typ` dpop+jwt, an asymmetric
 * algorithm, a public key in its `jwk` header that verifies it; `htm` and `htu` naming this
 * request, a recent `iat`, a `jti` not seen before, and `ath` the hash of the access token
 * (§4.3 step 12, §7.1). Then the token's `cnf.jkt` must be that key's thumbprint (RFC 7638; §6.1).
 *
 * `htu` is compared with the configured public URL of this Node-RED plus the request's path, never
 * with the Host or X-Forwarded-* headers, which the client chooses. Server-provided nonces
 * (§8, §9) are not supported: a proof's `nonce` is not looked at, and freshness rests on the `iat`
 * window and the replay cache of `jti` values.
 *
 * A DPoP-bound token presented with the Bearer scheme is refused (§7.1), and with `required` the
 * Bearer scheme is refused altogether (see `extractAccessToken`).
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK, type JWTPayload } from 'jose';
import { singleHeader, type AuthScheme, type CredentialSource, type PresentedToken } from './bearer';
import { confirmationClaim, type Confirmation } from './claims';
import { AccessDeniedError, ConfigurationError } from './errors';
import { TtlCache } from './ttl-cache';

export const DPOP_MODES = ['off', 'allowed', 'required'] as const;
export type DpopMode = (typeof DPOP_MODES)[number];

/** Proof algorithms accepted, the order of the `algs` challenge attribute: asymmetric only (§4.2). */
export const DPOP_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512',
]);

export const DPOP_DEFAULTS = Object.freeze({
  /** How old a proof may be (its `iat`), in seconds, besides the clock tolerance. */
  proofMaxAgeSec: 60,
  /** Proofs remembered for replay detection; beyond that, the oldest are forgotten first. */
  replayCacheEntries: 100_000,
  /** Longest proof accepted, in characters. */
  maxProofLength: 8 * 1024,
});

export interface DpopOptions {
  /** `off` (default), `allowed` (Bearer and DPoP) or `required` (DPoP only). */
  mode?: DpopMode | string;
  /** The external base URL of this Node-RED (`https://api.example.com`); required unless off. */
  publicUrl?: string;
  /** Leeway for `iat`, in seconds (the identity's clock tolerance). */
  clockToleranceSec: number;
  /** Default `DPOP_DEFAULTS.proofMaxAgeSec`. */
  proofMaxAgeSec?: number;
  /** Default `DPOP_DEFAULTS.replayCacheEntries`. */
  replayCacheEntries?: number;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** What a checked proof says: its key's thumbprint, and the claims the replay cache needs. */
export interface VerifiedProof {
  jkt: string;
  jti: string;
  iat: number;
}

/** The request a proof must name: its method and its path (without the query). */
export interface ProofTarget {
  method: string;
  path: string;
}

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_KEY_TYPES = ['EC', 'RSA', 'OKP'];
const DPOP_TYPE = /^(application\/)?dpop\+jwt$/i;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_JTI_LENGTH = 256;

export class DpopPolicy {
  readonly mode: DpopMode;
  /** The schemes of the Authorization header this policy accepts. */
  readonly schemes: readonly AuthScheme[];
  private readonly publicUrl: string | undefined;
  private readonly toleranceSec: number;
  private readonly maxAgeSec: number;
  private readonly now: () => number;
  private readonly replay: TtlCache<true>;

  /** Validates the options; throws a `ConfigurationError` (at deploy time) when one is wrong. */
  constructor(options: DpopOptions) {
    const mode = (typeof options.mode === 'string' && options.mode.trim() ? options.mode.trim() : 'off') as DpopMode;
    if (!DPOP_MODES.includes(mode)) {
      throw new ConfigurationError('ERR_CONFIG_INVALID', 'dpop', `dpop must be one of ${DPOP_MODES.join(' ')}`);
    }
    this.mode = mode;
    this.schemes = { off: ['bearer'], allowed: ['bearer', 'dpop'], required: ['dpop'] }[mode] as AuthScheme[];
    this.publicUrl = mode === 'off' ? undefined : parsePublicUrl(options.publicUrl);
    this.toleranceSec = options.clockToleranceSec;
    this.maxAgeSec = options.proofMaxAgeSec ?? DPOP_DEFAULTS.proofMaxAgeSec;
    this.now = options.now;
    this.replay = new TtlCache({ maxEntries: options.replayCacheEntries ?? DPOP_DEFAULTS.replayCacheEntries, now: options.now });
  }

  /** The DPoP challenge of rejections (RFC 9449 §7.1), or undefined when DPoP is off. */
  get challenge(): { required: boolean; algorithms: readonly string[] } | undefined {
    return this.mode === 'off' ? undefined : { required: this.mode === 'required', algorithms: DPOP_ALGORITHMS };
  }

  /**
   * Checks a verified token against the request's scheme and proof.
   * @returns `{ jkt }` when a proof was checked; undefined for a bearer token (or when off)
   * @throws AccessDeniedError `ERR_TOKEN_DPOP_BOUND`, `ERR_DPOP_PROOF_*`, `ERR_DPOP_BINDING`
   */
  async confirm(request: CredentialSource, claims: JWTPayload, presented: PresentedToken): Promise<Confirmation | undefined> {
    // A DPoP-bound token sent as a bearer token is refused even when DPoP is off (RFC 9449 §7.1):
    // whoever holds it without the key is most likely not the client it was issued to.
    const bound = confirmationClaim(claims, 'jkt');
    if (presented.scheme === 'bearer') {
      if (bound !== undefined) {
        throw new AccessDeniedError('ERR_TOKEN_DPOP_BOUND', 'the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof');
      }
      return undefined;
    }
    if (this.mode === 'off') return undefined;
    const proof = singleHeader(request, 'dpop');
    if (proof === null) throw new AccessDeniedError('ERR_DPOP_PROOF_INVALID', 'the request has more than one DPoP header');
    if (proof === undefined) throw new AccessDeniedError('ERR_DPOP_PROOF_MISSING', 'the DPoP scheme needs a DPoP proof in the DPoP header');
    const verified = await this.verifyProof(proof, targetOf(request), presented.token);
    if (bound === undefined) {
      throw new AccessDeniedError('ERR_DPOP_BINDING', 'the access token is not DPoP-bound (it has no cnf.jkt claim)');
    }
    if (bound !== verified.jkt) {
      throw new AccessDeniedError('ERR_DPOP_BINDING', "the access token is bound to another key than the DPoP proof's");
    }
    this.remember(verified);
    return { jkt: verified.jkt };
  }

  /**
   * Checks a proof (RFC 9449 §4.3 steps 2-9, 11, 12) for a request and its access token; the
   * replay check (`jti`) is the caller's, once the binding holds.
   * @throws AccessDeniedError `ERR_DPOP_PROOF_INVALID`
   */
  async verifyProof(proof: string, target: ProofTarget, accessToken: string): Promise<VerifiedProof> {
    if (proof.length > DPOP_DEFAULTS.maxProofLength || !COMPACT_JWS.test(proof)) {
      throw invalid('the DPoP proof is not a signed JWT');
    }
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(proof) as Record<string, unknown>;
    } catch {
      throw invalid('the DPoP proof header is not a JSON object');
    }
    const { typ, alg, jwk } = header;
    if (typeof typ !== 'string' || !DPOP_TYPE.test(typ)) throw invalid('the DPoP proof is not of typ dpop+jwt');
    if (typeof alg !== 'string' || !DPOP_ALGORITHMS.includes(alg)) {
      throw invalid(`the DPoP proof algorithm is not allowed; use one of ${DPOP_ALGORITHMS.join(' ')}`);
    }
    const publicJwk = checkPublicJwk(jwk);
    let payload: Uint8Array;
    try {
      const key = await importJWK(publicJwk, alg);
      ({ payload } = await compactVerify(proof, key, { algorithms: [alg] }));
    } catch {
      throw invalid('the DPoP proof signature does not verify with its jwk');
    }
    const claims = jsonObject(payload);
    const { jti, htm, htu, iat, ath } = claims;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
      throw invalid(`the DPoP proof needs a jti of 1 to ${MAX_JTI_LENGTH} characters`);
    }
    if (typeof htm !== 'string' || htm !== target.method) throw invalid('the DPoP proof is for another HTTP method (htm)');
    const expectedUrl = normalisedUrl(`${this.publicUrl}${target.path}`);
    if (typeof htu !== 'string' || expectedUrl === undefined || normalisedUrl(htu) !== expectedUrl) {
      throw invalid('the DPoP proof is for another URL (htu)');
    }
    const nowSec = this.now() / 1000;
    if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > nowSec + this.toleranceSec
      || iat < nowSec - this.maxAgeSec - this.toleranceSec) {
      throw invalid(`the DPoP proof was not issued within the last ${this.maxAgeSec} seconds (iat)`);
    }
    if (typeof ath !== 'string' || ath !== createHash('sha256').update(accessToken).digest('base64url')) {
      throw invalid('the DPoP proof is for another access token (ath)');
    }
    return { jkt: await calculateJwkThumbprint(publicJwk, 'sha256'), jti, iat };
  }

  /** Forgets every proof seen (on close). */
  clear(): void {
    this.replay.clear();
  }

  /**
   * Refuses a proof whose `jti` was seen; remembers it for as long as its `iat` passes the check
   * above, so that no replay within that time goes unseen (unless the cache overflows).
   */
  private remember(proof: VerifiedProof): void {
    const key = createHash('sha256').update(proof.jti).digest('base64url');
    if (this.replay.get(key)) throw new AccessDeniedError('ERR_DPOP_PROOF_REPLAYED', 'the DPoP proof was used before (jti)');
    this.replay.set(key, true, (proof.iat + this.maxAgeSec + this.toleranceSec) * 1000 + 1);
  }
}

/** The proof's `jwk` header: a public key, never a private or symmetric one (§4.3 step 7). */
function checkPublicJwk(jwk: unknown): JWK {
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw invalid('the DPoP proof has no jwk header');
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in members)) throw invalid('the DPoP proof jwk holds private key material');
  if (typeof members.kty !== 'string' || !PUBLIC_KEY_TYPES.includes(members.kty)) {
    throw invalid('the DPoP proof jwk is not a public key (EC, RSA or OKP)');
  }
  return members as JWK;
}

function jsonObject(payload: Uint8Array): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw invalid('the DPoP proof claims are not a JSON object');
}

/** The method and the path of a request (Express: originalUrl keeps the mount path of httpNodeRoot). */
function targetOf(request: CredentialSource): ProofTarget {
  const url = request.originalUrl ?? request.url ?? '/';
  return { method: request.method ?? '', path: url.split(/[?#]/, 1)[0] };
}

/**
 * An http(s) URL without query and fragment (§4.3 step 9), normalised as RFC 3986 §6.2.2 and §6.2.3
 * ask: the URL parser lowers scheme and host, drops the default port and resolves dot segments;
 * percent-encodings are upper-cased and those of unreserved characters decoded. Undefined when
 * `value` is no such URL.
 */
export function normalisedUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(Number.parseInt(escape.slice(1), 16));
    return /^[A-Za-z0-9\-._~]$/.test(char) ? char : escape.toUpperCase();
  });
  return `${url.origin}${path}`;
}

/** The public URL option: an absolute http(s) URL, no credentials, query or fragment; kept without a trailing slash. */
function parsePublicUrl(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  const problem = (detail: string): ConfigurationError => new ConfigurationError('ERR_CONFIG_INVALID', 'publicUrl',
    `publicUrl ${detail}: the external base URL of this Node-RED, such as https://api.example.com, which DPoP proofs name in htu`);
  if (!text) throw problem('is required when dpop is allowed or required');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw problem('is not a URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || /[?#]/.test(text)) {
    throw problem('must be an http(s) URL without credentials, query or fragment');
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function invalid(message: string): AccessDeniedError {
  return new AccessDeniedError('ERR_DPOP_PROOF_INVALID', message);
}
