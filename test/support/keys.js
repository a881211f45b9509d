'use strict';
/**
 * Test keys and tokens, minted in the test (never fixtures with secrets), and an in-memory
 * provider for the core unit tests: the core takes its HTTP client as a parameter, so these tests
 * give it one that serves documents from a map, counts calls and fails on demand.
 */
const jose = require('jose');

const ISSUER = 'https://idp.example.test/realms/demo';
const AUDIENCE = 'orders-api';
const JWKS_URI = `${ISSUER}/protocol/openid-connect/certs`;
/** A fixed clock: 2026-01-01T00:00:00Z. */
const NOW_SEC = 1767225600;

async function signingKey(alg, kid, extra = {}) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig', ...extra };
  return { alg, kid, publicKey, privateKey, publicJwk };
}

function baseClaims(overrides = {}) {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    client_id: 'demo-client',
    iat: NOW_SEC - 10,
    exp: NOW_SEC + 300,
    jti: 'jti-1',
    scope: 'orders:read',
    ...overrides,
  };
}

/** Signs claims with a key; `header` overrides or adds protected header members. */
async function mint(key, claims = baseClaims(), header = {}) {
  const body = Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
  return new jose.SignJWT(body).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
}

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A token assembled by hand, for headers and signatures no honest signer would produce. */
function forge(header, claims = baseClaims(), signature = '') {
  return `${b64(header)}.${b64(claims)}.${signature}`;
}

/** An HttpClient serving `documents` (url -> body or function returning body / throwing). */
function fakeHttp(documents) {
  const calls = [];
  return {
    calls,
    documents,
    count(url) {
      return calls.filter((call) => call === url).length;
    },
    async getJson(url) {
      calls.push(url);
      const entry = documents[url];
      if (entry === undefined) {
        const { HttpStatusError } = require('../../dist/core/http');
        throw new HttpStatusError(url, 404);
      }
      const body = typeof entry === 'function' ? await entry() : entry;
      return { status: 200, body: structuredClone(body), url };
    },
  };
}

function discoveryDocument(overrides = {}) {
  return { issuer: ISSUER, jwks_uri: JWKS_URI, token_endpoint: `${ISSUER}/protocol/openid-connect/token`, ...overrides };
}

/** A clock the test moves by hand. */
function fixedClock(startSec = NOW_SEC) {
  let ms = startSec * 1000;
  return {
    now: () => ms,
    advance(msDelta) {
      ms += msDelta;
    },
  };
}

module.exports = { ISSUER, AUDIENCE, JWKS_URI, NOW_SEC, signingKey, baseClaims, mint, forge, b64, fakeHttp, discoveryDocument, fixedClock };
