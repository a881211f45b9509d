'use strict';
/**
 * Encrypted access tokens (nested JWTs, RFC 7516 / RFC 7519 §11.2) through the whole core pipeline:
 * Identity → JWE policy and decryption → the verifier of signed tokens, with a fixed clock, keys
 * generated here and tokens encrypted with jose.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const jose = require('jose');
const { Identity } = require('../../dist/core/identity');
const { JweDecrypter, JWE_KEY_ALGORITHMS, JWE_CONTENT_ENCRYPTIONS, JWE_DEFAULTS } = require('../../dist/core/jwe');
const t = require('../support/keys');
const { rejectsWithCode, throwsWithCode } = require('../support/assert');

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
const NO_RULES = { scopes: [], roles: [] };
const ALL_ALGORITHMS = JWE_KEY_ALGORITHMS.join(' ');
const ALL_ENCRYPTIONS = JWE_CONTENT_ENCRYPTIONS.join(' ');

const pemOf = (privateKey, type = 'pkcs8') => privateKey.export({ type, format: 'pem' });
const jwkOf = (privateKey, extra = {}) => ({ ...privateKey.export({ format: 'jwk' }), ...extra });

/** A compact JWE of `plaintext` (a string) to `publicKey`; header members override the RSA-OAEP-256 / A256GCM / cty JWT default. */
function encrypt(plaintext, publicKey, header = {}, options) {
  const protectedHeader = Object.fromEntries(Object.entries({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', ...header })
    .filter(([, value]) => value !== undefined));
  return new jose.CompactEncrypt(Buffer.from(plaintext)).setProtectedHeader(protectedHeader).encrypt(publicKey, options);
}

/** Five base64url parts under a header written by hand: what the policy must refuse before any key is touched. */
const forgeJwe = (header) => [t.b64(header), t.b64('encrypted-key'), t.b64('iv-of-12-byt'), t.b64('ciphertext'), t.b64('tag-of-16-bytes!')].join('.');

/** The token with one part replaced by other bytes of the same length. */
function alter(token, index) {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[index], 'base64url');
  bytes[bytes.length >> 1] ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('core: encrypted access tokens (JWE)', () => {
  let signer;
  let rsa;
  let otherRsa;
  let p256;
  let p384;
  let p521;
  let x25519;
  let http;
  let clock;

  before(async () => {
    signer = await t.signingKey('RS256', 'rsa-1');
    rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    otherRsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    p521 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
    x25519 = crypto.generateKeyPairSync('x25519');
  });

  beforeEach(() => {
    clock = t.fixedClock();
    http = t.fakeHttp({
      [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument(),
      [t.JWKS_URI]: { keys: [signer.publicJwk] },
    });
  });

  /** An identity that holds the RSA decryption key unless told otherwise. */
  function identity(options = {}) {
    return new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, now: clock.now, decryptionKey: pemOf(rsa.privateKey), ...options });
  }
  const authenticate = (token, options, rules = NO_RULES) => identity(options).authenticate(bearer(token), rules);
  const nested = async (claims, header, jweHeader, publicKey = rsa.publicKey) => encrypt(await t.mint(signer, claims, header), publicKey, jweHeader);

  describe('decrypts, then verifies the nested JWT', () => {
    for (const alg of JWE_KEY_ALGORITHMS) {
      it(`alg ${alg} (with ${alg.startsWith('RSA') ? 'an RSA 2048' : 'an EC P-256'} key)`, async () => {
        const recipient = alg.startsWith('RSA') ? rsa : p256;
        const token = await nested(t.baseClaims(), {}, { alg }, recipient.publicKey);
        const auth = await authenticate(token, { decryptionKey: pemOf(recipient.privateKey), jweAlgorithms: ALL_ALGORITHMS });
        assert.equal(auth.subject, 'alice');
        assert.deepEqual(auth.scopes, ['orders:read']);
      });
    }

    for (const enc of JWE_CONTENT_ENCRYPTIONS) {
      it(`enc ${enc}`, async () => {
        const token = await nested(t.baseClaims(), {}, { enc });
        assert.equal((await authenticate(token, { jweEncryptions: ALL_ENCRYPTIONS })).subject, 'alice');
      });
    }

    for (const [name, curve] of [['P-384', () => p384], ['P-521', () => p521], ['X25519', () => x25519]]) {
      it(`ECDH-ES+A256KW with a ${name} key`, async () => {
        const token = await nested(t.baseClaims(), {}, { alg: 'ECDH-ES+A256KW' }, curve().publicKey);
        assert.equal((await authenticate(token, { decryptionKey: pemOf(curve().privateKey) })).subject, 'alice');
      });
    }

    it('the defaults: RSA-OAEP-256 RSA-OAEP ECDH-ES ECDH-ES+A128KW ECDH-ES+A256KW, and five AES encryptions', async () => {
      const { settings } = identity();
      assert.deepEqual([...settings.jweAlgorithms], ['RSA-OAEP-256', 'RSA-OAEP', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW']);
      assert.deepEqual([...settings.jweEncryptions], ['A256GCM', 'A192GCM', 'A128GCM', 'A256CBC-HS512', 'A128CBC-HS256']);
      assert.deepEqual([...settings.jweAlgorithms], [...JWE_DEFAULTS.algorithms]);
      await rejectsWithCode(authenticate(await nested(t.baseClaims(), {}, { alg: 'RSA-OAEP-384' })), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
      await rejectsWithCode(authenticate(await nested(t.baseClaims(), {}, { enc: 'A192CBC-HS384' })), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
    });

    it('narrowed lists refuse what they leave out', async () => {
      const token = await nested(t.baseClaims());
      await rejectsWithCode(authenticate(token, { jweAlgorithms: 'RSA-OAEP' }), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
      await rejectsWithCode(authenticate(token, { jweEncryptions: 'A128GCM' }), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
      assert.equal((await authenticate(token, { jweAlgorithms: ['RSA-OAEP-256'], jweEncryptions: ['A256GCM'] })).subject, 'alice');
    });

    for (const cty of ['JWT', 'jwt', 'application/JWT', 'Application/Jwt', 'at+jwt', 'application/at+jwt', 'AT+JWT']) {
      it(`cty "${cty}" names a nested JWT (RFC 7516 §4.1.12: case-insensitive, application/ optional)`, async () => {
        assert.equal((await authenticate(await nested(t.baseClaims(), {}, { cty }))).subject, 'alice');
      });
    }

    it('reads the key as PKCS#1, PKCS#8 (also with escaped newlines), SEC1, a private JWK and a JWK Set', async () => {
      const forms = [
        [pemOf(rsa.privateKey, 'pkcs1'), rsa], [pemOf(rsa.privateKey).replace(/\n/g, '\\n'), rsa], [pemOf(p256.privateKey, 'sec1'), p256],
        [JSON.stringify(jwkOf(rsa.privateKey)), rsa], [JSON.stringify({ keys: [jwkOf(p256.privateKey, { kid: 'ec' }), jwkOf(rsa.privateKey, { kid: 'rsa' })] }), rsa],
      ];
      for (const [decryptionKey, recipient] of forms) {
        const alg = recipient === rsa ? 'RSA-OAEP-256' : 'ECDH-ES';
        const token = await nested(t.baseClaims(), {}, { alg }, recipient.publicKey);
        assert.equal((await authenticate(token, { decryptionKey })).subject, 'alice');
      }
    });

    it('a JWK Set: the key named by the JWE kid; without a kid every key that fits is tried', async () => {
      const decryptionKey = JSON.stringify({ keys: [jwkOf(otherRsa.privateKey, { kid: 'old' }), jwkOf(rsa.privateKey, { kid: 'new', use: 'enc' })] });
      const id = identity({ decryptionKey });
      assert.equal((await id.authenticate(bearer(await nested(t.baseClaims(), {}, { kid: 'new' })), NO_RULES)).subject, 'alice');
      assert.equal((await id.authenticate(bearer(await nested(t.baseClaims({ jti: 'b' }), {}, {}, otherRsa.publicKey)), NO_RULES)).subject, 'alice');
      await rejectsWithCode(id.authenticate(bearer(await nested(t.baseClaims({ jti: 'c' }), {}, { kid: 'old' })), NO_RULES), 'ERR_TOKEN_DECRYPTION');
      await rejectsWithCode(id.authenticate(bearer(await nested(t.baseClaims({ jti: 'd' }), {}, { kid: 'unknown' })), NO_RULES), 'ERR_TOKEN_DECRYPTION');
    });

    it('a JWE without kid is tried with at most two keys, so that a forged one costs at most two private-key operations', async () => {
      const third = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const decryptionKey = JSON.stringify({ keys: [jwkOf(otherRsa.privateKey, { kid: 'a' }), jwkOf(rsa.privateKey, { kid: 'b' }), jwkOf(third.privateKey, { kid: 'c' })] });
      const id = identity({ decryptionKey });
      assert.equal((await id.authenticate(bearer(await nested(t.baseClaims(), {}, {}, rsa.publicKey)), NO_RULES)).subject, 'alice', 'the second key is tried');
      await rejectsWithCode(id.authenticate(bearer(await nested(t.baseClaims({ jti: 'x' }), {}, {}, third.publicKey)), NO_RULES), 'ERR_TOKEN_DECRYPTION');
      assert.equal((await id.authenticate(bearer(await nested(t.baseClaims({ jti: 'y' }), {}, { kid: 'c' }, third.publicKey)), NO_RULES)).subject, 'alice',
        'named by its kid, the third key is used');
    });

    it('a key without kid (PEM) opens a JWE that names a kid', async () => {
      assert.equal((await authenticate(await nested(t.baseClaims(), {}, { kid: 'provider-enc-1' }))).subject, 'alice');
    });

    it('a JWK with alg is used with that algorithm only', async () => {
      const decryptionKey = JSON.stringify(jwkOf(rsa.privateKey, { alg: 'RSA-OAEP' }));
      assert.equal((await authenticate(await nested(t.baseClaims(), {}, { alg: 'RSA-OAEP' }), { decryptionKey })).subject, 'alice');
      await rejectsWithCode(authenticate(await nested(t.baseClaims()), { decryptionKey }), 'ERR_TOKEN_DECRYPTION');
    });

    it('a signed JWT is still accepted when a decryption key is configured', async () => {
      assert.equal((await authenticate(await t.mint(signer))).subject, 'alice');
    });

    it('replicated claims in the JWE header (RFC 7519 §5.3) must equal the signed ones', async () => {
      const same = await nested(t.baseClaims(), {}, { iss: t.ISSUER, aud: t.AUDIENCE, sub: 'alice' });
      assert.equal((await authenticate(same)).subject, 'alice');
      for (const header of [{ iss: 'https://other.example.test' }, { aud: 'other-api' }, { sub: 'mallory' }, { aud: [t.AUDIENCE] }]) {
        await rejectsWithCode(authenticate(await nested(t.baseClaims(), {}, header)), 'ERR_TOKEN_CLAIM_INVALID');
      }
    });
  });

  describe('RFC 8725 §3.1-3.2, §3.10: the header policy, before any key', () => {
    it('without a decryption key a JWE is refused: ERR_TOKEN_ENCRYPTED', async () => {
      await rejectsWithCode(authenticate(await nested(t.baseClaims()), { decryptionKey: '' }), 'ERR_TOKEN_ENCRYPTED');
      await rejectsWithCode(authenticate(forgeJwe({ alg: 'RSA1_5', enc: 'A128CBC-HS256' }), { decryptionKey: undefined }), 'ERR_TOKEN_ENCRYPTED');
    });

    const offList = {
      'RSA1_5 (RFC 8725 §3.2)': { alg: 'RSA1_5', enc: 'A128CBC-HS256' },
      'dir (a shared key)': { alg: 'dir', enc: 'A256GCM' },
      A128KW: { alg: 'A128KW', enc: 'A256GCM' },
      A256GCMKW: { alg: 'A256GCMKW', enc: 'A256GCM' },
      'PBES2 with p2c 2^31 (a declared cost)': { alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', p2c: 2 ** 31, p2s: 'c2FsdA' },
      'alg none': { alg: 'none', enc: 'A256GCM' },
      'no alg': { enc: 'A256GCM' },
      'alg in another case': { alg: 'rsa-oaep-256', enc: 'A256GCM' },
      'no enc': { alg: 'RSA-OAEP-256' },
      'enc A128CBC (no HMAC)': { alg: 'RSA-OAEP-256', enc: 'A128CBC' },
      'enc as a list': { alg: 'RSA-OAEP-256', enc: ['A256GCM'] },
    };
    for (const [name, header] of Object.entries(offList)) {
      it(`${name}: ERR_TOKEN_ENC_ALG_NOT_ALLOWED`, async () => {
        await rejectsWithCode(authenticate(forgeJwe({ cty: 'JWT', ...header }), { jweAlgorithms: ALL_ALGORITHMS, jweEncryptions: ALL_ENCRYPTIONS }),
          'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
      });
    }

    it('zip (a decompression bomb), even on a JWE that would decrypt: ERR_TOKEN_ENC_ALG_NOT_ALLOWED', async () => {
      const bomb = await encrypt(await t.mint(signer, t.baseClaims({ pad: 'A'.repeat(200_000) })), rsa.publicKey, { zip: 'DEF' });
      assert.ok(bomb.length < 4000, `compressed to ${bomb.length} characters`);
      await rejectsWithCode(authenticate(bomb), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
      await rejectsWithCode(authenticate(await nested(t.baseClaims(), {}, { zip: 'DEF' })), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED');
    });

    for (const member of ['jwk', 'jku', 'x5u', 'x5c']) {
      it(`a "${member}" header on a JWE that would decrypt: ERR_TOKEN_HEADER_KEY, nothing fetched`, async () => {
        const value = { jwk: jwkOf(otherRsa.publicKey), jku: 'https://attacker.test/jwks', x5u: 'https://attacker.test/cert', x5c: ['MIIB'] }[member];
        await rejectsWithCode(authenticate(await nested(t.baseClaims(), {}, { [member]: value })), 'ERR_TOKEN_HEADER_KEY');
        assert.ok(http.calls.every((url) => url.startsWith(t.ISSUER)), `fetched ${http.calls}`);
      });
    }

    it('crit, on a JWE that would decrypt: ERR_TOKEN_CRIT', async () => {
      const token = await encrypt(await t.mint(signer), rsa.publicKey, { crit: ['exp'], exp: t.NOW_SEC + 60 }, { crit: { exp: true } });
      await rejectsWithCode(authenticate(token), 'ERR_TOKEN_CRIT');
    });

    for (const cty of [undefined, 'json', 'application/json', 'JOSE', 'JWT ', 'xjwt', 'jwt+at', 42]) {
      it(`cty ${JSON.stringify(cty) ?? 'missing'}: ERR_TOKEN_NOT_NESTED`, async () => {
        await rejectsWithCode(authenticate(await nested(t.baseClaims(), {}, { cty })), 'ERR_TOKEN_NOT_NESTED');
      });
    }

    it('five parts that are no compact JWE: ERR_TOKEN_MALFORMED', async () => {
      const valid = (await nested(t.baseClaims())).split('.');
      const cases = {
        'an empty IV': [valid[0], valid[1], '', valid[3], valid[4]],
        'an empty ciphertext': [valid[0], valid[1], valid[2], '', valid[4]],
        'an empty tag': [valid[0], valid[1], valid[2], valid[3], ''],
        'an empty header': ['', ...valid.slice(1)],
        'a header that is not JSON': [t.b64('not json'), ...valid.slice(1)],
        'a header that is a JSON array': [t.b64('[1]'), ...valid.slice(1)],
        'a part with "+"': [valid[0], valid[1], valid[2], `${valid[3]}+`, valid[4]],
        'a kid that is a number': [t.b64({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid: 42 }), ...valid.slice(1)],
        'a kid of 300 characters': [t.b64({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid: 'k'.repeat(300) }), ...valid.slice(1)],
      };
      for (const [name, parts] of Object.entries(cases)) {
        const error = await rejectsWithCode(authenticate(parts.join('.')), 'ERR_TOKEN_MALFORMED');
        assert.ok(error, name);
      }
    });

    it('RFC 4648 §3.5: a part with its spare bits set (same bytes, another spelling): ERR_TOKEN_MALFORMED', async () => {
      let token;
      for (let i = 0; !token || !['2', '3'].includes(String(token.split('.')[4].length % 4)); i += 1) token = await nested(t.baseClaims({ jti: `j${i}` }));
      // A 16-byte tag is 22 characters (length % 4 = 2): its last character has four spare bits.
      const parts = token.split('.');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      parts[4] = parts[4].slice(0, -1) + alphabet[alphabet.indexOf(parts[4].at(-1)) | 1];
      assert.deepEqual(Buffer.from(parts[4], 'base64url'), Buffer.from(token.split('.')[4], 'base64url'));
      await rejectsWithCode(authenticate(parts.join('.')), 'ERR_TOKEN_MALFORMED');
    });

    it('the length limit applies to the token as sent: ERR_TOKEN_TOO_LARGE', async () => {
      const token = await nested(t.baseClaims());
      await rejectsWithCode(authenticate(token, { maxTokenLength: token.length - 1 }), 'ERR_TOKEN_TOO_LARGE');
      assert.equal((await authenticate(token, { maxTokenLength: token.length })).subject, 'alice');
    });
  });

  describe('RFC 7516 §11.5: every decryption failure is ERR_TOKEN_DECRYPTION, with one message', () => {
    it('a wrong key, each altered part and a bad tag all answer alike', async () => {
      const token = await nested(t.baseClaims());
      const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));
      const reheadered = [t.b64({ ...header, note: 'x' }), ...token.split('.').slice(1)].join('.');
      const failures = {
        'another key': await nested(t.baseClaims(), {}, {}, otherRsa.publicKey),
        'the header (a harmless member added)': reheadered,
        'the encrypted key': alter(token, 1),
        'the IV': alter(token, 2),
        'the ciphertext': alter(token, 3),
        'the tag': alter(token, 4),
        'the tag of another token': [...token.split('.').slice(0, 4), (await nested(t.baseClaims())).split('.')[4]].join('.'),
        'an encrypted key of the wrong length': [...token.split('.').slice(0, 1), t.b64('short'), ...token.split('.').slice(2)].join('.'),
      };
      const messages = new Set();
      for (const [name, altered] of Object.entries(failures)) {
        const error = await rejectsWithCode(authenticate(altered), 'ERR_TOKEN_DECRYPTION');
        assert.equal(error.cause, undefined, `${name}: no cause is kept`);
        messages.add(error.message);
      }
      assert.deepEqual([...messages], ['the access token could not be decrypted']);
    });

    it('ECDH-ES with an ephemeral key on another curve, or no key of the right type: ERR_TOKEN_DECRYPTION', async () => {
      const decryptionKey = pemOf(p256.privateKey);
      const otherCurve = await nested(t.baseClaims(), {}, { alg: 'ECDH-ES' }, p384.publicKey);
      await rejectsWithCode(authenticate(otherCurve, { decryptionKey }), 'ERR_TOKEN_DECRYPTION');
      await rejectsWithCode(authenticate(await nested(t.baseClaims()), { decryptionKey }), 'ERR_TOKEN_DECRYPTION');
    });
  });

  describe('the nested JWT meets every check of a signed token, with its own code', () => {
    const nestedRefusals = {
      'another issuer': [{ iss: 'https://other.example.test' }, {}, {}, 'ERR_TOKEN_ISSUER'],
      'another audience': [{ aud: 'other-api' }, {}, {}, 'ERR_TOKEN_AUDIENCE'],
      expired: [{ exp: t.NOW_SEC - 60 }, {}, {}, 'ERR_TOKEN_EXPIRED'],
      'not yet valid': [{ nbf: t.NOW_SEC + 120 }, {}, {}, 'ERR_TOKEN_NOT_YET_VALID'],
      'no exp': [{ exp: undefined }, {}, {}, 'ERR_TOKEN_CLAIM_INVALID'],
      'a kid the provider does not publish': [{}, { kid: 'rsa-unknown' }, {}, 'ERR_TOKEN_KEY_UNKNOWN'],
      'a jku header': [{}, { jku: 'https://attacker.test/jwks' }, {}, 'ERR_TOKEN_HEADER_KEY'],
      'typ JWT in RFC 9068 mode': [{}, { typ: 'JWT' }, { rfc9068: true }, 'ERR_TOKEN_TYPE'],
    };
    for (const [name, [overrides, header, options, code]] of Object.entries(nestedRefusals)) {
      it(`${name}: ${code}`, async () => {
        await rejectsWithCode(authenticate(await nested(t.baseClaims(overrides), header), options), code);
      });
    }

    it('HS256 signed with the provider public key, inside a valid JWE: ERR_TOKEN_ALG_NOT_ALLOWED', async () => {
      const secret = Buffer.from(crypto.createPublicKey({ key: signer.publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
      const hs256 = await new jose.SignJWT(t.baseClaims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(secret);
      await rejectsWithCode(authenticate(await encrypt(hs256, rsa.publicKey)), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });

    it('an unsigned alg none JWT inside a valid JWE: ERR_TOKEN_ALG_NOT_ALLOWED', async () => {
      await rejectsWithCode(authenticate(await encrypt(t.forge({ alg: 'none' }), rsa.publicKey)), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });

    it('signed by another key under the provider kid, inside a valid JWE: ERR_TOKEN_SIGNATURE', async () => {
      const attacker = await t.signingKey('RS256', 'rsa-1');
      await rejectsWithCode(authenticate(await encrypt(await t.mint(attacker), rsa.publicKey)), 'ERR_TOKEN_SIGNATURE');
    });

    it('an algorithm outside the signing allowlist, inside a valid JWE: ERR_TOKEN_ALG_NOT_ALLOWED', async () => {
      await rejectsWithCode(authenticate(await nested(t.baseClaims()), { algorithms: 'ES256' }), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });

    it('the route rules apply: a missing scope is ERR_SCOPE_INSUFFICIENT', async () => {
      await rejectsWithCode(authenticate(await nested(t.baseClaims()), {}, { scopes: ['orders:write'], roles: [] }), 'ERR_SCOPE_INSUFFICIENT');
    });

    const notNested = {
      'the claims themselves (no JWS)': () => JSON.stringify(t.baseClaims()),
      'a JWE inside the JWE': async () => nested(t.baseClaims()),
      'two parts': async () => (await t.mint(signer)).split('.').slice(0, 2).join('.'),
      'invalid UTF-8': () => Buffer.from([0x65, 0x79, 0xff, 0x2e, 0x61, 0x2e, 0x62]),
    };
    for (const [name, plaintext] of Object.entries(notNested)) {
      it(`a JWE (cty JWT) that holds ${name}: ERR_TOKEN_NOT_NESTED`, async () => {
        const inner = await plaintext();
        const token = await new jose.CompactEncrypt(Buffer.from(inner)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT' }).encrypt(rsa.publicKey);
        await rejectsWithCode(authenticate(token), 'ERR_TOKEN_NOT_NESTED');
      });
    }
  });

  describe('the verified-token cache keys on the token as sent', () => {
    let decryptions;
    const original = JweDecrypter.prototype.decrypt;
    before(() => {
      JweDecrypter.prototype.decrypt = function countingDecrypt(...args) {
        decryptions += 1;
        return original.apply(this, args);
      };
    });
    after(() => {
      JweDecrypter.prototype.decrypt = original;
    });
    beforeEach(() => {
      decryptions = 0;
    });

    it('a repeated JWE is decrypted once; its later requests are cache hits', async () => {
      const id = identity();
      const token = await nested(t.baseClaims());
      for (let i = 0; i < 5; i += 1) assert.equal((await id.authenticate(bearer(token), NO_RULES)).subject, 'alice');
      assert.equal(decryptions, 1);
      assert.equal(id.cachedTokens, 1);
    });

    it('an altered copy of a cached JWE is no hit: it is decrypted, and refused', async () => {
      const id = identity();
      const token = await nested(t.baseClaims());
      await id.authenticate(bearer(token), NO_RULES);
      await rejectsWithCode(id.authenticate(bearer(alter(token, 3)), NO_RULES), 'ERR_TOKEN_DECRYPTION');
      assert.equal(decryptions, 2);
    });

    it('a hit still checks the time: a cached JWE expires with its nested exp', async () => {
      const id = identity();
      const token = await nested(t.baseClaims({ exp: t.NOW_SEC + 60 }));
      await id.authenticate(bearer(token), NO_RULES);
      clock.advance(61_000 + 30_000); // past exp and the clock tolerance
      await rejectsWithCode(id.authenticate(bearer(token), NO_RULES), 'ERR_TOKEN_EXPIRED');
      assert.equal(decryptions, 2);
    });
  });

  it('validation auto: with a decryption key, a JWE is verified here, not introspected', async () => {
    const id = identity({ validation: 'auto', clientId: 'demo-client', clientSecret: 'secret' });
    assert.equal((await id.authenticate(bearer(await nested(t.baseClaims())), NO_RULES)).subject, 'alice');
    assert.deepEqual([...new Set(http.calls)], [`${t.ISSUER}/.well-known/openid-configuration`, t.JWKS_URI]);
  });

  describe('configuration, at deploy time', () => {
    const build = (options) => new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, ...options });

    it('jweAlgorithms and jweEncryptions: known values only, RSA1_5 and symmetric ones never (ERR_CONFIG_INVALID)', () => {
      for (const jweAlgorithms of ['RSA1_5', 'dir', 'A128KW', 'A256GCMKW', 'PBES2-HS256+A128KW', 'rsa-oaep', 'RSA-OAEP-256 FOO']) {
        const error = throwsWithCode(() => build({ jweAlgorithms }), 'ERR_CONFIG_INVALID');
        assert.equal(error.option, 'jweAlgorithms');
      }
      for (const jweEncryptions of ['A128CBC', 'A256gcm', 'A256GCM none']) {
        assert.equal(throwsWithCode(() => build({ jweEncryptions }), 'ERR_CONFIG_INVALID').option, 'jweEncryptions');
      }
      const { settings } = build({ jweAlgorithms: ' RSA-OAEP-512  ECDH-ES+A192KW ', jweEncryptions: ['A192CBC-HS384'] });
      assert.deepEqual([...settings.jweAlgorithms], ['RSA-OAEP-512', 'ECDH-ES+A192KW']);
      assert.deepEqual([...settings.jweEncryptions], ['A192CBC-HS384']);
    });

    it('a decryption key that cannot decrypt: ERR_CONFIG_DECRYPTION_KEY_INVALID, and its message quotes nothing of it', () => {
      const rsaJwk = jwkOf(rsa.privateKey);
      const weak = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
      const ed = crypto.generateKeyPairSync('ed25519').privateKey;
      const many = Array.from({ length: 11 }, (_, i) => jwkOf(crypto.generateKeyPairSync('x25519').privateKey, { kid: `k${i}` }));
      const bad = {
        'not a key': 'not a key at all',
        'a truncated PEM': pemOf(rsa.privateKey).slice(0, 400),
        'a public key': rsa.publicKey.export({ type: 'spki', format: 'pem' }),
        'RSA of 1024 bits': pemOf(weak),
        'an Ed25519 key (signs only)': pemOf(ed),
        'JSON that does not parse': `{"kty":"RSA","d":"${rsaJwk.d.slice(0, 40)}`,
        'a public JWK': JSON.stringify(jwkOf(rsa.publicKey)),
        'a JWK with use sig': JSON.stringify({ ...rsaJwk, use: 'sig' }),
        'a JWK with alg RS256': JSON.stringify({ ...rsaJwk, alg: 'RS256' }),
        'a JWK with alg RSA1_5': JSON.stringify({ ...rsaJwk, alg: 'RSA1_5' }),
        'an EC JWK with alg RSA-OAEP': JSON.stringify(jwkOf(p256.privateKey, { alg: 'RSA-OAEP' })),
        'a JWK with a numeric kid': JSON.stringify({ ...rsaJwk, kid: 7 }),
        'a JWK with broken members': JSON.stringify({ ...rsaJwk, n: 'AAAA' }),
        'an empty JWK Set': JSON.stringify({ keys: [] }),
        'a JWK Set of 11 keys': JSON.stringify({ keys: many }),
        'two keys with one kid': JSON.stringify({ keys: [{ ...rsaJwk, kid: 'a' }, jwkOf(p256.privateKey, { kid: 'a' })] }),
        'null': 'null',
        'a JWK Set holding null': JSON.stringify({ keys: [null] }),
        'an EC key on secp256k1': pemOf(crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey),
        'an RSA-PSS key': pemOf(crypto.generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey),
      };
      for (const [name, decryptionKey] of Object.entries(bad)) {
        const error = throwsWithCode(() => build({ decryptionKey }), 'ERR_CONFIG_DECRYPTION_KEY_INVALID');
        assert.equal(error.option, 'decryptionKey', name);
        assert.ok(!error.message.includes(rsaJwk.d.slice(0, 12)) && !/MII|BEGIN/.test(error.message), `${name}: ${error.message}`);
      }
    });

    it('a key that fits none of the allowed algorithms: ERR_CONFIG_DECRYPTION_KEY_INVALID', () => {
      throwsWithCode(() => build({ decryptionKey: pemOf(p256.privateKey), jweAlgorithms: 'RSA-OAEP-256' }), 'ERR_CONFIG_DECRYPTION_KEY_INVALID');
      throwsWithCode(() => build({ decryptionKey: pemOf(rsa.privateKey), jweAlgorithms: 'ECDH-ES' }), 'ERR_CONFIG_DECRYPTION_KEY_INVALID');
      assert.ok(build({ decryptionKey: pemOf(rsa.privateKey), jweAlgorithms: 'ECDH-ES RSA-OAEP' }));
    });

    it('an empty or blank decryption key means none', async () => {
      for (const decryptionKey of ['', '   \n']) {
        await rejectsWithCode(build({ decryptionKey, now: clock.now }).authenticate(bearer(await nested(t.baseClaims())), NO_RULES), 'ERR_TOKEN_ENCRYPTED');
      }
    });
  });
});
