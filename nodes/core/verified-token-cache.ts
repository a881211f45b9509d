/**
 * Verified tokens, remembered: clients send the same access token for its whole life, so a token
 * that passed every check that does not depend on the route is kept (by a hash of its exact string)
 * and its next requests skip the signature. A hit still checks the time (`exp`, `nbf`, with the
 * clock tolerance) and that the key that verified it is still published, so a token never outlives
 * its `exp` or its key's removal from the JWKS. Route rules (scope, roles) always run afterwards.
 *
 * Bounded in entries and bytes; the least recently used entries go first. The cached `msg.auth` is
 * deep-frozen, so a flow that edits the one it received cannot change what the next request gets.
 */
import { createHash } from 'node:crypto';
import type { AuthInfo } from './claims';

export interface VerifiedTokenCacheOptions {
  /** Most tokens kept; 0 turns the cache off. */
  maxEntries: number;
  /** Most bytes kept (estimated from the token length). */
  maxBytes: number;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Which key verified a token, and for which `kid` and `alg`: a hit asks the key store again. */
export interface KeyReference {
  identity: string;
  kid: string | undefined;
  alg: string;
}

interface Entry {
  auth: AuthInfo;
  key: KeyReference;
  expiresAtMs: number;
  notBeforeMs: number;
  bytes: number;
}

/** Bytes an entry costs beyond its token: the map slot, the key hash, the frozen msg.auth skeleton. */
const ENTRY_OVERHEAD_BYTES = 512;

export class VerifiedTokenCache {
  private readonly options: VerifiedTokenCacheOptions;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(options: VerifiedTokenCacheOptions) {
    this.options = options;
  }

  /**
   * The cached `msg.auth` of a token still within its time window and still signed by a
   * published key, or undefined (then the token is verified in full).
   * @param toleranceSec clock tolerance for `nbf` (a cached entry never outlives `exp` itself)
   */
  get(token: string, toleranceSec: number, isPublished: (key: KeyReference) => boolean): AuthInfo | undefined {
    if (this.options.maxEntries === 0) return undefined;
    const key = digest(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.options.now();
    if (now >= entry.expiresAtMs || now + toleranceSec * 1000 < entry.notBeforeMs || !isPublished(entry.key)) {
      this.remove(key, entry);
      return undefined;
    }
    this.entries.delete(key); // re-insert: Map order is the recency order
    this.entries.set(key, entry);
    return entry.auth;
  }

  /** Keeps a verified token's `msg.auth` until its `exp`; returns the frozen copy that was kept. */
  set(token: string, auth: AuthInfo, verifiedBy: KeyReference): AuthInfo {
    const frozen = deepFreeze(auth);
    const exp = frozen.claims.exp;
    if (this.options.maxEntries === 0 || typeof exp !== 'number') return frozen;
    const expiresAtMs = exp * 1000;
    if (expiresAtMs <= this.options.now()) return frozen;
    const key = digest(token);
    const existing = this.entries.get(key);
    if (existing) this.remove(key, existing);
    const nbf = frozen.claims.nbf;
    const entry: Entry = {
      auth: frozen,
      key: verifiedBy,
      expiresAtMs,
      notBeforeMs: typeof nbf === 'number' ? nbf * 1000 : Number.NEGATIVE_INFINITY,
      bytes: token.length * 2 + ENTRY_OVERHEAD_BYTES,
    };
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) break;
      this.remove(oldest, old);
    }
    return frozen;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value as Record<string, unknown>)) deepFreeze(member);
  }
  return value;
}
