#!/usr/bin/env node
/**
 * Property-based fuzzing (fast-check) of the core token path: `extractBearerToken` and
 * `Identity.authenticate` (discovery → key store → verifier → claims), against an in-memory
 * provider with a fixed clock.
 *
 * The properties: any input yields a token / verified result or an `IdentityError` whose `code` is
 * in `ERROR_CODES` and whose class is a 400/401/403 one (the provider is healthy, so nothing may
 * answer 503), never another throw; a valid token mutated in any way is refused unless it is
 * byte-identical to a valid one; a token signed by the real key is accepted exactly when its header
 * and claims pass the policy (RFC 8725, RFC 7519 §4.1, RFC 9068 §4).
 *
 * The unit suite (test/core/fuzz.test.js) runs these with a few hundred cases each; the HTTP fuzz
 * (test/nodes/http-fuzz.test.js) reuses the mutations. Run directly for the long fuzz:
 *
 *   node scripts/fuzz.js [--runs 120000] [--seed N] [--max-seconds 600] [--only name,name]
 *
 * `--runs` is the total, shared among the properties by weight. Each property stops at its share
 * of `--max-seconds`. Exits 1 when a property fails, printing the seed and the shrunk counterexample.
 */
'use strict';
const crypto = require('node:crypto');
const fc = require('fast-check');
const { extractBearerToken } = require('../dist/core/bearer');
const { ERROR_CODES, IdentityError } = require('../dist/core/errors');
const { Identity } = require('../dist/core/identity');
const t = require('../test/support/keys');

const NO_RULES = Object.freeze({ scopes: [], roles: [] });
/** With a healthy provider, a request or token problem is answered 400, 401 or 403, never 503. */
const REQUEST_CLASSES = new Set(['no_credentials', 'invalid_request', 'invalid_token', 'insufficient_scope']);
const BEARER_CODES = new Set(['ERR_BEARER_MISSING', 'ERR_BEARER_SCHEME', 'ERR_BEARER_MALFORMED', 'ERR_BEARER_MULTIPLE',
  'ERR_BEARER_NOT_IN_HEADER', 'ERR_TOKEN_TOO_LARGE']);
const KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'];
const TOLERANCE_SEC = 30;
const MAX_TOKEN_LENGTH = 16 * 1024;
const AT_JWT = /^(application\/)?at\+jwt$/i;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const charsOf = (alphabet) => fc.constantFrom(...alphabet);
const base64urlChar = charsOf(BASE64URL_ALPHABET);
const b64tokenChar = charsOf(`${BASE64URL_ALPHABET}._~+/=`);
/** Characters a mutation may put into a token: its own alphabet and the separators of its neighbours. */
const tokenishChar = fc.oneof({ weight: 6, arbitrary: b64tokenChar }, { weight: 1, arbitrary: charsOf(' ,;:"\\\t%*!\u00e9\u20ac') });
/** What Node's http client accepts in a header value: HTAB, 0x20-0x7E and 0x80-0xFF (sent as latin1). */
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)) },
  { weight: 1, arbitrary: fc.constant('\t') },
);
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const base64urlString = (maxLength = 64) => fc.string({ unit: base64urlChar, maxLength });
const b64 = (bytes) => Buffer.from(bytes).toString('base64url');

const schemeWord = fc.oneof(
  fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR', 'Basic', 'Digest', 'DPoP', 'Negotiate', 'Token', 'Bearer,', 'Bearer:', 'Bear', 'Bearerx', ''),
  fc.string({ unit: charsOf("ABCXYZabcxyz019!#$%&'*+-.^_`|~"), minLength: 1, maxLength: 12 }),
);
const separator = fc.oneof({ weight: 5, arbitrary: fc.constant(' ') }, fc.constantFrom('  ', '   ', '\t', ' \t', '', ',', '=', ', '));

/** An Authorization value that looks like a bearer credential, more or less. */
const bearerish = fc.tuple(schemeWord, separator, fc.oneof(
  fc.string({ unit: b64tokenChar, maxLength: 80 }),
  fc.string({ unit: tokenishChar, maxLength: 80 }),
  fc.array(base64urlString(40), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
)).map(([scheme, space, token]) => `${scheme}${space}${token}`);

const anyHeaderString = fc.oneof(
  { weight: 4, arbitrary: bearerish },
  { weight: 2, arbitrary: fc.string({ maxLength: 100 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'Bearer', 'Bearer ', 'Bearer  ', 'Bearer =', 'Bearer a b', 'Bearer\u00a0abc', 'Bearer abc\n') },
  { weight: 1, arbitrary: fc.tuple(schemeWord, fc.integer({ min: 16_000, max: 17_200 }), b64tokenChar).map(([scheme, length, char]) => `${scheme} ${char.repeat(length)}`) },
);

/** Requests as `msg.req` may carry them (the CredentialSource shape, with arbitrary contents). */
const credentialSource = fc.record({
  headers: fc.oneof(
    fc.record({
      authorization: fc.oneof(anyHeaderString, fc.array(anyHeaderString, { maxLength: 3 }), fc.constant(undefined)),
      'content-type': fc.oneof(fc.constantFrom('application/x-www-form-urlencoded', 'Application/X-WWW-Form-Urlencoded; charset=utf-8', 'application/json', 'text/plain'), fc.string()),
    }, { requiredKeys: [] }),
    fc.dictionary(fc.string({ maxLength: 15 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
  ),
  rawHeaders: fc.array(fc.oneof(fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION', 'Authorizatio', 'Proxy-Authorization', 'Host'), fc.string({ maxLength: 20 })), { maxLength: 8 }),
  query: fc.oneof(
    fc.constant(null),
    fc.dictionary(fc.oneof(fc.constantFrom('access_token', 'token', '__proto__', 'constructor'), fc.string({ maxLength: 12 })), fc.anything({ maxDepth: 2 }), { maxKeys: 4 }),
    fc.anything({ maxDepth: 2, withNullPrototype: true }),
  ),
  body: fc.oneof(
    fc.record({ access_token: fc.string() }),
    fc.anything({ maxDepth: 2, withNullPrototype: true }),
  ),
}, { requiredKeys: [] });

/** Random JSON-ish values for claims and header members. */
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const numericDate = fc.oneof(
  fc.integer({ min: t.NOW_SEC - 400, max: t.NOW_SEC + 400 }),
  fc.constantFrom(t.NOW_SEC - TOLERANCE_SEC, t.NOW_SEC - TOLERANCE_SEC - 1, t.NOW_SEC + TOLERANCE_SEC, t.NOW_SEC + TOLERANCE_SEC + 1, 0, -1, 1e20, -1e20, 8.64e12),
  fc.double({ noNaN: true }),
  fc.integer({ min: 0, max: 2 ** 40 }),
);
/** A claim value: usually a plausible one, sometimes anything. */
const claim = (plausible) => fc.oneof({ weight: 6, arbitrary: plausible }, { weight: 1, arbitrary: jsonValue }, { weight: 1, arbitrary: fc.constant(undefined) });

const registeredClaimsArb = fc.record({
    iss: claim(fc.constantFrom(t.ISSUER, t.ISSUER, t.ISSUER, `${t.ISSUER}/`, 'https://evil.test', t.ISSUER.toUpperCase())),
    aud: claim(fc.oneof(fc.constantFrom(t.AUDIENCE, 'account', ''), fc.array(fc.constantFrom(t.AUDIENCE, 'account', 'x'), { maxLength: 3 }))),
    exp: claim(numericDate),
    nbf: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: numericDate }, { weight: 1, arbitrary: jsonValue }),
    iat: claim(numericDate),
    sub: claim(fc.string({ maxLength: 10 })),
    client_id: claim(fc.string({ maxLength: 10 })),
    jti: claim(fc.string({ maxLength: 10 })),
    scope: claim(fc.constantFrom('orders:read', 'orders:read orders:write', '', '  ')),
    scp: claim(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
    realm_access: claim(fc.record({ roles: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }) })),
    resource_access: claim(fc.dictionary(fc.string({ maxLength: 8 }), jsonValue, { maxKeys: 2 })),
  }, { requiredKeys: [] });
const extraClaimsArb = fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'roles', 'groups', 'azp'), fc.string({ maxLength: 10 })), jsonValue, { maxKeys: 3 });
const withoutUndefined = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

/** Claims from scratch, or an honest claims set with a few claims replaced, removed or added. */
const claimsArb = fc.oneof(
  extraClaimsArb.map((extra) => ({ ...extra, ...t.baseClaims() })),
  fc.tuple(registeredClaimsArb, extraClaimsArb).map(([registered, extra]) => withoutUndefined({ ...extra, ...registered })),
  fc.tuple(registeredClaimsArb, extraClaimsArb).map(([registered, extra]) => {
    const claims = { ...t.baseClaims(), ...extra };
    for (const name of Object.keys(registered).slice(0, 2)) claims[name] = registered[name];
    return withoutUndefined(claims);
  }),
);

/** Header members added to an honest header: key-carrying ones, crit, b64, odd kid/typ/alg values. */
const extraHeaderArb = fc.record({
  typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt', 'AT+JWT', 'jwt', ''), jsonValue),
  kid: fc.oneof(fc.constantFrom('rsa-1', 'ec-1', 'ed-1', '', '__proto__', '../../../etc/passwd', 'k'.repeat(300)), fc.string({ maxLength: 20 }), jsonValue),
  alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'EdDSA', 'PS256', 'RS384', 'none', 'HS256', 'rs256', ''), jsonValue),
  jwk: fc.constant({ kty: 'oct', k: 'c2VjcmV0' }),
  jku: fc.constant('https://attacker.test/jwks'),
  x5u: fc.constant('https://attacker.test/cert'),
  x5c: fc.constant(['MIIB']),
  crit: fc.oneof(fc.constant(['exp']), jsonValue),
  b64: fc.boolean(),
  cty: fc.string({ maxLength: 8 }),
}, { requiredKeys: [] });

// ---------------------------------------------------------------------------------------------
// Mutations of valid tokens
// ---------------------------------------------------------------------------------------------

/** One edit of a token; `at` and `other` are taken modulo what they index. */
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant('bit-flip'), part: fc.integer({ min: 0, max: 2 }), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('char-replace'), at: fc.nat(), char: tokenishChar }),
  fc.record({ kind: fc.constant('char-insert'), at: fc.nat(), char: tokenishChar }),
  fc.record({ kind: fc.constant('char-delete'), at: fc.nat() }),
  fc.record({ kind: fc.constant('case-flip'), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant('parts'), order: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 6 }) }),
  fc.record({ kind: fc.constant('splice'), part: fc.integer({ min: 0, max: 2 }), other: fc.nat() }),
  fc.record({ kind: fc.constant('json-edit'), part: fc.integer({ min: 0, max: 1 }), key: fc.oneof(fc.constantFrom('alg', 'kid', 'typ', 'iss', 'aud', 'exp', 'nbf', 'scope', 'sub', 'crit'), fc.string({ maxLength: 6 })), value: fc.oneof(jsonValue, fc.constant(undefined)) }),
  fc.record({ kind: fc.constant('append'), text: fc.string({ unit: tokenishChar, minLength: 1, maxLength: 8 }) }),
);

function applyMutation(token, mutation, pool) {
  const parts = token.split('.');
  const at = (length) => (length === 0 ? 0 : mutation.at % length);
  switch (mutation.kind) {
    case 'bit-flip': {
      const part = Math.min(mutation.part, parts.length - 1);
      const bytes = Buffer.from(parts[part] ?? '', 'base64url');
      if (bytes.length === 0) return token;
      bytes[at(bytes.length)] ^= 1 << mutation.bit;
      parts[part] = b64(bytes);
      return parts.join('.');
    }
    case 'char-replace': {
      const i = at(token.length);
      return token.slice(0, i) + mutation.char + token.slice(i + 1);
    }
    case 'char-insert': {
      const i = mutation.at % (token.length + 1);
      return token.slice(0, i) + mutation.char + token.slice(i);
    }
    case 'char-delete': {
      const i = at(token.length);
      return token.slice(0, i) + token.slice(i + 1);
    }
    case 'case-flip': {
      const i = at(token.length);
      const c = token[i] ?? '';
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return token.slice(0, i) + flipped + token.slice(i + 1);
    }
    case 'truncate':
      return token.slice(0, at(token.length));
    case 'parts':
      return mutation.order.map((index) => parts[index] ?? '').join('.');
    case 'splice': {
      const donor = pool[mutation.other % pool.length].split('.');
      if (mutation.part < parts.length) parts[mutation.part] = donor[mutation.part];
      return parts.join('.');
    }
    case 'json-edit': {
      if (mutation.part >= parts.length) return token;
      let object;
      try {
        object = JSON.parse(Buffer.from(parts[mutation.part], 'base64url').toString('utf8'));
      } catch {
        return token;
      }
      if (!object || typeof object !== 'object' || Array.isArray(object)) return token;
      if (mutation.value === undefined) delete object[mutation.key];
      else object[mutation.key] = mutation.value;
      parts[mutation.part] = b64(JSON.stringify(object));
      return parts.join('.');
    }
    case 'append':
      return token + mutation.text;
    default:
      throw new Error(`unknown mutation ${mutation.kind}`);
  }
}

/** A valid token from `pool` with one to three mutations applied: { original, mutations, mutated }. */
const mutatedTokenArb = (pool) => fc.tuple(fc.nat({ max: pool.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
  .map(([index, mutations]) => {
    const original = pool[index];
    const mutated = mutations.reduce((token, mutation) => applyMutation(token, mutation, pool), original);
    return { original, mutations, mutated };
  });

/**
 * The same token in another base64url spelling: the last signature character changed only in the
 * bits that base64url decoding discards (RFC 4648 §3.5: they must be zero in a canonical encoding).
 * Returns undefined when the signature length leaves no such bits.
 */
function nonCanonicalTwin(token, choice) {
  const parts = token.split('.');
  const signature = parts[2];
  const unusedBits = { 2: 4, 3: 2 }[signature.length % 4];
  if (!unusedBits) return undefined;
  const last = BASE64URL_ALPHABET.indexOf(signature.at(-1));
  const variants = [];
  for (let low = 1; low < 2 ** unusedBits; low += 1) variants.push(BASE64URL_ALPHABET[(last & ~(2 ** unusedBits - 1)) | low]);
  parts[2] = signature.slice(0, -1) + variants[choice % variants.length];
  return parts.join('.');
}

/** True when `token` spells a valid token's signature differently but decodes to the same bytes (see nonCanonicalTwin). */
function isNonCanonicalSpellingOf(token, valid) {
  const [h, p, s, ...rest] = token.split('.');
  if (rest.length > 0 || s === undefined) return false;
  return valid.some((original) => {
    const [vh, vp, vs] = original.split('.');
    return h === vh && p === vp && s !== vs && s.length === vs.length && Buffer.from(s, 'base64url').equals(Buffer.from(vs, 'base64url'));
  });
}

// ---------------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------------

class PropertyViolation extends Error {
  constructor(message, details) {
    super(`${message}${details === undefined ? '' : `: ${JSON.stringify(details, (key, value) => (typeof value === 'string' && value.length > 300 ? `${value.slice(0, 300)}…(${value.length})` : value))}`}`);
    this.name = 'PropertyViolation';
  }
}

/** An error must be one of ours, with a known code of a 400/401/403 class, and must not echo the token. */
function checkRejection(error, token, allowedCodes) {
  if (!(error instanceof IdentityError)) {
    throw new PropertyViolation('threw something that is not an IdentityError', { name: error?.name, message: error?.message, stack: error?.stack?.split('\n').slice(0, 4) });
  }
  if (!Object.prototype.hasOwnProperty.call(ERROR_CODES, error.code)) throw new PropertyViolation('unknown error code', { code: error.code });
  if (!REQUEST_CLASSES.has(ERROR_CODES[error.code])) {
    throw new PropertyViolation('a token problem was answered as a provider or server failure', { code: error.code, message: error.message });
  }
  if (allowedCodes && !allowedCodes.has(error.code)) throw new PropertyViolation('unexpected code', { code: error.code, message: error.message });
  if (typeof token === 'string' && token.length >= 12 && error.message.includes(token)) {
    throw new PropertyViolation('the error message carries the token', { code: error.code });
  }
  return error.code;
}

/** Outcomes per property, so a run shows that its cases reached the verifier (not only the parser). */
const stats = new Map();
function count(property, what) {
  const tally = stats.get(property) ?? new Map();
  tally.set(what, (tally.get(what) ?? 0) + 1);
  stats.set(property, tally);
}

async function outcome(identity, token, property, request = { headers: { authorization: `Bearer ${token}` } }) {
  try {
    const auth = await identity.authenticate(request, NO_RULES);
    count(property, 'accepted');
    return { auth };
  } catch (error) {
    const code = checkRejection(error, token);
    count(property, code);
    return { code };
  }
}

/** Whether our policy must accept a token with this (parsed) header and payload, signed by `key`. */
function policyAccepts({ header, payload, token, key, rfc9068 }) {
  if (token.length > MAX_TOKEN_LENGTH) return false;
  if (!header || typeof header !== 'object' || Array.isArray(header)) return false;
  if (header.alg !== key.alg) return false;
  if (KEY_HEADERS.some((member) => member in header) || 'crit' in header || 'b64' in header) return false;
  if (header.kid !== undefined && header.kid !== key.kid) return false;
  if (header.typ !== undefined && typeof header.typ !== 'string') return false;
  if (rfc9068 && !(typeof header.typ === 'string' && AT_JWT.test(header.typ))) return false;
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return false;
  const now = t.NOW_SEC;
  if (payload.iss !== t.ISSUER) return false;
  const aud = payload.aud;
  if (!(aud === t.AUDIENCE || (Array.isArray(aud) && aud.includes(t.AUDIENCE)))) return false;
  if (typeof payload.exp !== 'number' || payload.exp <= now - TOLERANCE_SEC) return false;
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now + TOLERANCE_SEC)) return false;
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return false;
  if (rfc9068 && !['iat', 'sub', 'client_id', 'jti'].every((name) => Object.hasOwn(payload, name))) return false;
  return true;
}

/** Signs arbitrary header and payload bytes, as a provider (or a buggy one) could. */
function signRaw(key, headerText, payloadText) {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  const privateKey = crypto.KeyObject.from(key.privateKey);
  const signature = key.alg === 'EdDSA' ? crypto.sign(null, Buffer.from(input), privateKey)
    : key.alg === 'ES256' ? crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : crypto.sign('sha256', Buffer.from(input), privateKey);
  return `${input}.${b64(signature)}`;
}

/** JSON as a JWS library reads it: strict UTF-8 (a BOM dropped), then JSON.parse. */
function parseJson(textOrBytes) {
  try {
    return JSON.parse(typeof textOrBytes === 'string' ? textOrBytes : new TextDecoder('utf-8', { fatal: true }).decode(textOrBytes));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/** Keys, an in-memory provider, identities and valid tokens; checks that the valid tokens pass. */
async function createContext() {
  const rsa = await t.signingKey('RS256', 'rsa-1');
  const ec = await t.signingKey('ES256', 'ec-1');
  const ed = await t.signingKey('EdDSA', 'ed-1', { crv: 'Ed25519' });
  const clock = t.fixedClock();
  const http = t.fakeHttp({
    [`${t.ISSUER}/.well-known/openid-configuration`]: t.discoveryDocument(),
    [t.JWKS_URI]: { keys: [rsa.publicJwk, ec.publicJwk, ed.publicJwk] },
  });
  const identity = new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, now: clock.now });
  const strict = new Identity({ issuer: t.ISSUER, audience: t.AUDIENCE, http, now: clock.now, rfc9068: true });
  const valid = [
    await t.mint(rsa),
    await t.mint(ec),
    await t.mint(ed),
    await t.mint(rsa, t.baseClaims({ scope: 'orders:read orders:write', aud: ['account', t.AUDIENCE] })),
    await t.mint(ec, t.baseClaims({ sub: 'bob', nbf: t.NOW_SEC - 5 }), { kid: undefined }),
    await t.mint(ed, t.baseClaims({ realm_access: { roles: ['admin'] } }), { typ: 'JWT' }),
  ];
  for (const token of valid) {
    const result = await outcome(identity, token, 'setup');
    if (!result.auth) throw new Error(`setup: a valid token was refused with ${result.code}`);
  }
  return { keys: [rsa, ec, ed], identity, strict, valid, http };
}

/** The properties by name; `weight` is the share of the long fuzz's runs. */
function createProperties(ctx) {
  const { keys, identity, strict, valid } = ctx;
  const validSet = new Set(valid);

  return {
    'extractBearerToken: any request yields a b64token from a single Bearer header or an ERR_BEARER_*/ERR_TOKEN_TOO_LARGE': {
      weight: 25,
      property: fc.property(credentialSource, fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }), (request, max) => {
        let token;
        try {
          token = extractBearerToken(request, max);
        } catch (error) {
          checkRejection(error, undefined, BEARER_CODES);
          return;
        }
        const limit = max ?? MAX_TOKEN_LENGTH;
        const raw = request.headers?.authorization;
        const header = Array.isArray(raw) ? raw[0] : raw;
        const rawCount = (request.rawHeaders ?? []).filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization').length;
        const problems = [];
        if (typeof token !== 'string' || !B64TOKEN.test(token)) problems.push('not a b64token');
        else if (token.length > limit) problems.push('longer than the limit');
        else if (typeof header !== 'string' || !header.endsWith(token) || !/^bearer +$/i.test(header.slice(0, header.length - token.length))) problems.push('not the token of the header');
        if (Array.isArray(raw) && raw.length > 1) problems.push('two Authorization headers');
        if (rawCount > 1) problems.push('two raw Authorization headers');
        if (request.query && typeof request.query === 'object' && !Array.isArray(request.query) && Object.prototype.hasOwnProperty.call(request.query, 'access_token')) problems.push('a token in the query too');
        if (problems.length > 0) throw new PropertyViolation(`accepted a bad request (${problems.join(', ')})`, { token });
      }),
    },

    'extractBearerToken: a well-formed Bearer header yields exactly its token': {
      weight: 5,
      property: fc.property(
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr'), fc.integer({ min: 1, max: 4 }),
        fc.tuple(fc.string({ unit: charsOf(`${BASE64URL_ALPHABET}._~+/`), minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 2 })),
        (scheme, spaces, [body, padding]) => {
          const token = body + '='.repeat(padding);
          const got = extractBearerToken({ headers: { authorization: `${scheme}${' '.repeat(spaces)}${token}` }, rawHeaders: ['Authorization', 'x'], query: {} });
          if (got !== token) throw new PropertyViolation('the token read differs from the one sent', { token, got });
        },
      ),
    },

    'authenticate: random strings are refused with a known code': {
      weight: 10,
      property: fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), fc.string({ unit: b64tokenChar, maxLength: 300 }),
          fc.string({ unit: charsOf(`${BASE64URL_ALPHABET}.`), maxLength: 300 })),
        fc.boolean(),
        async (token, useStrict) => {
          const result = await outcome(useStrict ? strict : identity, token, 'random');
          if (result.auth && !validSet.has(token)) throw new PropertyViolation('accepted a random string', { token });
        },
      ),
    },

    'authenticate: random 3-part and 5-part base64url (random JSON, headers, signatures) are refused with a known code': {
      weight: 15,
      property: fc.asyncProperty(
        fc.oneof(
          base64urlString(80),
          jsonValue.map((value) => b64(JSON.stringify(value))),
          fc.tuple(extraHeaderArb, fc.constantFrom('RS256', 'ES256', 'EdDSA')).map(([header, alg]) => b64(JSON.stringify({ alg, ...header }))),
          fc.tuple(fc.constantFrom('RS256', 'ES256', 'EdDSA', 'PS256'), fc.constantFrom('rsa-1', 'ec-1', 'ed-1', undefined), fc.constantFrom('at+jwt', 'JWT', undefined))
            .map(([alg, kid, typ]) => b64(JSON.stringify({ alg, kid, typ }))),
        ),
        fc.oneof(base64urlString(80), claimsArb.map((claims) => b64(JSON.stringify(claims))), jsonValue.map((value) => b64(JSON.stringify(value)))),
        fc.oneof(fc.constant(''), base64urlString(400), fc.constantFrom(64, 256).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }).map(b64))),
        fc.array(base64urlString(40), { minLength: 2, maxLength: 2 }),
        fc.constantFrom(3, 3, 3, 5),
        fc.boolean(),
        async (header, payload, signature, extra, count, useStrict) => {
          const token = [header, payload, signature, ...extra].slice(0, count).join('.');
          const result = await outcome(useStrict ? strict : identity, token, 'jws-shaped');
          if (result.auth) throw new PropertyViolation('accepted a token nobody signed', { token });
        },
      ),
    },

    'authenticate: a mutated valid token is refused unless byte-identical to a valid one': {
      weight: 20,
      property: fc.asyncProperty(mutatedTokenArb(valid), async ({ mutated }) => {
        const result = await outcome(identity, mutated, 'mutated');
        if (validSet.has(mutated)) {
          if (!result.auth) throw new PropertyViolation('refused a valid token', { mutated, code: result.code });
        } else if (result.auth) {
          // Non-canonical spellings of a valid signature have their own property below.
          if (isNonCanonicalSpellingOf(mutated, valid)) count('mutated', 'accepted (non-canonical signature spelling)');
          else throw new PropertyViolation('accepted a mutated token', { mutated });
        }
      }),
    },

    'authenticate: a non-canonical base64url spelling of a valid signature is refused (RFC 4648 §3.5, RFC 7515 §2)': {
      weight: 5,
      property: fc.asyncProperty(fc.nat({ max: valid.length - 1 }), fc.nat(), async (index, choice) => {
        const twin = nonCanonicalTwin(valid[index], choice);
        if (twin === undefined) return;
        const result = await outcome(identity, twin, 'non-canonical');
        if (result.auth) {
          const { alg } = JSON.parse(Buffer.from(twin.split('.')[0], 'base64url'));
          throw new PropertyViolation(`accepted a valid ${alg} token whose signature ends "…${twin.slice(-6)}" instead of "…${valid[index].slice(-6)}"`, { twin });
        }
      }),
    },

    'authenticate: a token signed by the real key is accepted exactly when its header and claims pass the policy': {
      weight: 20,
      property: fc.asyncProperty(
        fc.nat({ max: keys.length - 1 }),
        fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: extraHeaderArb }),
        fc.oneof({ weight: 4, arbitrary: claimsArb }, { weight: 1, arbitrary: jsonValue }),
        fc.constantFrom('json', 'json', 'json', 'spaced', 'duplicate-alg', 'bytes'),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        async (keyIndex, extraHeader, claims, spelling, bytes, useStrict) => {
          const key = keys[keyIndex];
          const header = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...extraHeader };
          let headerText = JSON.stringify(header);
          let payloadText = JSON.stringify(claims);
          if (spelling === 'spaced') headerText = JSON.stringify(header, null, 1);
          if (spelling === 'duplicate-alg') headerText = `{"alg":"none",${headerText.slice(1)}`; // RFC 7515 §4: the last one counts
          if (spelling === 'bytes') payloadText = Buffer.from(bytes).toString('latin1');
          const token = signRaw(key, headerText, spelling === 'bytes' ? Buffer.from(bytes) : payloadText);
          const result = await outcome(useStrict ? strict : identity, token, 'signed');
          const payload = parseJson(spelling === 'bytes' ? bytes : payloadText);
          const expected = policyAccepts({ header: parseJson(headerText), payload, token, key, rfc9068: useStrict });
          if (expected && !result.auth) throw new PropertyViolation('refused a token that passes the policy', { code: result.code, headerText, payloadText });
          if (!expected && result.auth) throw new PropertyViolation('accepted a token that fails the policy', { headerText, payloadText });
        },
      ),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The long fuzz
// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { runs: 120_000, seed: undefined, maxSeconds: 600, only: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].split('=');
    const value = () => inline ?? argv[++i];
    if (flag === '--runs') options.runs = Number(value());
    else if (flag === '--seed') options.seed = Number(value());
    else if (flag === '--max-seconds') options.maxSeconds = Number(value());
    else if (flag === '--only') options.only = value().split(',');
    else throw new Error(`unknown option ${argv[i]} (use --runs N --seed N --max-seconds S --only a,b)`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error('--runs must be a positive integer');
  if (!(options.maxSeconds > 0)) throw new Error('--max-seconds must be positive');
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new Error('--seed must be an integer');
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  const properties = Object.entries(createProperties(await createContext()))
    .filter(([name], index) => !options.only || options.only.some((wanted) => name.includes(wanted) || String(index + 1) === wanted));
  const totalWeight = properties.reduce((sum, [, { weight }]) => sum + weight, 0);
  console.log(`fuzz: ${options.runs} cases over ${properties.length} properties, seed ${seed}, at most ${options.maxSeconds} s`);
  const started = process.hrtime.bigint();
  let cases = 0;
  let failures = 0;
  for (const [name, { weight, property }] of properties) {
    const numRuns = Math.max(1, Math.round((options.runs * weight) / totalWeight));
    const budgetMs = Math.round((options.maxSeconds * 1000 * weight) / totalWeight);
    const begun = process.hrtime.bigint();
    const details = await fc.check(property, { numRuns, seed, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false });
    const ms = Number(process.hrtime.bigint() - begun) / 1e6;
    const ran = details.numRuns;
    cases += ran;
    const verdict = details.failed ? 'FAILED' : details.interrupted ? `ok (time limit after ${ran} of ${numRuns})` : 'ok';
    console.log(`  ${verdict.padEnd(6)} ${String(ran).padStart(7)} cases ${(ms / 1000).toFixed(1).padStart(6)} s  ${name}`);
    if (details.failed) {
      failures += 1;
      console.log(fc.defaultReportMessage(details).replace(/^/gm, '         '));
      console.log(`         ${details.errorInstance?.message ?? details.error}`);
    }
  }
  console.log('outcomes (accepted, or the code of the refusal):');
  for (const [property, tally] of stats) {
    if (property === 'setup') continue;
    const sorted = [...tally].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${what} ${n}`);
    console.log(`  ${property}: ${sorted.join(', ')}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`fuzz: ${cases} cases, ${failures} failing ${failures === 1 ? 'property' : 'properties'}, ${seconds.toFixed(1)} s, seed ${seed}`);
  process.exitCode = failures > 0 ? 1 : 0;
}

module.exports = {
  stats, createContext, createProperties, applyMutation, mutationArb, mutatedTokenArb, nonCanonicalTwin, isNonCanonicalSpellingOf,
  headerChar, HEADER_VALUE, schemeWord, separator, b64tokenChar, base64urlString, tokenishChar, REQUEST_CLASSES,
};

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 2;
  });
}
