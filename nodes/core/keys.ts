/**
 * The provider's signing keys: a JWK Set (RFC 7517 §5) fetched from the `jwks_uri` of the
 * provider's metadata, and nowhere else (RFC 8725 §3.10: never from `jku`, `x5u`, `jwk` or `x5c`
 * in a token).
 *
 * Keys are imported once per fetch. A token whose `kid` is not in the set triggers a refetch (key
 * rotation at the provider), at most one per cooldown, so a stream of invented `kid`s cannot turn
 * into a stream of requests to the provider. While the provider is unreachable the last key set
 * keeps serving.
 */
import { createHash } from 'node:crypto';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { IdentityError } from './errors';
import type { HttpClient } from './http';
import { RefreshingValue } from './refreshing-value';

export interface KeyStoreOptions {
  http: HttpClient;
  /** Resolves the JWKS URL (from discovery, or a configured override). */
  jwksUri(signal: AbortSignal): Promise<string>;
  now(): number;
  /** Age after which the key set is refreshed in the background, in ms. Default 10 minutes. */
  maxAgeMs?: number;
  /** Least time between two refetches caused by an unknown `kid`, in ms. Default 30 s. */
  cooldownMs?: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Most keys read from one key set. Default 100. */
  maxKeys?: number;
}

export const KEY_DEFAULTS = Object.freeze({ maxAgeMs: 10 * 60_000, cooldownMs: 30_000, maxKeys: 100 });

/** The key family and curve each JWS algorithm needs (RFC 7518 §3.1, RFC 8037 §3.1). */
const KEY_TYPE_OF_ALG: Readonly<Record<string, { kty: string; crv?: readonly string[] }>> = {
  RS256: { kty: 'RSA' }, RS384: { kty: 'RSA' }, RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' }, PS384: { kty: 'RSA' }, PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: ['P-256'] }, ES384: { kty: 'EC', crv: ['P-384'] }, ES512: { kty: 'EC', crv: ['P-521'] },
  EdDSA: { kty: 'OKP', crv: ['Ed25519'] }, Ed25519: { kty: 'OKP', crv: ['Ed25519'] },
};

/** Algorithms that verify with a public key; the only ones the verifier may allow. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze(Object.keys(KEY_TYPE_OF_ALG));

interface KeySet {
  keys: JWK[];
  imported: Map<string, Promise<CryptoKey>>;
  /** Each key's identity: its kid and a digest of its public members, the same across fetches. */
  identities: Map<JWK, string>;
}

export class KeyStore {
  private readonly options: KeyStoreOptions;
  private readonly cooldownMs: number;
  private readonly maxKeys: number;
  private readonly set: RefreshingValue<KeySet>;
  private lastUnknownKidRefetchMs = Number.NEGATIVE_INFINITY;
  private readonly identityOfKey = new WeakMap<CryptoKey, string>();

  constructor(options: KeyStoreOptions) {
    this.options = options;
    this.cooldownMs = options.cooldownMs ?? KEY_DEFAULTS.cooldownMs;
    this.maxKeys = options.maxKeys ?? KEY_DEFAULTS.maxKeys;
    this.set = new RefreshingValue({
      load: (signal) => this.load(signal),
      now: options.now,
      maxAgeMs: options.maxAgeMs ?? KEY_DEFAULTS.maxAgeMs,
      backoffMinMs: options.backoffMinMs,
      backoffMaxMs: options.backoffMaxMs,
    });
  }

  /** Loads the key set if it is not loaded yet (at deploy time, so the first request is fast). */
  async warmUp(): Promise<number> {
    return (await this.set.get()).keys.length;
  }

  /** The verification key for a token's `kid` and `alg`; rejects with an `IdentityError`. */
  async keyFor(kid: string | undefined, alg: string): Promise<CryptoKey> {
    let set = await this.set.get();
    let match = select(set, kid, alg);
    // The cooldown counts from the last refetch an unknown kid started, not from the last load: a
    // key rotated just after deploy is picked up at once, and invented kids still cost one fetch
    // per cooldown at most. A refetch already in flight is joined, whoever started it, so requests
    // arriving during a rotation all wait for the new key set.
    const joining = this.set.loading;
    if (match.length === 0 && (joining || this.options.now() - this.lastUnknownKidRefetchMs >= this.cooldownMs)) {
      const refreshed = this.set.refresh();
      if (!joining && this.set.loading) this.lastUnknownKidRefetchMs = this.options.now();
      set = await refreshed;
      match = select(set, kid, alg);
    }
    if (match.length === 0) {
      throw new IdentityError('ERR_TOKEN_KEY_UNKNOWN', kid === undefined
        ? `the provider publishes no ${alg} key, and the token names none`
        : `the provider publishes no ${alg} key with this kid`);
    }
    if (match.length > 1) {
      throw new IdentityError('ERR_TOKEN_KEY_UNKNOWN', 'more than one provider key matches the token; it must name its kid');
    }
    const key = await importOnce(set, match[0], alg);
    this.identityOfKey.set(key, set.identities.get(match[0]) as string);
    return key;
  }

  /** The identity of a key this store handed out (for `isPublished` later). */
  identityOf(key: CryptoKey): string {
    return this.identityOfKey.get(key) ?? '';
  }

  /**
   * Whether the key set loaded last would still choose this very key for a token's `kid` and `alg`
   * (exactly one match, with the same identity), as a full verification would. Never waits, but
   * starts the periodic refetch when the key set is old, so a removed key stops counting within
   * the key set's maximum age even when every request is a cache hit.
   */
  isPublished(identity: string, kid: string | undefined, alg: string): boolean {
    this.set.touch();
    const set = this.set.current;
    if (!set) return false;
    const match = select(set, kid, alg);
    return match.length === 1 && set.identities.get(match[0]) === identity;
  }

  close(): void {
    this.set.close();
  }

  private async load(signal: AbortSignal): Promise<KeySet> {
    const uri = await this.options.jwksUri(signal);
    const body = await this.options.http.getJson(uri, signal).then(
      (response) => response.body,
      (error: unknown) => {
        const reason = error instanceof IdentityError ? `: ${error.message}` : '';
        const code = error instanceof IdentityError && error.code === 'ERR_HTTP_BODY' ? 'ERR_JWKS_INVALID' : 'ERR_JWKS_UNAVAILABLE';
        throw new IdentityError(code, `the key set at ${uri} could not be fetched${reason}`, { cause: error });
      },
    );
    const listed = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(listed)) {
      throw new IdentityError('ERR_JWKS_INVALID', `${uri} is not a JWK Set (no "keys" array)`);
    }
    const keys = listed.slice(0, this.maxKeys).filter(isVerificationKey);
    const identities = new Map(keys.map((jwk) => [jwk, keyIdentity(jwk)] as const));
    return { keys, imported: new Map(), identities };
  }
}

/** The kid and a digest of the public members: a key keeps it across fetches, and loses it if replaced. */
function keyIdentity(jwk: JWK): string {
  const publicMembers = [jwk.kty, jwk.crv, jwk.n, jwk.e, jwk.x, jwk.y].map((member) => member ?? '').join('.');
  return `${jwk.kid ?? ''}:${createHash('sha256').update(publicMembers).digest('base64url')}`;
}

/** A public key meant for signatures; private or symmetric material is never used to verify. */
function isVerificationKey(value: unknown): value is JWK {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const jwk = value as JWK & Record<string, unknown>;
  if (typeof jwk.kty !== 'string' || jwk.kty === 'oct' || 'd' in jwk) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return false;
  return jwk.kid === undefined || typeof jwk.kid === 'string';
}

function select(set: KeySet, kid: string | undefined, alg: string): JWK[] {
  const family = KEY_TYPE_OF_ALG[alg];
  if (!family) return [];
  return set.keys.filter((jwk) => (kid === undefined || jwk.kid === kid)
    && jwk.kty === family.kty
    && (family.crv === undefined || family.crv.includes(String(jwk.crv)))
    && (jwk.alg === undefined || jwk.alg === alg));
}

function importOnce(set: KeySet, jwk: JWK, alg: string): Promise<CryptoKey> {
  const id = `${set.keys.indexOf(jwk)}:${alg}`;
  let key = set.imported.get(id);
  if (!key) {
    key = (importJWK(jwk, alg) as Promise<CryptoKey>).catch((error: unknown) => {
      set.imported.delete(id);
      throw new IdentityError('ERR_TOKEN_KEY_UNKNOWN', 'the provider key for this token could not be imported', { cause: error });
    });
    set.imported.set(id, key);
  }
  return key;
}
