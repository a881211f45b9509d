/**
 * The private key of a `private_key_jwt` client (RFC 7523 §2.2) and, optionally, its certificate,
 * read at deploy time: a PEM (PKCS#8, PKCS#1 or SEC1) or a private JWK as JSON. The JWS algorithm
 * follows from the key; the certificate's SHA-256 thumbprint becomes the `x5t#S256` header
 * (RFC 7515 §4.1.8), which Microsoft Entra needs for certificate credentials.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigurationError } from './errors';

export interface ClientKey {
  key: KeyObject;
  alg: string;
  keyId?: string;
  x5tS256?: string;
}

const EC_ALGORITHMS: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

export function loadClientKey(privateKey: string, certificate: string | undefined, keyId: string | undefined): ClientKey {
  const text = privateKey.trim();
  let key: KeyObject;
  let jwkAlg: string | undefined;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as { alg?: unknown; kid?: unknown };
      jwkAlg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
      keyId = keyId || (typeof jwk.kid === 'string' ? jwk.kid : undefined);
      key = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } else {
      key = createPrivateKey(text.replace(/\\n/g, '\n'));
    }
  } catch {
    throw new ConfigurationError('ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey', 'the private key is neither a PEM private key nor a private JWK');
  }
  const natural = algorithmOf(key);
  if (!natural) {
    throw new ConfigurationError('ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey', `keys of type ${key.asymmetricKeyType} cannot sign client assertions`);
  }
  // A JWK may name its algorithm; it must be one this key can sign with (checked now, not at the first request).
  const alg = jwkAlg ?? natural;
  if (jwkAlg && !sameFamily(jwkAlg, natural)) {
    throw new ConfigurationError('ERR_CONFIG_PRIVATE_KEY_INVALID', 'privateKey', `the key's alg ${jwkAlg} does not fit a ${key.asymmetricKeyType} key`);
  }
  let x5tS256: string | undefined;
  if (certificate?.trim()) {
    let parsed: X509Certificate;
    try {
      parsed = new X509Certificate(certificate.trim().replace(/\\n/g, '\n'));
    } catch {
      throw new ConfigurationError('ERR_CONFIG_PRIVATE_KEY_INVALID', 'certificate', 'the certificate is not a PEM certificate');
    }
    if (!parsed.checkPrivateKey(key)) {
      throw new ConfigurationError('ERR_CONFIG_PRIVATE_KEY_INVALID', 'certificate', 'the certificate does not belong to the private key');
    }
    x5tS256 = Buffer.from(parsed.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
  }
  return { key, alg, keyId: keyId || undefined, x5tS256 };
}

/** RS* and PS* for RSA keys, the curve's own ES* for EC keys, EdDSA for Ed25519. */
function sameFamily(alg: string, natural: string): boolean {
  if (natural === 'RS256' || natural === 'PS256') return /^(RS|PS)(256|384|512)$/.test(alg);
  if (natural === 'EdDSA') return alg === 'EdDSA' || alg === 'Ed25519';
  return alg === natural;
}

function algorithmOf(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa': return 'RS256';
    case 'rsa-pss': return 'PS256';
    case 'ec': return EC_ALGORITHMS[String(key.asymmetricKeyDetails?.namedCurve)];
    case 'ed25519': return 'EdDSA';
    default: return undefined;
  }
}
