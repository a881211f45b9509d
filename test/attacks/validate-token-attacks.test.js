'use strict';
/**
 * Attacks on validate-token, written from RFC 8725 (JWT BCP), RFC 7515/7516/7519 (JWS, JWE, JWT),
 * RFC 6750 (bearer usage), RFC 9068 (JWT access tokens), RFC 9700 (OAuth security BCP) and the
 * OWASP JWT cheat sheet, sent through a real `http in` → validate-token → `http response` to the
 * demo provider (oidc-provider) on 127.0.0.1.
 *
 * Tokens are signed with the provider's own key where the attack needs a signature the provider
 * could have made (so only the policy can refuse them), and assembled by hand where no honest
 * signer would produce them. Each case asserts the exact status, the exact RFC 6750 challenge and
 * `msg.authError.code`. One deploy serves the whole batch, so the last cases also prove that the
 * runtime still answers afterwards, and that the probe server planted in `jku`/`x5u`/claims was
 * never called.
 *
 * Encrypted tokens (nested JWTs) go to two more identities that hold a decryption key: the demo
 * provider's encrypted API's, and an EC P-256 key of the test. That key is public, so an attacker
 * can make any JWE the API can open: each such case is a well-formed JWE to the real key where it
 * can be one, and only the JWE policy or the nested token's own checks can refuse it.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const jose = require('jose');
const { helper, startNodeRed, loadFlow, request, logged } = require('../support/node-red');
const { startProvider, passwordToken, providerSigned, tokenResponse } = require('../support/demo');
const { b64u, demoClaims, providerKey, providerSignedRaw, es256Signed, startRecorder, rawRequest } = require('../support/attacks');

const at = { x: 100, y: 100 };
const REALM = 'node-red';
const ROUTES = { vt: '/api/orders', 'vt-strict': '/api/strict', 'vt-ec': '/api/ec', 'vt-jwe': '/api/jwe', 'vt-jwe-ec': '/api/jwe-ec' };
const EC_KID = 'attack-suite-ec-1';
const FIXTURES = path.resolve(__dirname, '..', 'fixtures');
/** The order of the P-256 group (SEC 2 §2.4.2): r = s = n is as invalid as r = s = 0. */
const P256_ORDER = Buffer.from('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex');
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Three identities on the same provider: the default policy, RFC 9068 strict mode, and one whose
 * `jwksUri` points at a key set the test serves with an EC P-256 key (the demo signs RS256 only);
 * and two for the encrypted API, whose decryption keys the test gives as credentials.
 */
function attackFlow({ issuer, audience, ecJwksUri, encryptedAudience }) {
  const identity = { issuer, audience, clientId: 'demo-client', backoffMinMs: '0' };
  const route = (id, url, method, vt) => ({ id, type: 'http in', z: 'tab', name: '', url, method, upload: false, ...at, wires: [[vt]] });
  const validate = (id, idp) => ({ id, type: 'validate-token', z: 'tab', identity: idp, scope: 'orders:read', roles: '', ...at, wires: [['ok'], ['out']] });
  return [
    { id: 'tab', type: 'tab', label: 'attacks' },
    { id: 'idp', type: 'identity-config', name: 'demo', ...identity },
    { id: 'idp-strict', type: 'identity-config', name: 'strict', ...identity, rfc9068: true },
    { id: 'idp-ec', type: 'identity-config', name: 'ec', ...identity, jwksUri: ecJwksUri },
    { id: 'idp-jwe', type: 'identity-config', name: 'encrypted', ...identity, audience: encryptedAudience },
    { id: 'idp-jwe-ec', type: 'identity-config', name: 'encrypted (EC key)', ...identity, audience: encryptedAudience },
    route('in-jwe', ROUTES['vt-jwe'], 'get', 'vt-jwe'),
    route('in-jwe-ec', ROUTES['vt-jwe-ec'], 'get', 'vt-jwe-ec'),
    validate('vt-jwe', 'idp-jwe'),
    validate('vt-jwe-ec', 'idp-jwe-ec'),
    route('in-get', ROUTES.vt, 'get', 'vt'),
    route('in-post', ROUTES.vt, 'post', 'vt'),
    route('in-strict', ROUTES['vt-strict'], 'get', 'vt-strict'),
    route('in-ec', ROUTES['vt-ec'], 'get', 'vt-ec'),
    validate('vt', 'idp'),
    validate('vt-strict', 'idp-strict'),
    validate('vt-ec', 'idp-ec'),
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', name: '', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

/** The RFC 6750 §3 answer, exactly: status, challenge, Cache-Control and body; `error` null for a bare challenge. */
function assertChallenge(response, status, error, scope) {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text.slice(0, 300)}`);
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.deepEqual(Object.keys(response.body ?? {}).sort(), ['error', 'error_description']);
  const challenge = response.headers['www-authenticate'];
  if (error === null) {
    assert.equal(challenge, `Bearer realm="${REALM}"`);
    assert.equal(response.body.error, 'unauthorized');
    return;
  }
  const description = response.body.error_description;
  assert.match(description, /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/, 'RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E');
  assert.equal(challenge, `Bearer realm="${REALM}", error="${error}", error_description="${description}"${scope ? `, scope="${scope}"` : ''}`);
  assert.equal(response.body.error, error);
}

/**
 * A compact JWE assembled by hand: `encryptedKey` as given, the plaintext under `cek` with
 * AES-256-GCM, and the header's base64url as the additional authenticated data (RFC 7516 §5.1).
 */
function gcmJwe(header, cek, encryptedKey, plaintext) {
  const encodedHeader = b64u(header);
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', cek, iv);
  cipher.setAAD(Buffer.from(encodedHeader));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [encodedHeader, b64u(encryptedKey), b64u(iv), b64u(ciphertext), b64u(cipher.getAuthTag())].join('.');
}

/** A base64url string whose unused low bits of the last character are set: same bytes, other text. */
function withTrailingBits(part) {
  const spareBits = { 2: 4, 3: 2 }[part.length % 4];
  assert.ok(spareBits, `a ${part.length}-character part has no spare bits`);
  const last = BASE64URL_ALPHABET.indexOf(part.at(-1));
  assert.equal(last & ((1 << spareBits) - 1), 0, 'the canonical encoding has its spare bits clear');
  return part.slice(0, -1) + BASE64URL_ALPHABET[last | 1];
}

/** Every upper/lower-case spelling of a word. */
function spellings(word) {
  return [...Array(2 ** word.length).keys()].map((mask) => [...word].map((c, i) => (mask & (1 << i) ? c.toUpperCase() : c)).join(''));
}

describe('attacks on validate-token through http in / http response', function () {
  this.timeout(30000);
  let provider;
  let probe;
  let ecJwks;
  let ec;
  let alice;
  let bob;
  let kid;
  let jwksPath;
  let encryptedAudience;
  let encryptionKey;
  let jweEc;
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    provider = await startProvider();
    probe = await startRecorder();
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    ec = { privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid: EC_KID, alg: 'ES256', use: 'sig' } };
    ecJwks = await startRecorder((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [ec.jwk] }));
    });
    ({ ENCRYPTED_AUDIENCE: encryptedAudience } = await import('../../flows/demo/provider.mjs'));
    encryptionKey = crypto.createPublicKey({ key: provider.tokenEncryptionKey, format: 'jwk' });
    jweEc = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await startNodeRed();
    await loadFlow(attackFlow({ issuer: provider.issuer, audience: provider.audience, ecJwksUri: `${ecJwks.base}/jwks`, encryptedAudience }), {
      'idp-jwe': { decryptionKey: JSON.stringify(provider.tokenEncryptionKey) },
      'idp-jwe-ec': { decryptionKey: jweEc.privateKey.export({ type: 'sec1', format: 'pem' }) },
    });
    await Promise.all(['idp', 'idp-strict', 'idp-ec', 'idp-jwe', 'idp-jwe-ec'].map((id) => helper.getNode(id).ready));
    alice = await passwordToken(provider, 'alice');
    bob = await passwordToken(provider, 'bob');
    ({ kid } = providerKey(provider));
    const metadata = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
    jwksPath = new URL(metadata.jwks_uri).pathname;
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await helper.unload();
    await helper.stopServer();
    await Promise.all([provider.close(), probe.close(), ecJwks.close()]);
  });

  /** The next message a validate-token node sends on its second output; `cancel` drops the listener. */
  function nextRejection(nodeId) {
    const node = helper.getNode(nodeId);
    let listener;
    const promise = new Promise((resolve) => {
      listener = (call) => {
        const [, rejected] = call.args[0];
        if (!rejected) return;
        node.removeListener('call:send', listener);
        resolve(rejected);
      };
      node.on('call:send', listener);
    });
    return { promise, cancel: () => node.removeListener('call:send', listener) };
  }

  /** Sends a request and asserts the refusal: status, challenge and msg.authError.code. */
  async function expectRefused(send, { node = 'vt', status = 401, error = 'invalid_token', code, scope }) {
    const rejected = nextRejection(node);
    try {
      const response = await send();
      assertChallenge(response, status, error, scope);
      assert.deepEqual((await rejected.promise).authError, { code });
      return response;
    } finally {
      rejected.cancel();
    }
  }

  const withBearer = (token, node = 'vt') => () => request(ROUTES[node], { headers: { Authorization: `Bearer ${token}` } });
  const refuses = (token, code, node = 'vt') => expectRefused(withBearer(token, node), { node, code });
  async function accepts(token, node = 'vt') {
    const response = await withBearer(token, node)();
    assert.equal(response.status, 200, `expected 200, got ${response.status}: ${response.text.slice(0, 300)}`);
    return response.body;
  }
  const header = (extra = {}) => ({ alg: 'RS256', kid, typ: 'at+jwt', ...extra });
  const claims = (overrides) => demoClaims(provider, overrides);
  const now = () => Math.floor(Date.now() / 1000);

  it('control: a token from the provider and an ES256 token from the test key set are accepted', async () => {
    assert.equal((await accepts(alice)).subject, 'alice');
    const token = es256Signed(ec.privateKey, { alg: 'ES256', kid: EC_KID, typ: 'at+jwt' }, claims());
    assert.equal((await accepts(token, 'vt-ec')).subject, 'alice');
  });

  describe('RFC 8725 §2.1 / §3.1, RFC 7518 §3.6: alg "none"', () => {
    for (const alg of spellings('none')) {
      it(`RFC 8725 §3.1: alg "${alg}", empty signature`, async () => {
        await refuses(`${b64u({ alg, typ: 'at+jwt' })}.${b64u(claims())}.`, 'ERR_TOKEN_ALG_NOT_ALLOWED');
      });
    }
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      it(`RFC 8725 §3.1: alg "${alg}" keeping the provider's signature and kid`, async () => {
        const [, payload, signature] = (await providerSigned(provider, {})).split('.');
        await refuses(`${b64u(header({ alg }))}.${payload}.${signature}`, 'ERR_TOKEN_ALG_NOT_ALLOWED');
      });
    }
    const odd = {
      'alg "none " (trailing space)': 'none ', 'alg " none" (leading space)': ' none', 'alg "none\\u0000"': 'none\u0000',
      'alg "" (empty)': '', 'alg null': null, 'alg ["none"]': ['none'], 'alg {"none":1}': { none: 1 }, 'no alg at all': undefined,
    };
    for (const [name, alg] of Object.entries(odd)) {
      it(`RFC 7515 §4.1.1: ${name}`, async () => {
        await refuses(`${b64u({ alg, kid, typ: 'at+jwt' })}.${b64u(claims())}.`, 'ERR_TOKEN_ALG_NOT_ALLOWED');
      });
    }
  });

  describe('RFC 8725 §2.1 / §3.1 (CVE-2015-9235): HMAC keyed with the provider public key', () => {
    const hmacToken = (alg, secret) => {
      const input = `${b64u(header({ alg }))}.${b64u(claims())}`;
      const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
      return `${input}.${crypto.createHmac(hash, secret).update(input).digest('base64url')}`;
    };
    const publicKey = () => crypto.createPublicKey(providerKey(provider).privateKey);
    const forms = {
      'SPKI PEM': () => publicKey().export({ type: 'spki', format: 'pem' }),
      'SPKI PEM without the final newline': () => publicKey().export({ type: 'spki', format: 'pem' }).trimEnd(),
      'PKCS#1 PEM': () => publicKey().export({ type: 'pkcs1', format: 'pem' }),
      'SPKI DER': () => publicKey().export({ type: 'spki', format: 'der' }),
      'JWK as the provider publishes it': async () => {
        const metadata = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
        const jwks = await (await fetch(metadata.jwks_uri)).json();
        return JSON.stringify(jwks.keys.find((key) => key.kid === kid));
      },
      'JWK re-serialised by jose': async () => JSON.stringify(await jose.exportJWK(publicKey())),
    };
    for (const [form, secret] of Object.entries(forms)) {
      it(`RFC 8725 §3.1: HS256 signed with the provider public key (${form})`, async () => {
        await refuses(hmacToken('HS256', await secret()), 'ERR_TOKEN_ALG_NOT_ALLOWED');
      });
    }
    for (const alg of ['HS384', 'HS512']) {
      it(`RFC 8725 §3.1: ${alg} signed with the provider public key (SPKI PEM)`, async () => {
        await refuses(hmacToken(alg, forms['SPKI PEM']()), 'ERR_TOKEN_ALG_NOT_ALLOWED');
      });
    }
    it('RFC 7515 §4.1.1: alg is case-sensitive ("rs256" with a valid RS256 signature)', async () => {
      await refuses(providerSignedRaw(provider, header({ alg: 'rs256' }), claims()), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });
    it('RFC 8725 §3.1: PS256 signed with the provider RSA key published for RS256 (one algorithm per key)', async () => {
      await refuses(providerSignedRaw(provider, header({ alg: 'PS256' }), claims(), { alg: 'PS256' }), 'ERR_TOKEN_KEY_UNKNOWN');
    });
    it('RFC 8725 §3.1: alg RS512 in the header over an RS256 signature', async () => {
      await refuses(providerSignedRaw(provider, header({ alg: 'RS512' }), claims()), 'ERR_TOKEN_KEY_UNKNOWN');
    });
  });

  describe('RFC 7515 §5.2: stripped and forged signatures', () => {
    const split = async () => (await providerSigned(provider, {})).split('.');
    it('RFC 7515 §5.2: signature stripped, trailing dot kept', async () => {
      const [h, p] = await split();
      await refuses(`${h}.${p}.`, 'ERR_TOKEN_SIGNATURE');
    });
    it('RFC 7515 §7.1: signature stripped with its dot (two parts)', async () => {
      const [h, p] = await split();
      await refuses(`${h}.${p}`, 'ERR_TOKEN_MALFORMED');
    });
    it("RFC 7515 §5.2: bob's signature spliced onto alice's header and payload", async () => {
      const [h, p] = alice.split('.');
      await refuses(`${h}.${p}.${bob.split('.')[2]}`, 'ERR_TOKEN_SIGNATURE');
    });
    it("RFC 7515 §5.2: bob's payload raised to orders:read under bob's signature", async () => {
      const [h, p, s] = bob.split('.');
      const raised = { ...JSON.parse(Buffer.from(p, 'base64url')), scope: 'orders:read orders:write' };
      await refuses(`${h}.${b64u(raised)}.${s}`, 'ERR_TOKEN_SIGNATURE');
    });
    it('RFC 7515 §5.2: signed by an attacker RSA key under the provider kid', async () => {
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const input = `${b64u(header())}.${b64u(claims())}`;
      await refuses(`${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`, 'ERR_TOKEN_SIGNATURE');
    });
    const forged = {
      '256 zero bytes': () => Buffer.alloc(256),
      '256 random bytes': () => crypto.randomBytes(256),
      'one byte': () => Buffer.from([1]),
      '512 bytes (twice the modulus)': () => crypto.randomBytes(512),
    };
    for (const [name, bytes] of Object.entries(forged)) {
      it(`RFC 7515 §5.2: forged signature of ${name}`, async () => {
        const [h, p] = await split();
        await refuses(`${h}.${p}.${bytes().toString('base64url')}`, 'ERR_TOKEN_SIGNATURE');
      });
    }
  });

  describe('CVE-2022-21449: ECDSA r = s = 0 against an EC P-256 key set', () => {
    const ecInput = () => `${b64u({ alg: 'ES256', kid: EC_KID, typ: 'at+jwt' })}.${b64u(claims())}`;
    const signatures = {
      'r = s = 0 (64 zero bytes, IEEE P1363)': Buffer.alloc(64),
      'r = s = 0 in DER (30 06 02 01 00 02 01 00)': Buffer.from('3006020100020100', 'hex'),
      'r = s = n (the group order)': Buffer.concat([P256_ORDER, P256_ORDER]),
      'r = 0 with a random s': Buffer.concat([Buffer.alloc(32), crypto.randomBytes(32)]),
      'r = s = 1': Buffer.concat([Buffer.alloc(31), Buffer.from([1]), Buffer.alloc(31), Buffer.from([1])]),
    };
    for (const [name, signature] of Object.entries(signatures)) {
      it(`CVE-2022-21449: ES256 with ${name}`, async () => {
        await refuses(`${ecInput()}.${signature.toString('base64url')}`, 'ERR_TOKEN_SIGNATURE', 'vt-ec');
      });
    }
    it('CVE-2022-21449: ES256 with an empty signature', async () => {
      await refuses(`${ecInput()}.`, 'ERR_TOKEN_SIGNATURE', 'vt-ec');
    });
    it('CVE-2022-21449: ES256 r = s = 0 against the RS256-only demo key set (no EC key to try)', async () => {
      const input = `${b64u({ alg: 'ES256', kid, typ: 'at+jwt' })}.${b64u(claims())}`;
      await refuses(`${input}.${Buffer.alloc(64).toString('base64url')}`, 'ERR_TOKEN_KEY_UNKNOWN');
    });
  });

  describe('RFC 8725 §3.10, RFC 7515 §4.1.2-4.1.6 (CVE-2018-0114): keys carried by the token', () => {
    let attacker;
    before(() => {
      const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      attacker = { privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
    });
    const attackerSigned = (extra) => {
      const input = `${b64u(header(extra))}.${b64u(claims())}`;
      return `${input}.${crypto.sign('sha256', Buffer.from(input), attacker.privateKey).toString('base64url')}`;
    };
    it('RFC 7515 §4.1.3 (CVE-2018-0114): embedded attacker jwk under the provider kid, signed by the attacker', async () => {
      await refuses(attackerSigned({ jwk: attacker.jwk }), 'ERR_TOKEN_HEADER_KEY');
    });
    it("RFC 7515 §4.1.3: embedded jwk that is the provider's own key, provider-signed", async () => {
      const [jwk] = provider.signingKeys;
      const { d, p, q, dp, dq, qi, ...publicJwk } = jwk;
      await refuses(await providerSigned(provider, {}, { jwk: publicJwk }), 'ERR_TOKEN_HEADER_KEY');
    });
    it('RFC 7515 §4.1.2: jku pointing at the probe server, signed by the attacker', async () => {
      await refuses(attackerSigned({ jku: `${probe.base}/jwks` }), 'ERR_TOKEN_HEADER_KEY');
    });
    it('RFC 7515 §4.1.2: jku pointing at the probe server, provider-signed', async () => {
      await refuses(await providerSigned(provider, {}, { jku: `${probe.base}/jku` }), 'ERR_TOKEN_HEADER_KEY');
    });
    it('RFC 7515 §4.1.5: x5u pointing at the probe server, provider-signed', async () => {
      await refuses(await providerSigned(provider, {}, { x5u: `${probe.base}/x5u` }), 'ERR_TOKEN_HEADER_KEY');
    });
    it('RFC 7515 §4.1.5: x5u pointing at the probe server, signed by the attacker', async () => {
      await refuses(attackerSigned({ x5u: `${probe.base}/x5u-attacker` }), 'ERR_TOKEN_HEADER_KEY');
    });
    it('RFC 7515 §4.1.6: x5c with a self-signed certificate, ES256-signed by its key', async () => {
      const der = new crypto.X509Certificate(fs.readFileSync(path.join(FIXTURES, 'client-cert.pem'))).raw.toString('base64');
      const key = crypto.createPrivateKey(fs.readFileSync(path.join(FIXTURES, 'client-key.pem')));
      await refuses(es256Signed(key, { alg: 'ES256', typ: 'at+jwt', x5c: [der] }, claims()), 'ERR_TOKEN_HEADER_KEY');
    });
    it('RFC 7515 §4.1.6: x5c on the EC identity, ES256-signed by the test key set key', async () => {
      const der = new crypto.X509Certificate(fs.readFileSync(path.join(FIXTURES, 'client-cert.pem'))).raw.toString('base64');
      await refuses(es256Signed(ec.privateKey, { alg: 'ES256', kid: EC_KID, typ: 'at+jwt', x5c: [der] }, claims()), 'ERR_TOKEN_HEADER_KEY', 'vt-ec');
    });
    it('RFC 8725 §3.10: the probe URL as kid is a name, not a location', async () => {
      await refuses(await providerSigned(provider, {}, { kid: `${probe.base}/kid` }), 'ERR_TOKEN_KEY_UNKNOWN');
    });
    it('RFC 8725 §3.8: the probe URL as iss is refused, and never discovered', async () => {
      await refuses(await providerSigned(provider, { iss: probe.base }), 'ERR_TOKEN_ISSUER');
    });
    it('RFC 8725 §3.10: probe URLs in claims (jku, x5u, jwks_uri) of a provider-signed token are data only', async () => {
      const token = await providerSigned(provider, { jku: `${probe.base}/claim-jku`, x5u: `${probe.base}/claim-x5u`, jwks_uri: `${probe.base}/claim-jwks` });
      assert.equal((await accepts(token)).claims.jku, `${probe.base}/claim-jku`);
    });
  });

  describe('RFC 7515 §4.1.4 / OWASP JWT: kid injection', () => {
    let jwksFetchesBefore;
    before(() => {
      jwksFetchesBefore = provider.requests.get(jwksPath) ?? 0;
    });
    const unknown = {
      'path traversal ../../etc/passwd': '../../etc/passwd',
      'path traversal to /dev/null': '../../../../../../../../dev/null',
      'encoded traversal ..%2F..%2Fetc%2Fpasswd': '..%2F..%2Fetc%2Fpasswd',
      '__proto__': '__proto__',
      'constructor': 'constructor',
      'prototype': 'prototype',
      'hasOwnProperty': 'hasOwnProperty',
      "SQL ' OR '1'='1": "' OR '1'='1",
      "SQL UNION SELECT 'secret' --": "x' UNION SELECT 'secret' -- ",
      'command |cat /etc/passwd': '|cat /etc/passwd',
      'a NUL byte': '\u0000',
      'the real kid with a NUL suffix': null,
    };
    for (const [name, value] of Object.entries(unknown)) {
      it(`RFC 7515 §4.1.4: kid ${name}`, async () => {
        await refuses(await providerSigned(provider, {}, { kid: value ?? `${kid}\u0000` }), 'ERR_TOKEN_KEY_UNKNOWN');
      });
    }
    const malformed = {
      'of 10 kB': 'k'.repeat(10 * 1024),
      'empty': '',
      'null': null,
      'a number': 42,
      'an object {"$ne": null}': { $ne: null },
      'an array [real kid]': 'array',
    };
    for (const [name, value] of Object.entries(malformed)) {
      it(`RFC 7515 §4.1.4: kid ${name}`, async () => {
        await refuses(providerSignedRaw(provider, header({ kid: value === 'array' ? [kid] : value }), claims()), 'ERR_TOKEN_MALFORMED');
      });
    }
    it('OWASP JWT: the flood of invented kids cost at most one key set refetch (cooldown)', () => {
      assert.ok((provider.requests.get(jwksPath) ?? 0) - jwksFetchesBefore <= 1, `${(provider.requests.get(jwksPath) ?? 0) - jwksFetchesBefore} JWKS fetches`);
    });
  });

  describe('RFC 7515 §4.1.11, RFC 7797: crit and unencoded payloads', () => {
    it('RFC 7515 §4.1.11: crit ["exp"] with an exp header, provider-signed', async () => {
      await refuses(providerSignedRaw(provider, header({ crit: ['exp'], exp: now() + 300 }), claims()), 'ERR_TOKEN_CRIT');
    });
    it('RFC 7515 §4.1.11: crit [] (empty list), provider-signed', async () => {
      await refuses(providerSignedRaw(provider, header({ crit: [] }), claims()), 'ERR_TOKEN_CRIT');
    });
    it('RFC 7515 §4.1.11: crit naming an unknown extension, provider-signed', async () => {
      await refuses(providerSignedRaw(provider, header({ crit: ['urn:example:ext'], 'urn:example:ext': true }), claims()), 'ERR_TOKEN_CRIT');
    });
    it('RFC 7797 §6: b64:false with crit ["b64"], payload of token characters, provider-signed', async () => {
      await refuses(providerSignedRaw(provider, header({ b64: false, crit: ['b64'] }), 'admin', { encodePayload: false }), 'ERR_TOKEN_CRIT');
    });
    it('RFC 7797 §6: b64:false without crit, provider-signed over the base64url payload', async () => {
      await refuses(providerSignedRaw(provider, header({ b64: false }), claims()), 'ERR_TOKEN_CRIT');
    });
    it('RFC 7797 §5.2 / RFC 6750 §2.1: b64:false with a raw JSON payload is not a b64token: 400', async () => {
      const token = providerSignedRaw(provider, header({ b64: false, crit: ['b64'] }), JSON.stringify(claims()), { encodePayload: false });
      await expectRefused(withBearer(token), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MALFORMED' });
    });
    it('RFC 7515 App. F: detached payload (empty middle part)', async () => {
      const [h, , s] = (await providerSigned(provider, {})).split('.');
      await refuses(`${h}..${s}`, 'ERR_TOKEN_MALFORMED');
    });
  });

  describe('RFC 7516 / RFC 9068 §4: JWE-shaped tokens (five parts)', () => {
    it('RFC 7516 §7.1: RSA-OAEP header with made-up parts', async () => {
      await refuses(`${b64u({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, 'ERR_TOKEN_ENCRYPTED');
    });
    it('RFC 7516 §7.1: a real dir/A256GCM JWE around claims', async () => {
      const jwe = await new jose.CompactEncrypt(Buffer.from(JSON.stringify(claims()))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(crypto.randomBytes(32));
      assert.equal(jwe.split('.').length, 5);
      await refuses(jwe, 'ERR_TOKEN_ENCRYPTED');
    });
    it("RFC 7519 §11.2: a nested JWT (cty JWT) wrapping alice's token in RSA-OAEP-256", async () => {
      const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwe = await new jose.CompactEncrypt(Buffer.from(alice)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT' }).encrypt(publicKey);
      await refuses(jwe, 'ERR_TOKEN_ENCRYPTED');
    });
    it('RFC 7516 §7.1: alg "none" in five parts', async () => {
      await refuses(`${b64u({ alg: 'none' })}.${b64u(claims())}...`, 'ERR_TOKEN_ENCRYPTED');
    });
    it('RFC 7516 §7.1: five empty parts', async () => {
      await refuses('....', 'ERR_TOKEN_ENCRYPTED');
    });
    it("RFC 7515 §7.1: six parts (alice's token with three parts appended)", async () => {
      await refuses(`${alice}.a.b.c`, 'ERR_TOKEN_MALFORMED');
    });
  });

  describe('RFC 7515 §2 / RFC 4648 §3.5: non-canonical base64url', () => {
    it('RFC 4648 §3.5: the same signature bytes with the spare bits of the last character set', async () => {
      const token = await providerSigned(provider, {});
      const [h, p, s] = token.split('.');
      const altered = withTrailingBits(s);
      assert.notEqual(altered, s);
      assert.deepEqual(Buffer.from(altered, 'base64url'), Buffer.from(s, 'base64url'), 'the same signature bytes');
      await accepts(token);
      await refuses(`${h}.${p}.${altered}`, 'ERR_TOKEN_MALFORMED');
    });
    it('RFC 4648 §3.5: payload with its spare bits set under the original signature', async () => {
      let token;
      for (let pad = 0; !token || ![2, 3].includes(token.split('.')[1].length % 4); pad += 1) {
        token = await providerSigned(provider, { pad: 'p'.repeat(pad) });
      }
      const [h, p, s] = token.split('.');
      const rejected = nextRejection('vt');
      try {
        const response = await withBearer(`${h}.${withTrailingBits(p)}.${s}`)();
        assertChallenge(response, 401, 'invalid_token');
        assert.ok(['ERR_TOKEN_MALFORMED', 'ERR_TOKEN_SIGNATURE'].includes((await rejected.promise).authError.code));
      } finally {
        rejected.cancel();
      }
    });
    it('RFC 7515 §2: "=" padding on the signature', async () => {
      const token = await providerSigned(provider, {});
      await refuses(`${token}==`, 'ERR_TOKEN_MALFORMED');
    });
    it('RFC 7515 §2: "=" padding inside the token (header) is not a b64token: 400', async () => {
      const [h, p, s] = (await providerSigned(provider, {})).split('.');
      await expectRefused(withBearer(`${h}=.${p}.${s}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MALFORMED' });
    });
    it('RFC 7515 §2: the standard alphabet ("+" and "/") in the signature', async () => {
      let token;
      do token = await providerSigned(provider, {}); while (!/[-_]/.test(token.split('.')[2]));
      const [h, p, s] = token.split('.');
      await refuses(`${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}`, 'ERR_TOKEN_MALFORMED');
    });
    it('RFC 7515 §2: the standard alphabet with padding (plain base64) in every part', async () => {
      const [h, p, s] = (await providerSigned(provider, {})).split('.').map((part) => Buffer.from(part, 'base64url').toString('base64'));
      const response = await withBearer(`${h}.${p}.${s}`)();
      // "=" may only end a b64token (RFC 6750 §2.1): padded inner parts make the header malformed.
      const expected = /=\./.test(`${h}.${p}.`) ? [400, 'invalid_request', 'ERR_BEARER_MALFORMED'] : [401, 'invalid_token', 'ERR_TOKEN_MALFORMED'];
      assertChallenge(response, expected[0], expected[1]);
    });
    it('RFC 6750 §2.1: whitespace inside the token: 400', async () => {
      const [h, p, s] = (await providerSigned(provider, {})).split('.');
      await expectRefused(withBearer(`${h}.${p} .${s}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MALFORMED' });
    });
    it('RFC 6750 §2.1: percent-encoded dots: 400', async () => {
      const [h, p, s] = (await providerSigned(provider, {})).split('.');
      await expectRefused(withBearer(`${h}%2E${p}%2E${s}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MALFORMED' });
    });
  });

  describe('RFC 7515 §5.2 / RFC 7519 §4: duplicate JSON member names (the last one wins everywhere)', () => {
    const claimsText = (prefix, extra = {}) => `{${prefix},${JSON.stringify(claims(extra)).slice(1)}`;
    it('RFC 7515 §5.2: header {"alg":"RS256","alg":"none"}, empty signature', async () => {
      await refuses(`${b64u(`{"alg":"RS256","kid":${JSON.stringify(kid)},"typ":"at+jwt","alg":"none"}`)}.${b64u(claims())}.`, 'ERR_TOKEN_ALG_NOT_ALLOWED');
    });
    it('RFC 7515 §5.2: header {"alg":"none","alg":"RS256"}, empty signature', async () => {
      await refuses(`${b64u(`{"alg":"none","kid":${JSON.stringify(kid)},"typ":"at+jwt","alg":"RS256"}`)}.${b64u(claims())}.`, 'ERR_TOKEN_SIGNATURE');
    });
    it("RFC 7515 §5.2: header {\"alg\":\"none\",\"alg\":\"RS256\"} over alice's payload and signature", async () => {
      const [, p, s] = alice.split('.');
      await refuses(`${b64u(`{"alg":"none","kid":${JSON.stringify(kid)},"typ":"at+jwt","alg":"RS256"}`)}.${p}.${s}`, 'ERR_TOKEN_SIGNATURE');
    });
    it('RFC 7515 §5.2: two kid members, the last one unknown (provider-signed)', async () => {
      await refuses(providerSignedRaw(provider, `{"alg":"RS256","kid":${JSON.stringify(kid)},"typ":"at+jwt","kid":"unknown-kid"}`, claims()), 'ERR_TOKEN_KEY_UNKNOWN');
    });
    it('RFC 9068 §4: two typ members, the last one "JWT" (strict mode, provider-signed)', async () => {
      await refuses(providerSignedRaw(provider, `{"alg":"RS256","kid":${JSON.stringify(kid)},"typ":"at+jwt","typ":"JWT"}`, claims()), 'ERR_TOKEN_TYPE', 'vt-strict');
    });
    it('RFC 7519 §4: two iss members, the last one foreign (provider-signed)', async () => {
      const token = providerSignedRaw(provider, header(), `{${JSON.stringify(claims()).slice(1, -1)},"iss":"http://127.0.0.1:1/evil"}`);
      await refuses(token, 'ERR_TOKEN_ISSUER');
    });
    it('RFC 7519 §4: two aud members, the last one another API (provider-signed)', async () => {
      const token = providerSignedRaw(provider, header(), `{${JSON.stringify(claims()).slice(1, -1)},"aud":"account"}`);
      await refuses(token, 'ERR_TOKEN_AUDIENCE');
    });
    it('RFC 7519 §4: two exp members, the last one past (provider-signed)', async () => {
      const token = providerSignedRaw(provider, header(), `{${JSON.stringify(claims()).slice(1, -1)},"exp":${now() - 3600}}`);
      await refuses(token, 'ERR_TOKEN_EXPIRED');
    });
    it('RFC 7519 §4 / RFC 6750 §3.1: two scope members, the last one empty (provider-signed): 403', async () => {
      const token = providerSignedRaw(provider, header(), `{${JSON.stringify(claims()).slice(1, -1)},"scope":""}`);
      await expectRefused(withBearer(token), { status: 403, error: 'insufficient_scope', code: 'ERR_SCOPE_INSUFFICIENT', scope: 'orders:read' });
    });
    it('RFC 7519 §4: two scope and sub members, the last ones valid: msg.auth and its claims agree', async () => {
      const token = providerSignedRaw(provider, header(), claimsText('"scope":"","sub":"mallory"'));
      const auth = await accepts(token);
      assert.equal(auth.subject, 'alice');
      assert.equal(auth.claims.sub, 'alice');
      assert.deepEqual(auth.scopes, ['orders:read']);
      assert.equal(auth.claims.scope, 'orders:read');
    });
    it('RFC 7519 §4: a "__proto__" claim carrying scope and sub does not reach msg.auth (provider-signed)', async () => {
      const payload = `{${JSON.stringify(claims({ scope: undefined, sub: undefined })).slice(1, -1)},"__proto__":{"scope":"orders:read","sub":"admin"}}`;
      const token = providerSignedRaw(provider, header(), payload);
      await expectRefused(withBearer(token), { status: 403, error: 'insufficient_scope', code: 'ERR_SCOPE_INSUFFICIENT', scope: 'orders:read' });
    });
  });

  describe('RFC 7515 §5.2 step 3, RFC 7519 §7.2 step 10: invalid UTF-8', () => {
    const bytes = (...parts) => Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))));
    const inPayload = (raw) => bytes(`{${JSON.stringify(claims()).slice(1, -1)},"name":"`, raw, '"}');
    const cases = {
      'header: a lone 0xFF in kid (provider-signed)': () => providerSignedRaw(provider, bytes(`{"alg":"RS256","typ":"at+jwt","kid":"${kid}`, Buffer.from([0xff]), '"}'), claims()),
      'header: bytes FF FE only (hand-made)': () => `${b64u(Buffer.from([0xff, 0xfe]))}.${b64u(claims())}.c2ln`,
      'payload: truncated sequence C3 28 (provider-signed)': () => providerSignedRaw(provider, header(), inPayload(Buffer.from([0xc3, 0x28]))),
      'payload: overlong "/" C0 AF (provider-signed)': () => providerSignedRaw(provider, header(), inPayload(Buffer.from([0xc0, 0xaf]))),
      'payload: UTF-16 surrogate ED A0 80 (provider-signed)': () => providerSignedRaw(provider, header(), inPayload(Buffer.from([0xed, 0xa0, 0x80]))),
      'payload: Latin-1 E9 in scope (provider-signed)': () => providerSignedRaw(provider, header(), bytes(`{${JSON.stringify(claims({ scope: undefined })).slice(1, -1)},"scope":"orders:read caf`, Buffer.from([0xe9]), '"}')),
    };
    for (const [name, make] of Object.entries(cases)) {
      it(`RFC 7515 §5.2 / RFC 7519 §7.2: ${name}`, async () => {
        await refuses(make(), 'ERR_TOKEN_MALFORMED');
      });
    }
  });

  describe('OWASP JWT / RFC 8259 §9: size and nesting', () => {
    const nested = (depth) => `{${JSON.stringify(claims()).slice(1, -1)},"nest":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    /** A provider-signed token of exactly `length` characters. */
    function tokenOfLength(length) {
      const base = providerSignedRaw(provider, header(), claims({ pad: '' })).length;
      const estimate = Math.floor(((length - base) * 3) / 4);
      for (let filler = 0; filler < 4; filler += 1) {
        for (let pad = Math.max(0, estimate - 8); pad < estimate + 8; pad += 1) {
          const token = providerSignedRaw(provider, header({ f: 'f'.repeat(filler) }), claims({ pad: 'p'.repeat(pad) }));
          if (token.length === length) return token;
        }
      }
      throw new Error(`no token of ${length} characters`);
    }

    it('OWASP JWT: a 17 kB token overflows Node\'s 16 KiB header limit: 431 before the flow, no crash', async () => {
      const token = tokenOfLength(17 * 1024);
      const response = await withBearer(token)();
      assert.equal(response.status, 431);
      assert.equal(response.headers['www-authenticate'], undefined);
    });

    describe('with the HTTP server header limit raised to 128 KiB, so the node\'s own limit is what answers', () => {
      let previous;
      before(() => {
        previous = helper._server.maxHeaderSize;
        helper._server.maxHeaderSize = 128 * 1024;
      });
      after(() => {
        helper._server.maxHeaderSize = previous;
      });

      it('RFC 6750 §2.1: a provider-signed token of exactly 16,384 characters (the limit) is accepted', async () => {
        assert.equal((await accepts(tokenOfLength(16 * 1024))).subject, 'alice');
      });
      it('OWASP JWT: a provider-signed token of 16,385 characters', async () => {
        await refuses(tokenOfLength(16 * 1024 + 1), 'ERR_TOKEN_TOO_LARGE');
      });
      it('OWASP JWT: a 100 kB token', async () => {
        await refuses(providerSignedRaw(provider, header(), claims({ pad: 'p'.repeat(75_000) })), 'ERR_TOKEN_TOO_LARGE');
      });
      it('RFC 8259 §9: a claim nested 10,000 levels deep (provider-signed; over the size limit)', async () => {
        await refuses(providerSignedRaw(provider, header(), nested(10_000)), 'ERR_TOKEN_TOO_LARGE');
      });
      it('OWASP JWT: a JWE (to the key of the encrypted API) whose ciphertext makes it longer than the limit', async () => {
        const jwe = await new jose.CompactEncrypt(Buffer.from(providerSignedRaw(provider, header(), claims({ pad: 'p'.repeat(20_000) }))))
          .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT' }).encrypt(encryptionKey);
        await refuses(jwe, 'ERR_TOKEN_TOO_LARGE', 'vt-jwe');
      });
      it('a JWE header declaring 2^53 bytes and a 60 kB ephemeral key coordinate, at the EC-keyed identity', async () => {
        const epk = { kty: 'EC', crv: 'P-256', x: 'A'.repeat(60_000), y: 'A' };
        const jwe = gcmJwe({ alg: 'ECDH-ES', enc: 'A256GCM', cty: 'JWT', epk, size: 2 ** 53 }, crypto.randomBytes(32), Buffer.alloc(0), 'a.b.c');
        await refuses(jwe, 'ERR_TOKEN_TOO_LARGE', 'vt-jwe-ec');
      });
      it('RFC 8259 §9: the deepest array nesting that fits in 16,384 characters (provider-signed): 200, no crash', async () => {
        let depth = 6000;
        let token;
        do {
          depth -= 20;
          token = providerSignedRaw(provider, header(), nested(depth));
        } while (token.length > 16 * 1024);
        assert.ok(depth > 5000, `depth ${depth}`);
        const passed = new Promise((resolve) => {
          const vt = helper.getNode('vt');
          vt.on('call:send', function onSend(call) {
            vt.removeListener('call:send', onSend);
            resolve(call.args[0]);
          });
        });
        // The answer must come (200 with msg.auth, or a 401 from a nesting bound), never a hang or a 5xx.
        let timer;
        const unanswered = new Promise((resolve) => {
          timer = setTimeout(() => resolve({ status: 'no answer within 5 s', text: '' }), 5000);
        });
        const response = await Promise.race([withBearer(token)(), unanswered]).finally(() => clearTimeout(timer));
        const [accepted] = await passed;
        assert.ok(response.status === 200 || response.status === 401,
          `validate-token ${accepted ? 'passed the token on (msg.auth.claims.nest included)' : 'refused it'}; the HTTP answer: ${response.status} ${response.text.slice(0, 200)}`);
      });
      it('RFC 8259 §9: a header nested 1,000 objects deep under a forged signature', async () => {
        const deep = `{"alg":"RS256","kid":${JSON.stringify(kid)},"x":${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}}`;
        await refuses(`${b64u(deep)}.${b64u(claims())}.${crypto.randomBytes(256).toString('base64url')}`, 'ERR_TOKEN_SIGNATURE');
      });
    });
  });

  describe('RFC 6750 §2, RFC 9110 §5.3: more than one Authorization header (read from req.rawHeaders)', () => {
    const raw = (lines) => () => rawRequest(helper.url(), ROUTES.vt, lines);
    const cases = {
      'the same valid token twice': () => [`Authorization: Bearer ${alice}`, `Authorization: Bearer ${alice}`],
      "alice's token then bob's": () => [`Authorization: Bearer ${alice}`, `Authorization: Bearer ${bob}`],
      'Bearer then Basic': () => [`Authorization: Bearer ${alice}`, 'Authorization: Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ='],
      'Basic then Bearer': () => ['Authorization: Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=', `Authorization: Bearer ${alice}`],
      'names in different case (authorization, AUTHORIZATION)': () => [`authorization: Bearer ${alice}`, `AUTHORIZATION: Bearer ${alice}`],
      'a valid header and an empty one': () => [`Authorization: Bearer ${alice}`, 'Authorization: '],
    };
    for (const [name, lines] of Object.entries(cases)) {
      it(`RFC 6750 §2: two Authorization headers, ${name}: 400`, async () => {
        await expectRefused(raw(lines()), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MULTIPLE' });
      });
    }
    it('RFC 6750 §2.1: two tokens comma-joined in one header: 400', async () => {
      await expectRefused(raw([`Authorization: Bearer ${alice}, Bearer ${bob}`]), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MALFORMED' });
    });
    it('RFC 6750 §3.1: one Authorization header with another scheme: 401 with a bare challenge', async () => {
      await expectRefused(raw(['Authorization: Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=']), { status: 401, error: null, code: 'ERR_BEARER_SCHEME' });
    });
  });

  describe('RFC 6750 §2 (one method only), §2.2, §2.3 and RFC 9700 §4.3.2: header plus query or body token', () => {
    const both = (query) => () => request(`${ROUTES.vt}?${query}`, { headers: { Authorization: `Bearer ${alice}` } });
    it('RFC 6750 §2: header and ?access_token=<the same token>: 400', async () => {
      await expectRefused(both(`access_token=${alice}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MULTIPLE' });
    });
    it('RFC 6750 §2: header and an empty ?access_token=: 400', async () => {
      await expectRefused(both('access_token='), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MULTIPLE' });
    });
    it('RFC 6750 §2: header and ?access_token twice: 400', async () => {
      await expectRefused(both(`access_token=${bob}&access_token=${alice}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MULTIPLE' });
    });
    it('RFC 6750 §2.3 / RFC 9700 §4.3.2: ?access_token only: 400', async () => {
      await expectRefused(() => request(`${ROUTES.vt}?access_token=${alice}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_NOT_IN_HEADER' });
    });
    const form = (authorization) => () => request(ROUTES.vt, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { Authorization: authorization } : {}) },
      body: `access_token=${alice}`,
    });
    it('RFC 6750 §2: header and a form-body access_token: 400', async () => {
      await expectRefused(form(`Bearer ${alice}`), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_MULTIPLE' });
    });
    it('RFC 6750 §2.2: a form-body access_token only: 400', async () => {
      await expectRefused(form(undefined), { status: 400, error: 'invalid_request', code: 'ERR_BEARER_NOT_IN_HEADER' });
    });
    it('RFC 6750 §2.2: an access_token member of a JSON body is data, not a credential: 200', async () => {
      const response = await request(ROUTES.vt, {
        method: 'POST', headers: { 'content-type': 'application/json', Authorization: `Bearer ${alice}` }, body: JSON.stringify({ access_token: bob }),
      });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.subject, 'alice');
    });
  });

  describe('RFC 7519 §4.1, RFC 8725 §3.8-3.9: claim failures', () => {
    const refusals = {
      'RFC 7519 §4.1.4: exp 60 s ago (beyond the 30 s tolerance)': [{ exp: () => now() - 60 }, 'ERR_TOKEN_EXPIRED'],
      'RFC 7519 §4.1.4: exp one day ago': [{ exp: () => now() - 86_400 }, 'ERR_TOKEN_EXPIRED'],
      'RFC 7519 §4.1.4: exp 0': [{ exp: () => 0 }, 'ERR_TOKEN_EXPIRED'],
      'RFC 7519 §4.1.4: exp negative': [{ exp: () => -1 }, 'ERR_TOKEN_EXPIRED'],
      'RFC 7519 §4.1.4: no exp': [{ exp: () => undefined }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 7519 §4.1.4: exp as a string': [{ exp: () => String(now() + 300) }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 7519 §4.1.4: exp null': [{ exp: () => null }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 7519 §4.1.5: nbf 120 s ahead': [{ nbf: () => now() + 120 }, 'ERR_TOKEN_NOT_YET_VALID'],
      'RFC 7519 §4.1.5: nbf as a string': [{ nbf: () => String(now()) }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 7519 §4.1.6: iat as a string': [{ iat: () => String(now()) }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 8725 §3.8: another issuer': [{ iss: () => 'http://127.0.0.1:1/evil' }, 'ERR_TOKEN_ISSUER'],
      'RFC 8725 §3.8: the issuer with a trailing slash': [{ iss: () => `${provider.issuer}/` }, 'ERR_TOKEN_ISSUER'],
      'RFC 8725 §3.8: the issuer in another case': [{ iss: () => provider.issuer.toUpperCase() }, 'ERR_TOKEN_ISSUER'],
      'RFC 8725 §3.8: the issuer inside an array': [{ iss: () => [provider.issuer] }, 'ERR_TOKEN_ISSUER'],
      'RFC 7519 §4.1.1: no iss': [{ iss: () => undefined }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 8725 §3.9: another audience': [{ aud: () => 'account' }, 'ERR_TOKEN_AUDIENCE'],
      'RFC 8725 §3.9: an audience list without ours': [{ aud: () => ['account', 'other-api'] }, 'ERR_TOKEN_AUDIENCE'],
      'RFC 8725 §3.9: our audience with a suffix': [{ aud: () => `${provider.audience}x` }, 'ERR_TOKEN_AUDIENCE'],
      'RFC 8725 §3.9: aud as an object': [{ aud: () => ({ [provider.audience]: true }) }, 'ERR_TOKEN_AUDIENCE'],
      'RFC 7519 §4.1.3: no aud': [{ aud: () => undefined }, 'ERR_TOKEN_CLAIM_INVALID'],
      'RFC 8725 §2.8 / §3.9: an ID token substituted (aud = the client, typ JWT)': [{ aud: () => provider.clientId, nonce: () => 'n-1' }, 'ERR_TOKEN_AUDIENCE', { typ: 'JWT' }],
    };
    for (const [name, [overrides, code, extraHeader]] of Object.entries(refusals)) {
      it(name, async () => {
        const values = Object.fromEntries(Object.entries(overrides).map(([claim, value]) => [claim, value()]));
        // claims() drops undefined (a missing claim) and keeps null and odd types as given.
        await refuses(providerSignedRaw(provider, header(extraHeader), claims(values)), code);
      });
    }

    const acceptances = {
      'RFC 7519 §4.1.4: exp 10 s ago (within the 30 s tolerance)': { exp: () => now() - 10 },
      'RFC 7519 §4.1.5: nbf 10 s ahead (within the tolerance)': { nbf: () => now() + 10 },
      'RFC 7519 §4.1.6: iat one hour ahead (iat is informational; nbf and exp decide)': { iat: () => now() + 3600 },
      'RFC 7519 §4.1.3: an audience list that contains ours': { aud: () => ['account', provider.audience] },
      'RFC 7519 §4.1.4: exp 1e300 (far future): no crash': { exp: () => 1e300 },
    };
    for (const [name, overrides] of Object.entries(acceptances)) {
      it(`${name}: 200`, async () => {
        const values = Object.fromEntries(Object.entries(overrides).map(([claim, value]) => [claim, value()]));
        assert.equal((await accepts(await providerSigned(provider, values))).subject, 'alice');
      });
    }

    describe('RFC 9068 §4 strict mode', () => {
      const typRefusals = { 'typ "JWT"': 'JWT', 'typ "at+jwt " (trailing space)': 'at+jwt ', 'typ "application/jwt"': 'application/jwt', 'no typ': undefined };
      for (const [name, typ] of Object.entries(typRefusals)) {
        it(`RFC 9068 §4 step 1 / RFC 8725 §3.11: ${name}`, async () => {
          await refuses(providerSignedRaw(provider, header({ typ }), claims()), 'ERR_TOKEN_TYPE', 'vt-strict');
        });
      }
      for (const typ of ['AT+JWT', 'application/at+jwt']) {
        it(`RFC 7515 §4.1.9: typ "${typ}" (case-insensitive media type): 200`, async () => {
          assert.equal((await accepts(providerSignedRaw(provider, header({ typ }), claims()), 'vt-strict')).subject, 'alice');
        });
      }
      for (const claim of ['sub', 'client_id', 'jti', 'iat']) {
        it(`RFC 9068 §2.2: no ${claim}`, async () => {
          await refuses(await providerSigned(provider, { [claim]: undefined }), 'ERR_TOKEN_CLAIM_INVALID', 'vt-strict');
        });
      }
      it('RFC 9068 §2.2: outside strict mode the same token without jti is accepted', async () => {
        assert.equal((await accepts(await providerSigned(provider, { jti: undefined }))).subject, 'alice');
      });
    });
  });

  describe('RFC 7516 / RFC 7519 §11.2: encrypted tokens, with a decryption key', () => {
    const encClaims = (overrides) => claims({ aud: encryptedAudience, ...overrides });
    /** A token signed with the provider's key, as its encrypted API signs one. */
    const signed = (overrides, extraHeader = {}) => providerSignedRaw(provider, header(extraHeader), encClaims(overrides));
    /** A JWE of `plaintext` to `key` (the API's public key unless told), header members over RSA-OAEP-256 / A256GCM / cty JWT. */
    const wrap = (plaintext, jweHeader = {}, key = encryptionKey, options = undefined) => new jose.CompactEncrypt(Buffer.from(plaintext))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', ...jweHeader }).encrypt(key, options);
    const encryptedToken = async () => (await tokenResponse(provider, {
      grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'orders:read', resource: encryptedAudience,
    })).access_token;

    it('control: the provider\'s encrypted token, and JWEs the test wraps around provider-signed tokens, are accepted', async () => {
      assert.equal((await accepts(await encryptedToken(), 'vt-jwe')).subject, 'alice');
      assert.equal((await accepts(await wrap(signed()), 'vt-jwe')).subject, 'alice');
      assert.equal((await accepts(await wrap(signed(), { alg: 'ECDH-ES+A128KW' }, jweEc.publicKey), 'vt-jwe-ec')).subject, 'alice');
    });

    describe('RFC 8725 §3.1-3.2, RFC 7518 §4: key management refused before any key is used', () => {
      it('RFC 8725 §3.2 (Bleichenbacher): RSA1_5, a real PKCS#1 v1.5-wrapped key to the API\'s public key', async () => {
        const cek = crypto.randomBytes(32);
        const wrapped = crypto.publicEncrypt({ key: encryptionKey, padding: crypto.constants.RSA_PKCS1_PADDING }, cek);
        await refuses(gcmJwe({ alg: 'RSA1_5', enc: 'A256GCM', cty: 'JWT' }, cek, wrapped, signed()), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 7518 §4.5: dir with a key the attacker chose', async () => {
        await refuses(await wrap(signed(), { alg: 'dir' }, crypto.randomBytes(32)), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 8725 §2.1 (key confusion): dir keyed with the SHA-256 of the API\'s public key', async () => {
        const secret = crypto.createHash('sha256').update(encryptionKey.export({ type: 'spki', format: 'pem' })).digest();
        await refuses(await wrap(signed(), { alg: 'dir' }, secret), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 7518 §4.4: A256KW with a key the attacker chose', async () => {
        await refuses(await wrap(signed(), { alg: 'A256KW' }, crypto.randomBytes(32)), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 7518 §4.8: PBES2 declaring p2c = 2^31 iterations is refused before any work', async () => {
        const jweHeader = { alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', cty: 'JWT', p2c: 2 ** 31, p2s: b64u(crypto.randomBytes(16)) };
        await refuses(gcmJwe(jweHeader, crypto.randomBytes(32), crypto.randomBytes(40), signed()), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 7516 §4.1.2: enc A256GCM spelled in lower case', async () => {
        await refuses(gcmJwe({ alg: 'RSA-OAEP-256', enc: 'a256gcm', cty: 'JWT' }, crypto.randomBytes(32), crypto.randomBytes(256), signed()),
          'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
    });

    describe('RFC 7516 §4.1.3: compression (zip); oversized JWEs are with the size cases above', () => {
      it('RFC 7516 §4.1.3: a decompression bomb (4 MB of claims deflated into a few kilobytes) to the real key', async () => {
        const bomb = await wrap(signed({ pad: 'A'.repeat(4 * 1024 * 1024) }), { zip: 'DEF' });
        assert.ok(bomb.length < 16 * 1024, `deflated to ${bomb.length} characters, under the length limit`);
        await refuses(bomb, 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 7516 §4.1.3: zip on an honest, small token', async () => {
        await refuses(await wrap(signed(), { zip: 'DEF' }), 'ERR_TOKEN_ENC_ALG_NOT_ALLOWED', 'vt-jwe');
      });
    });

    describe('RFC 8725 §3.10, RFC 7516 §4.1.4-4.1.8, §4.1.13: keys and extensions in the JWE header', () => {
      it('RFC 7516 §4.1.5: jwk, the attacker\'s own public key', async () => {
        const attacker = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
        await refuses(await wrap(signed(), { jwk: attacker.publicKey.export({ format: 'jwk' }) }), 'ERR_TOKEN_HEADER_KEY', 'vt-jwe');
      });
      it('RFC 7516 §4.1.4: jku pointing at the probe server', async () => {
        await refuses(await wrap(signed(), { jku: `${probe.base}/jwks` }), 'ERR_TOKEN_HEADER_KEY', 'vt-jwe');
      });
      it('RFC 7516 §4.1.7: x5u pointing at the probe server', async () => {
        await refuses(await wrap(signed(), { x5u: `${probe.base}/cert.pem` }), 'ERR_TOKEN_HEADER_KEY', 'vt-jwe');
      });
      it('RFC 7516 §4.1.8: x5c with a certificate', async () => {
        await refuses(await wrap(signed(), { x5c: ['MIIBszCCAVmgAwIBAgIUQ'] }), 'ERR_TOKEN_HEADER_KEY', 'vt-jwe');
      });
      it('RFC 7516 §4.1.13: crit naming an extension', async () => {
        await refuses(await wrap(signed(), { crit: ['exp'], exp: now() + 60 }, encryptionKey, { crit: { exp: true } }), 'ERR_TOKEN_CRIT', 'vt-jwe');
      });
    });

    describe('RFC 7519 §5.2, §11.2: only a signed JWT may be inside', () => {
      it('RFC 7516 §4.1.12: no cty, claims encrypted without a signature (encrypt-only tokens)', async () => {
        await refuses(await wrap(JSON.stringify(encClaims()), { cty: undefined, typ: 'at+jwt' }), 'ERR_TOKEN_NOT_NESTED', 'vt-jwe');
      });
      it('RFC 7516 §4.1.12: cty JSON around claims', async () => {
        await refuses(await wrap(JSON.stringify(encClaims()), { cty: 'JSON' }), 'ERR_TOKEN_NOT_NESTED', 'vt-jwe');
      });
      it('RFC 7519 §11.2: cty JWT around plain claims (no JWS inside)', async () => {
        await refuses(await wrap(JSON.stringify(encClaims())), 'ERR_TOKEN_NOT_NESTED', 'vt-jwe');
      });
      it('RFC 7519 §11.2: a JWE inside the JWE', async () => {
        await refuses(await wrap(await wrap(signed())), 'ERR_TOKEN_NOT_NESTED', 'vt-jwe');
      });
    });

    describe('RFC 8725 §3.1, §3.8-3.9: the nested token meets the checks of any signed token', () => {
      it('RFC 8725 §3.1: an unsigned alg "none" JWT inside a JWE to the real key', async () => {
        await refuses(await wrap(`${b64u({ alg: 'none', typ: 'at+jwt' })}.${b64u(encClaims())}.`), 'ERR_TOKEN_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 8725 §3.1 (CVE-2015-9235): HS256 keyed with the provider\'s public signing key, inside a JWE', async () => {
        const secret = crypto.createPublicKey({ key: provider.signingKeys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        const hs256 = await new jose.SignJWT(encClaims()).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(Buffer.from(secret));
        await refuses(await wrap(hs256), 'ERR_TOKEN_ALG_NOT_ALLOWED', 'vt-jwe');
      });
      it('RFC 7515 §5.2: signed by the attacker under the provider kid; encrypting proves nothing', async () => {
        const attacker = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
        const forged = await new jose.SignJWT(encClaims()).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).sign(attacker.privateKey);
        await refuses(await wrap(forged), 'ERR_TOKEN_SIGNATURE', 'vt-jwe');
      });
      it("RFC 8725 §3.9: alice's genuine token for the JWT API, wrapped by the attacker for the encrypted API", async () => {
        await refuses(await wrap(alice), 'ERR_TOKEN_AUDIENCE', 'vt-jwe');
      });
      it('RFC 8725 §3.8: a provider-signed token of another issuer inside', async () => {
        await refuses(await wrap(signed({ iss: 'http://127.0.0.1:1/evil' })), 'ERR_TOKEN_ISSUER', 'vt-jwe');
      });
      it('RFC 7519 §5.3: the JWE header replicates another aud than the signed one', async () => {
        await refuses(await wrap(signed(), { aud: 'urn:other-api' }), 'ERR_TOKEN_CLAIM_INVALID', 'vt-jwe');
      });
      it('RFC 7519 §4.1.4: an expired token inside', async () => {
        await refuses(await wrap(signed({ exp: now() - 120 })), 'ERR_TOKEN_EXPIRED', 'vt-jwe');
      });
    });

    describe('RFC 7516 §11.4-11.5: chosen ciphertexts get one answer', () => {
      let genuine;
      before(async () => {
        genuine = (await encryptedToken()).split('.');
      });
      const descriptions = new Set();
      const decryptionFails = async (token, node = 'vt-jwe') => {
        descriptions.add((await refuses(token, 'ERR_TOKEN_DECRYPTION', node)).body.error_description);
      };

      it("RFC 7516 §5.2: the provider's token with its alg changed to RSA-OAEP (the header is authenticated)", async () => {
        const changed = { ...JSON.parse(Buffer.from(genuine[0], 'base64url')), alg: 'RSA-OAEP' };
        await decryptionFails([b64u(changed), ...genuine.slice(1)].join('.'));
      });
      it('RFC 7516 §11.5: an encrypted key of random bytes', async () => {
        await decryptionFails([genuine[0], b64u(crypto.randomBytes(256)), ...genuine.slice(2)].join('.'));
      });
      it('RFC 7516 §11.5: an encrypted key one byte short', async () => {
        await decryptionFails([genuine[0], b64u(Buffer.from(genuine[1], 'base64url').subarray(1)), ...genuine.slice(2)].join('.'));
      });
      it('RFC 7518 §5.3: a tag cut to 8 bytes', async () => {
        await decryptionFails([...genuine.slice(0, 4), b64u(Buffer.from(genuine[4], 'base64url').subarray(0, 8))].join('.'));
      });
      it('RFC 7518 §5.3: a ciphertext one block longer', async () => {
        const longer = Buffer.concat([Buffer.from(genuine[3], 'base64url'), crypto.randomBytes(16)]);
        await decryptionFails([...genuine.slice(0, 3), b64u(longer), genuine[4]].join('.'));
      });
      it('invalid-curve attack: ECDH-ES with an ephemeral point off P-256', async () => {
        const epk = { kty: 'EC', crv: 'P-256', x: b64u(Buffer.alloc(32, 1)), y: b64u(Buffer.alloc(32, 2)) };
        await decryptionFails(gcmJwe({ alg: 'ECDH-ES', enc: 'A256GCM', cty: 'JWT', epk }, crypto.randomBytes(32), Buffer.alloc(0), signed()), 'vt-jwe-ec');
      });
      it('ECDH-ES with an ephemeral key on P-384 against the P-256 key', async () => {
        await decryptionFails(await wrap(signed(), { alg: 'ECDH-ES' }, crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), 'vt-jwe-ec');
      });
      it("RSA-OAEP-256 to the API's RSA key at the EC identity: no key fits", async () => {
        await decryptionFails(await wrap(signed()), 'vt-jwe-ec');
      });
      it('every one of them got the same error_description', () => {
        assert.equal(descriptions.size, 1, [...descriptions].join(' | '));
      });
    });
  });

  describe('after the whole batch', () => {
    it('the runtime still answers a valid token with 200, on every identity', async () => {
      assert.equal((await accepts(alice)).subject, 'alice');
      assert.equal((await accepts(await passwordToken(provider, 'alice'))).subject, 'alice');
      assert.equal((await accepts(await providerSigned(provider, {}), 'vt-strict')).subject, 'alice');
      assert.equal((await accepts(es256Signed(ec.privateKey, { alg: 'ES256', kid: EC_KID, typ: 'at+jwt' }, claims()), 'vt-ec')).subject, 'alice');
      const encrypted = (await tokenResponse(provider, {
        grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'orders:read', resource: encryptedAudience,
      })).access_token;
      assert.equal((await accepts(encrypted, 'vt-jwe')).subject, 'alice');
      const nested = providerSignedRaw(provider, header(), claims({ aud: encryptedAudience }));
      const toEc = await new jose.CompactEncrypt(Buffer.from(nested)).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', cty: 'JWT' }).encrypt(jweEc.publicKey);
      assert.equal((await accepts(toEc, 'vt-jwe-ec')).subject, 'alice');
    });
    it('RFC 8725 §3.10: the probe server planted in jku, x5u (of JWS and JWE headers), kid, iss and claims received no connection', () => {
      assert.deepEqual(probe.requests, []);
      assert.equal(probe.connections, 0);
    });
    it('no unhandled rejection and no error logged by our nodes', () => {
      assert.deepEqual(unhandled, []);
      const ours = logged('ERROR').filter((entry) => ['validate-token', 'identity-config'].includes(entry.type));
      assert.deepEqual(ours.map((entry) => `${entry.type}: ${entry.msg}`), []);
    });
  });
});
