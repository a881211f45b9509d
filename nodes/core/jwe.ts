/**
 * Encrypted access tokens: nested JWTs (RFC 7519 §11.2), a JWE (RFC 7516) whose plaintext is a
 * signed JWT, as IBM API Connect and oidc-provider issue them to resource servers that hold a
 * decryption key. This module only decrypts; the inner JWS is then verified exactly as any other
 * token (verifier.ts), so encryption adds confidentiality and takes away no check: anyone may
 * encrypt to a public key, so a JWE proves nothing about who made it.
 *
 * The policy comes before any key is touched (RFC 8725 §3.1-3.2, §3.10): key management (`alg`)
 * and content encryption (`enc`) from allowlists, never RSA1_5 (§3.2) and no symmetric or
 * password-based key management (the credential is a private key); no compression (`zip`, whose
 * plaintext can be a decompression bomb); no key or key URL in the header (`jwk`, `jku`, `x5u`,
 * `x5c`); no `crit`; and a `cty` that names a JWT (RFC 7516 §4.1.12, RFC 7519 §5.2). Every
 * decryption failure (wrong key, altered part, bad tag) is one code with one message, so that the
 * answer is no oracle (RFC 7516 §11.5).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { compactDecrypt } from 'jose';
import { AccessDeniedError, ConfigurationError } from './errors';
import { MAX_KID_LENGTH, isCanonicalBase64url, protectedHeaderOf, refuseUntrustedMembers } from './verifier';

/** Key management algorithms that may be allowed: asymmetric only, RSA1_5 never (RFC 8725 §3.2). */
export const JWE_KEY_ALGORITHMS: readonly string[] = Object.freeze([
  'RSA-OAEP', 'RSA-OAEP-256', 'RSA-OAEP-384', 'RSA-OAEP-512', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW',
]);
/** Content encryption algorithms that may be allowed (RFC 7518 §5.1): all authenticated. */
export const JWE_CONTENT_ENCRYPTIONS: readonly string[] = Object.freeze([
  'A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512',
]);
/** What is accepted when the identity-config leaves the lists empty. */
export const JWE_DEFAULTS = Object.freeze({
  algorithms: Object.freeze(['RSA-OAEP-256', 'RSA-OAEP', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW']),
  encryptions: Object.freeze(['A256GCM', 'A192GCM', 'A128GCM', 'A256CBC-HS512', 'A128CBC-HS256']),
});

/** One private key of the `decryptionKey` credential. */
export interface DecryptionKey {
  key: KeyObject;
  type: 'rsa' | 'ec' | 'x25519';
  /** The JWK's `kid`: a JWE naming another `kid` is not tried with this key. */
  kid?: string;
  /** The JWK's `alg`: the only key management algorithm this key is used with. */
  alg?: string;
}

export interface JweOptions {
  keys: readonly DecryptionKey[];
  /** Accepted `alg` values, a subset of `JWE_KEY_ALGORITHMS`. */
  algorithms: readonly string[];
  /** Accepted `enc` values, a subset of `JWE_CONTENT_ENCRYPTIONS`. */
  encryptions: readonly string[];
}

/** The protected header members this module reads; the rest of the header is kept as it came. */
export interface JweHeader extends Record<string, unknown> {
  alg: string;
  enc: string;
  kid?: string;
}

export interface DecryptedToken {
  /** The nested JWS, still to be verified. */
  jws: string;
  /** The JWE's protected header (for its replicated claims, RFC 7519 §5.3). */
  header: JweHeader;
}

/** Most keys in one credential: each JWE without a `kid` may be tried with every one that fits. */
const MAX_DECRYPTION_KEYS = 10;
const MIN_RSA_BITS = 2048;
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** RFC 7519 §5.2 says "JWT"; RFC 9068 issuers such as oidc-provider name the inner token's type, at+jwt. */
const NESTED_JWT = /^(application\/)?(at\+)?jwt$/i;
const SIGNED_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** One message for every failure to decrypt: which step failed is never told (RFC 7516 §11.5). */
const DECRYPTION_FAILED = 'the access token could not be decrypted';

/**
 * Decrypts nested JWTs with the configured keys. Build it once per deploy; `decrypt` rejects with
 * an `AccessDeniedError` (401 invalid_token) and never with anything else.
 */
export class JweDecrypter {
  private readonly keys: readonly DecryptionKey[];
  private readonly algorithms: ReadonlySet<string>;
  private readonly encryptions: ReadonlySet<string>;

  constructor(options: JweOptions) {
    this.keys = options.keys;
    this.algorithms = new Set(options.algorithms);
    this.encryptions = new Set(options.encryptions);
  }

  /** The nested JWS of a compact JWE whose header passes the policy and that one of our keys opens. */
  async decrypt(token: string): Promise<DecryptedToken> {
    const header = this.checkHeader(token);
    for (const candidate of this.candidatesFor(header)) {
      let plaintext: Uint8Array;
      try {
        ({ plaintext } = await compactDecrypt(token, candidate.key, {
          keyManagementAlgorithms: [header.alg],
          contentEncryptionAlgorithms: [header.enc],
          maxDecompressedLength: 0, // zip is refused above; jose must not inflate either
        }));
      } catch {
        continue; // the next key that fits; the error itself is not passed on
      }
      return { jws: nestedJws(plaintext), header };
    }
    throw new AccessDeniedError('ERR_TOKEN_DECRYPTION', DECRYPTION_FAILED);
  }

  private checkHeader(token: string): JweHeader {
    const parts = token.split('.');
    // Header, encrypted key (empty for ECDH-ES), IV, ciphertext, tag.
    if (parts.length !== 5 || !BASE64URL.test(parts[0]) || !/^[A-Za-z0-9_-]*$/.test(parts[1])
      || !parts.slice(2).every((part) => BASE64URL.test(part))) {
      throw new AccessDeniedError('ERR_TOKEN_MALFORMED', 'the access token is not a compact JWE');
    }
    const header = protectedHeaderOf(token, 'encrypted token');
    const { alg, enc, cty } = header;
    if (typeof alg !== 'string' || !this.algorithms.has(alg) || typeof enc !== 'string' || !this.encryptions.has(enc)) {
      throw new AccessDeniedError('ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'the token encryption algorithm is not allowed');
    }
    if ('zip' in header) {
      throw new AccessDeniedError('ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'the encrypted token is compressed (zip), which is never accepted');
    }
    refuseUntrustedMembers(header, 'encrypted token');
    if (typeof cty !== 'string' || !NESTED_JWT.test(cty)) {
      throw new AccessDeniedError('ERR_TOKEN_NOT_NESTED', 'the encrypted token does not say that it contains a JWT (cty)');
    }
    if (!parts.every(isCanonicalBase64url)) {
      throw new AccessDeniedError('ERR_TOKEN_MALFORMED', 'the encrypted token is not canonically base64url-encoded');
    }
    return { ...header, alg, enc, kid: header.kid as string | undefined };
  }

  /**
   * The keys that may open this JWE: of the algorithm's type, with its `kid` first, then those
   * without one; at most MAX_KEYS_TRIED, so that one forged token costs at most that many private-key
   * operations (a current and a previous key during a rotation).
   */
  private candidatesFor(header: JweHeader): DecryptionKey[] {
    const fitting = this.keys.filter((key) => fits(key, header.alg));
    const ordered = header.kid === undefined ? fitting
      : [...fitting.filter((key) => key.kid === header.kid), ...fitting.filter((key) => key.kid === undefined)];
    return ordered.slice(0, MAX_KEYS_TRIED);
  }
}

/** How many decryption keys one token may be tried with. */
const MAX_KEYS_TRIED = 2;

/**
 * Reads the `decryptionKey` credential at deploy time: a PEM private key (PKCS#8, PKCS#1 or SEC1),
 * a private JWK, or a JWK Set of up to 10 of them (chosen by `kid`), all RSA of 2048 bits or more,
 * EC P-256/P-384/P-521 or X25519. Its messages never quote the credential.
 * @param algorithms the accepted key management algorithms: at least one key must fit one of them
 * @throws ConfigurationError ERR_CONFIG_DECRYPTION_KEY_INVALID
 */
export function loadDecryptionKeys(text: string, algorithms: readonly string[] = JWE_DEFAULTS.algorithms): DecryptionKey[] {
  const source = text.trim();
  const keys = source.startsWith('{') ? keysOfJson(source) : [usableKey(readKey(() => createPrivateKey(source.replace(/\\n/g, '\n'))))];
  if (keys.length === 0 || keys.length > MAX_DECRYPTION_KEYS) {
    throw invalidKey(`a JWK Set must hold from 1 to ${MAX_DECRYPTION_KEYS} keys`);
  }
  const kids = keys.map((key) => key.kid).filter((kid) => kid !== undefined);
  if (new Set(kids).size !== kids.length) throw invalidKey('two keys of the JWK Set have the same kid');
  if (!keys.some((key) => algorithms.some((alg) => fits(key, alg)))) {
    throw invalidKey(`no key can be used with the allowed algorithms (${algorithms.join(' ')}): RSA keys need RSA-OAEP*, EC and X25519 keys ECDH-ES*`);
  }
  return keys;
}

function keysOfJson(source: string): DecryptionKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    throw invalidKey('the decryption key is JSON that does not parse'); // JSON.parse's message quotes the input
  }
  const set = parsed as { keys?: unknown };
  const members: unknown[] = Array.isArray(set.keys) ? set.keys : [parsed];
  return members.map((jwk) => {
    const { d, use, alg, kid } = (jwk ?? {}) as Record<string, unknown>;
    if (typeof d !== 'string') throw invalidKey('a JWK must be a private key (with "d")');
    if (use !== undefined && use !== 'enc') throw invalidKey('a JWK with "use" must say "enc"');
    if (alg !== undefined && !(typeof alg === 'string' && JWE_KEY_ALGORITHMS.includes(alg))) {
      throw invalidKey(`a JWK's "alg" must be one of ${JWE_KEY_ALGORITHMS.join(' ')}`);
    }
    if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH)) {
      throw invalidKey('a JWK\'s "kid" must be a short string');
    }
    return usableKey(readKey(() => createPrivateKey({ key: jwk as never, format: 'jwk' })), kid as string | undefined, alg as string | undefined);
  });
}

function readKey(read: () => KeyObject): KeyObject {
  try {
    return read();
  } catch {
    throw invalidKey('the decryption key is neither a PEM private key nor a private JWK or JWK Set');
  }
}

function usableKey(key: KeyObject, kid?: string, alg?: string): DecryptionKey {
  const { asymmetricKeyType: type, asymmetricKeyDetails: details } = key;
  const usable = (type === 'rsa' && Number(details?.modulusLength) >= MIN_RSA_BITS)
    || (type === 'ec' && EC_CURVES.has(String(details?.namedCurve)))
    || type === 'x25519';
  if (!usable) {
    throw invalidKey(`keys of type ${type}${type === 'rsa' ? ` with ${details?.modulusLength} bits` : ''} cannot decrypt tokens; `
      + `use RSA (${MIN_RSA_BITS} bits or more), EC P-256, P-384, P-521 or X25519`);
  }
  const described: DecryptionKey = { key, type: type as DecryptionKey['type'], kid, alg };
  if (alg && !fits(described, alg)) throw invalidKey(`a JWK's alg ${alg} does not fit a ${type} key`);
  return described;
}

/** RSA keys decrypt RSA-OAEP*, EC and X25519 keys agree on keys with ECDH-ES*; a JWK's alg narrows that to one. */
function fits(key: DecryptionKey, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  return alg.startsWith('RSA-OAEP') ? key.type === 'rsa' : alg.startsWith('ECDH-ES') && key.type !== 'rsa';
}

/** The plaintext must be a compact JWS; an empty signature is left for the verifier to refuse with its own code. */
function nestedJws(plaintext: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    text = '';
  }
  if (!SIGNED_JWT.test(text)) {
    throw new AccessDeniedError('ERR_TOKEN_NOT_NESTED', 'the encrypted token does not contain a signed JWT');
  }
  return text;
}

function invalidKey(message: string): ConfigurationError {
  return new ConfigurationError('ERR_CONFIG_DECRYPTION_KEY_INVALID', 'decryptionKey', message);
}
