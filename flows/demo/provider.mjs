// Embedded demo identity provider for node-red-contrib-identity.
//
// Wraps oidc-provider (an OpenID Certified authorization server) with a fixed
// configuration that the demo flows and the test suites can rely on: three
// clients (client secret, private_key_jwt, public with PKCE), two users, one
// API resource whose access tokens are RFC 9068 JWTs and a second one whose
// access tokens are opaque, checked at the introspection endpoint (RFC 7662)
// and revocable at the revocation endpoint (RFC 7009), and, given a key pair,
// a third one whose JWTs are encrypted to it (nested JWTs), plus two grants that
// oidc-provider does not ship, registered through its custom grant extension
// point: the resource owner password grant and token exchange (RFC 8693).
// A minimal login page serves the authorization code flow's interaction.
// startDemoProvider() adds what tests need around it: an ephemeral loopback
// port, request counters, signing key rotation/removal, and stop/start on the
// same port to simulate an identity provider outage.
//
// This is a development tool: in-memory state, known passwords, plain HTTP on
// 127.0.0.1. Never expose it beyond loopback.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import {
  calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify,
} from 'jose';
import { Provider, errors } from 'oidc-provider';

export const DEMO_CLIENT_ID = 'demo-client';
// Authenticates with a JWT signed by its private key (private_key_jwt); the
// public key is registered inline in its metadata.
export const DEMO_JWT_CLIENT_ID = 'demo-jwt-client';
// No client authentication (token_endpoint_auth_method none); PKCE required.
export const DEMO_PUBLIC_CLIENT_ID = 'demo-public-client';
export const DEMO_REDIRECT_URI = 'http://127.0.0.1:1880/callback';
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const DEMO_AUDIENCE = 'urn:node-red-contrib-identity:demo-api';
// The second API: tokens requested with resource=OPAQUE_AUDIENCE (RFC 8707)
// are opaque; its resource servers introspect them.
export const OPAQUE_AUDIENCE = 'urn:node-red-contrib-identity:opaque-api';
// The third API: tokens requested with resource=ENCRYPTED_AUDIENCE are signed
// as the first API's, then encrypted (JWE) to the public half of the
// tokenEncryptionKey, whose private half its resource servers hold.
export const ENCRYPTED_AUDIENCE = 'urn:node-red-contrib-identity:encrypted-api';
const TOKEN_ENCRYPTION = { alg: 'RSA-OAEP-256', enc: 'A256GCM' };

// `scopes` are the API scopes each user may be granted; `roles` end up in the
// access token as a Keycloak-style realm_access claim for role mapping tests.
export const DEMO_USERS = Object.freeze({
  alice: Object.freeze({
    password: 'alice-password',
    scopes: Object.freeze(['orders:read']),
    roles: Object.freeze(['orders-reader']),
  }),
  bob: Object.freeze({
    password: 'bob-password',
    scopes: Object.freeze([]),
    roles: Object.freeze([]),
  }),
});

// The people of a second demo realm ("partners"), for the provider chain and several-providers samples.
export const DEMO_PARTNER_USERS = Object.freeze({
  carol: Object.freeze({
    password: 'carol-password',
    scopes: Object.freeze(['orders:read']),
    roles: Object.freeze(['partner']),
  }),
});

const API_SCOPES = ['orders:read', 'orders:write'];
const OIDC_SCOPES = ['openid', 'offline_access'];
const SIGNING_ALG = 'RS256';

const PASSWORD_GRANT = 'password';
const PASSWORD_GRANT_PARAMS = ['username', 'password', 'scope', 'resource'];
const TOKEN_EXCHANGE_PARAMS = [
  'subject_token', 'subject_token_type', 'scope', 'resource', 'audience', 'requested_token_type',
];

const FORM_BODY_LIMIT = 10 * 1024;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

// Refresh tokens rotate on every use, so each one only needs to cover a demo
// session; the grant behind them must outlive the whole chain of rotations.
const REFRESH_TOKEN_TTL_SEC = 8 * 60 * 60;
const GRANT_TTL_SEC = 14 * 24 * 60 * 60;

async function generateSigningKey() {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: SIGNING_ALG, use: 'sig' };
}

async function generateJwtClientKey() {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: SIGNING_ALG, use: 'sig' };
}

// A key pair for the encrypted API, as a private JWK: the provider encrypts
// with its public half, the resource server decrypts with all of it.
export async function generateTokenEncryptionKey() {
  const { privateKey } = await generateKeyPair(TOKEN_ENCRYPTION.alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: TOKEN_ENCRYPTION.alg, use: 'enc' };
}

function publicJwk(jwk) {
  const { key_ops: _ops, ext: _ext, ...rest } = jwk;
  for (const member of PRIVATE_JWK_MEMBERS) delete rest[member];
  return rest;
}

// A caller's private JWK for demo-jwt-client; kid and alg are filled in when
// missing so that the registered public key and assertions agree on them.
async function normaliseJwtClientKey(jwk) {
  if (!jwk || typeof jwk !== 'object' || !jwk.d) {
    throw new TypeError('jwtClientKey must be a private JWK');
  }
  const defaultAlg = { RSA: 'RS256', EC: 'ES256', OKP: 'EdDSA' }[jwk.kty];
  return {
    ...jwk,
    kid: jwk.kid ?? await calculateJwkThumbprint(publicJwk(jwk)),
    alg: jwk.alg ?? defaultAlg,
  };
}

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

// Compares digests so that the comparison time does not depend on how much of
// the password matched (demo or not, this is the pattern people copy).
function secretsEqual(a, b) {
  const digest = (value) => crypto.createHash('sha256').update(String(value)).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

function authenticate(users, username, password) {
  const user = Object.hasOwn(users, username) ? users[username] : undefined;
  if (!user || !secretsEqual(password, user.password)) {
    return undefined;
  }
  return user;
}

async function findAccount(users, accountId) {
  if (!Object.hasOwn(users, accountId)) {
    return undefined;
  }
  return { accountId, claims: async () => ({ sub: accountId }) };
}

// Minimal adapter over a Map we own. oidc-provider's built-in memory adapter
// warns on every start, and its storage is private to one Provider instance,
// whereas key rotation swaps Provider instances and must keep issued refresh
// tokens and grants valid.
function createAdapter(store) {
  const expired = (entry) => entry.expiresAt <= Date.now();

  return class DemoAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      for (const [key, entry] of store) {
        if (expired(entry)) store.delete(key);
      }
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(this.key(id), { model: this.model, payload, expiresAt });
    }

    async find(id) {
      const entry = store.get(this.key(id));
      return entry && !expired(entry) ? entry.payload : undefined;
    }

    async findByUid(uid) {
      return this.#findBy((payload) => payload.uid === uid);
    }

    async findByUserCode(userCode) {
      return this.#findBy((payload) => payload.userCode === userCode);
    }

    async consume(id) {
      const payload = await this.find(id);
      if (payload) {
        payload.consumed = Math.floor(Date.now() / 1000);
      }
    }

    async destroy(id) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const [key, entry] of store) {
        if (entry.payload.grantId === grantId) store.delete(key);
      }
    }

    #findBy(predicate) {
      for (const entry of store.values()) {
        if (entry.model === this.model && !expired(entry) && predicate(entry.payload)) {
          return entry.payload;
        }
      }
      return undefined;
    }
  };
}

function htmlPage(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; }
label, input, button { display: block; width: 100%; box-sizing: border-box; }
input { margin: 0.25rem 0 1rem; padding: 0.5rem; }
button { padding: 0.5rem; }
.error { color: #b00020; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function sendHtml(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  // No scripts, no frames, no external assets. No form-action: browsers apply
  // it to the redirects after the post, which end at the client's callback.
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(html);
}

function loginPage({ action, clientId, scope, username = '', error }) {
  return htmlPage('Sign in · demo identity provider', `<h1>Sign in</h1>
<p>to <strong>${escapeHtml(clientId)}</strong>${scope ? ` for <code>${escapeHtml(scope)}</code>` : ''}</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>\n` : ''}<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p><small>Demo users: alice / alice-password, bob / bob-password.</small></p>`);
}

function errorPage(title, message) {
  return htmlPage(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}

class BodyTooLarge extends Error {}

// The form body, at most FORM_BODY_LIMIT bytes, as URLSearchParams.
function readForm(req) {
  if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    // Already parsed by a body parser mounted in front of the handler.
    return Promise.resolve(new URLSearchParams(Object.entries(req.body).map(([k, v]) => [k, String(v)])));
  }
  if (Number(req.headers['content-length']) > FORM_BODY_LIMIT) {
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > FORM_BODY_LIMIT) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

// Builds (does not listen) a Provider instance and the request handler that
// serves it together with the login page. `store` is optional shared adapter
// storage and `cookieKeys` optional cookie signing keys, so that a rebuilt
// Provider keeps the previous one's state and browser sessions.
export async function createDemoProvider({
  issuer,
  clientSecret,
  signingKeys,
  jwtClientKey,
  redirectUris,
  accessTokenTtlSec = 300,
  store = new Map(),
  cookieKeys = [crypto.randomBytes(32).toString('base64url')],
  // The accounts, shaped as DEMO_USERS: a second provider of a chain knows other people.
  users = DEMO_USERS,
  // A JWK (public or private; its public half is used): the encrypted API exists only with it.
  tokenEncryptionKey,
}) {
  const keys = signingKeys?.length ? signingKeys : [await generateSigningKey()];
  const clientKey = jwtClientKey ? await normaliseJwtClientKey(jwtClientKey) : await generateJwtClientKey();
  const redirects = [...new Set([DEMO_REDIRECT_URI, ...(redirectUris ?? [])])];
  const issuerUrl = issuer.replace(/\/+$/, '');

  // Only the two APIs are resource servers, with the same scopes. The first
  // one's tokens are JWTs signed with the first (current) key, named
  // explicitly rather than left to keystore order; the second one's are
  // opaque, stored by the adapter, and their introspection answers carry
  // `aud` (the audience set here), scope, client_id, sub and the extra claims.
  const resourceServers = {
    [DEMO_AUDIENCE]: {
      scope: API_SCOPES.join(' '),
      audience: DEMO_AUDIENCE,
      accessTokenTTL: accessTokenTtlSec,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG, kid: keys[0].kid } },
    },
    [OPAQUE_AUDIENCE]: {
      scope: API_SCOPES.join(' '),
      audience: OPAQUE_AUDIENCE,
      accessTokenTTL: accessTokenTtlSec,
      accessTokenFormat: 'opaque',
    },
  };
  if (tokenEncryptionKey) {
    resourceServers[ENCRYPTED_AUDIENCE] = {
      ...resourceServers[DEMO_AUDIENCE],
      audience: ENCRYPTED_AUDIENCE,
      jwt: {
        ...resourceServers[DEMO_AUDIENCE].jwt,
        encrypt: {
          ...TOKEN_ENCRYPTION,
          kid: tokenEncryptionKey.kid,
          key: crypto.createPublicKey({ key: publicJwk(tokenEncryptionKey), format: 'jwk' }),
        },
      },
    };
  }

  function getResourceServerInfo(_ctx, resourceIndicator) {
    if (!Object.hasOwn(resourceServers, resourceIndicator)) {
      throw new errors.InvalidTarget();
    }
    return resourceServers[resourceIndicator];
  }

  // `act` claims of tokens being issued by token exchange, read back by
  // extraTokenClaims (which would otherwise overwrite anything set on them).
  const actClaims = new WeakMap();

  const provider = new Provider(issuer, {
    adapter: createAdapter(store),
    clients: [{
      client_id: DEMO_CLIENT_ID,
      client_secret: clientSecret,
      // client_secret_post is accepted too: oidc-provider treats basic and
      // post as interchangeable for a client registered with either.
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [
        'client_credentials', 'refresh_token', PASSWORD_GRANT, 'authorization_code', TOKEN_EXCHANGE_GRANT_TYPE,
      ],
      response_types: ['code'],
      redirect_uris: redirects,
    }, {
      client_id: DEMO_JWT_CLIENT_ID,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [publicJwk(clientKey)] },
      grant_types: ['client_credentials', 'refresh_token', PASSWORD_GRANT, 'authorization_code'],
      response_types: ['code'],
      redirect_uris: redirects,
    }, {
      client_id: DEMO_PUBLIC_CLIENT_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['refresh_token', PASSWORD_GRANT, 'authorization_code'],
      response_types: ['code'],
      redirect_uris: redirects,
    }],
    // Signs the login interaction cookies only.
    cookies: { keys: cookieKeys },
    // Server-side clients only; no browser origin is trusted.
    clientBasedCORS: () => false,
    findAccount: (_ctx, accountId) => findAccount(users, accountId),
    jwks: { keys: structuredClone(keys) },
    rotateRefreshToken: true,
    // oidc-provider drops a requested offline_access unless prompt=consent is
    // also requested (OpenID Connect Core section 11), so refresh tokens from
    // the authorization code flow are issued, as by the password grant,
    // whenever the client may refresh; they never end with the login session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    // Public clients (auth method none) must use PKCE; for the others it is
    // optional. Only S256 is supported.
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    interactions: {
      // Absolute, so that the login page stays under the issuer's path when
      // the provider is mounted under a prefix.
      url: async (_ctx, interaction) => `${issuerUrl}/interaction/${interaction.uid}`,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage('Sign-in error', `${out.error}: ${out.error_description ?? ''}`);
    },
    extraTokenClaims: async (_ctx, token) => {
      const claims = {};
      if (token.accountId && Object.hasOwn(users, token.accountId)) {
        claims.realm_access = { roles: [...users[token.accountId].roles] };
      }
      if (actClaims.has(token)) {
        claims.act = actClaims.get(token);
      }
      return Object.keys(claims).length ? claims : undefined;
    },
    features: {
      // The dev login pages announce themselves on stderr; the login page is
      // served by handleInteraction below instead.
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 9449 (on by default in oidc-provider 9, named here because the DPoP sample flow needs it):
      // a token request with a DPoP proof gets a token bound to the proof's key, cnf.jkt in the JWT.
      dPoP: { enabled: true },
      // RFC 7662. Confidential clients (the resource servers of the demo) may
      // introspect any token; a public client could only learn about its own.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      // RFC 7009, so that tests can revoke an opaque token and see it turn
      // inactive; a client may revoke only the tokens issued to it (§2.1).
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        // Requests without `resource` still get an API token, not an opaque
        // userinfo-only one.
        defaultResource: async () => DEMO_AUDIENCE,
        getResourceServerInfo: async (ctx, resourceIndicator) => getResourceServerInfo(ctx, resourceIndicator),
        // Refreshes and code exchanges keep the audience of the grant, even
        // when `openid` was requested too.
        useGrantedResource: async () => true,
      },
    },
    // Every TTL is explicit: oidc-provider prints a notice the first time one
    // of its defaults is used.
    ttl: {
      AccessToken: accessTokenTtlSec,
      ClientCredentials: accessTokenTtlSec,
      IdToken: accessTokenTtlSec,
      RefreshToken: REFRESH_TOKEN_TTL_SEC,
      Grant: GRANT_TTL_SEC,
      AuthorizationCode: 60,
      Interaction: 10 * 60,
      Session: GRANT_TTL_SEC,
    },
  });

  // Resource owner password credentials grant (RFC 6749 section 4.3). Tokens are
  // built from the provider's own Grant, AccessToken and RefreshToken models, as
  // the built-in client_credentials and refresh_token grants do, so that format,
  // signing and extra claims are identical and the built-in refresh_token grant
  // can consume the refresh token issued here.
  provider.registerGrantType(PASSWORD_GRANT, async (ctx) => {
    const { client, params } = ctx.oidc;
    for (const name of ['username', 'password']) {
      if (!params[name]) {
        throw new errors.InvalidRequest(`missing required parameter '${name}'`);
      }
    }
    const accountId = params.username;
    const user = authenticate(users, accountId, params.password);
    if (!user) {
      throw new errors.InvalidGrant('invalid resource owner credentials');
    }

    const resource = params.resource ?? DEMO_AUDIENCE;
    const resourceServer = new provider.ResourceServer(resource, getResourceServerInfo(ctx, resource));

    // Requested scopes intersected with what the user may have; no `scope`
    // means everything the user may have. Unknown scopes are dropped, like
    // client_credentials drops scopes the resource server does not define.
    const requested = params.scope === undefined ? undefined : new Set(params.scope.split(' '));
    const apiScope = user.scopes.filter((scope) => !requested || requested.has(scope)).join(' ');
    const oidcScope = OIDC_SCOPES.filter((scope) => requested?.has(scope)).join(' ');

    // The refresh_token grant re-derives scopes from the stored Grant, so the
    // Grant must record what was granted for the API and for OpenID Connect.
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    if (apiScope) grant.addResourceScope(resource, apiScope);
    if (oidcScope) grant.addOIDCScope(oidcScope);
    const grantId = await grant.save();

    const account = await findAccount(users, accountId);
    ctx.oidc.entity('Grant', grant);
    ctx.oidc.entity('Account', account);

    const at = new provider.AccessToken({
      accountId,
      client,
      grantId,
      gty: PASSWORD_GRANT,
      resourceServer,
      scope: apiScope || undefined,
    });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    // Issued whenever the client may refresh (the password grant has no
    // consent step where offline_access would otherwise be decided).
    let refreshToken;
    if (client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({
        accountId,
        client,
        grantId,
        gty: PASSWORD_GRANT,
        resource,
        rotations: 0,
        scope: [oidcScope, apiScope].filter(Boolean).join(' ') || undefined,
      });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    let idToken;
    if (requested?.has('openid')) {
      const token = new provider.IdToken(await account.claims('id_token', 'openid', {}, []), { ctx });
      token.scope = 'openid';
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = Object.fromEntries(Object.entries({
      access_token: accessToken,
      expires_in: at.expiration,
      token_type: at.tokenType,
      scope: at.scope || undefined,
      refresh_token: refreshToken,
      id_token: idToken,
    }).filter(([, value]) => value !== undefined));
  }, PASSWORD_GRANT_PARAMS);

  // JWT access tokens are not stored by oidc-provider, so a subject token is
  // checked as a resource server would: signature against this provider's
  // signing keys (all of them, as the JWKS endpoint publishes them), issuer,
  // audience and type.
  const accessTokenKeys = createLocalJWKSet({ keys: keys.map(publicJwk) });

  // Token exchange (RFC 8693) for access tokens of the demo API: the client
  // trades a user's access token for one with the same subject and at most
  // the same scopes, naming itself as the actor.
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT_TYPE, async (ctx) => {
    const { client, params } = ctx.oidc;
    for (const name of ['subject_token', 'subject_token_type']) {
      if (!params[name]) {
        throw new errors.InvalidRequest(`missing required parameter '${name}'`);
      }
    }
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`unsupported subject_token_type, only ${ACCESS_TOKEN_TYPE} is supported`);
    }
    if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`unsupported requested_token_type, only ${ACCESS_TOKEN_TYPE} is supported`);
    }
    for (const name of ['resource', 'audience']) {
      if (params[name] !== undefined && params[name] !== DEMO_AUDIENCE) {
        throw new errors.InvalidTarget(`${name} must be ${DEMO_AUDIENCE}`);
      }
    }

    let subject;
    try {
      ({ payload: subject } = await jwtVerify(params.subject_token, accessTokenKeys, {
        issuer: provider.issuer,
        audience: DEMO_AUDIENCE,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
        requiredClaims: ['sub', 'exp'],
      }));
    } catch {
      throw new errors.InvalidGrant('invalid subject_token');
    }

    const subjectScopes = new Set(typeof subject.scope === 'string' ? subject.scope.split(' ') : []);
    const requested = params.scope === undefined ? [...subjectScopes] : params.scope.split(' ');
    const scope = [...new Set(requested)]
      .filter((value) => subjectScopes.has(value) && API_SCOPES.includes(value))
      .join(' ');

    const at = new provider.AccessToken({
      accountId: subject.sub,
      client,
      gty: TOKEN_EXCHANGE_GRANT_TYPE,
      resourceServer: new provider.ResourceServer(DEMO_AUDIENCE, getResourceServerInfo(ctx, DEMO_AUDIENCE)),
      scope: scope || undefined,
    });
    // A subject token that was itself exchanged keeps its chain of actors.
    actClaims.set(at, { sub: client.clientId, ...(subject.act ? { act: subject.act } : {}) });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    ctx.body = Object.fromEntries(Object.entries({
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: at.tokenType,
      expires_in: at.expiration,
      scope: at.scope || undefined,
    }).filter(([, value]) => value !== undefined));
  }, TOKEN_EXCHANGE_PARAMS);

  // Login for the authorization code flow, in one step: the credentials are
  // checked against the users (DEMO_USERS by default) and consent is given at once for what the user
  // may have of the requested scopes (the rest is recorded as rejected, so
  // oidc-provider does not prompt again).
  async function grantFor(details, accountId, user) {
    const { params } = details;
    const clientId = params.client_id;
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) {
      grant = new provider.Grant({ accountId, clientId });
    }
    const requested = new Set(typeof params.scope === 'string' ? params.scope.split(' ') : []);
    const oidcScope = OIDC_SCOPES.filter((value) => requested.has(value)).join(' ');
    if (oidcScope) grant.addOIDCScope(oidcScope);

    const resources = params.resource === undefined ? [DEMO_AUDIENCE] : [params.resource].flat();
    for (const resource of resources) {
      const wanted = API_SCOPES.filter((value) => requested.has(value));
      const granted = wanted.filter((value) => user.scopes.includes(value));
      const rejected = wanted.filter((value) => !user.scopes.includes(value));
      if (granted.length) grant.addResourceScope(resource, granted.join(' '));
      if (rejected.length) grant.rejectResourceScope(resource, rejected.join(' '));
    }
    // Claims requested through the claims parameter, if any.
    const missingClaims = details.prompt?.details?.missingOIDCClaims;
    if (missingClaims?.length) grant.addOIDCClaims(missingClaims);
    return grant.save();
  }

  async function handleInteraction(req, res, uid) {
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, POST');
      res.end();
      return;
    }

    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (error) {
      if (error instanceof errors.SessionNotFound) {
        sendHtml(res, 400, errorPage('Sign-in expired', 'This sign-in is unknown or has expired. Start again from the application.'));
        return;
      }
      throw error;
    }
    if (details.uid !== uid) {
      sendHtml(res, 400, errorPage('Sign-in expired', 'This sign-in is unknown or has expired. Start again from the application.'));
      return;
    }

    const page = {
      action: `${issuerUrl}/interaction/${encodeURIComponent(uid)}`,
      clientId: details.params.client_id,
      scope: details.params.scope,
    };
    if (req.method === 'GET') {
      sendHtml(res, 200, loginPage(page));
      return;
    }

    let form;
    try {
      form = await readForm(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        res.setHeader('Connection', 'close');
        sendHtml(res, 413, errorPage('Request too large', 'The form is too large.'));
        return;
      }
      throw error;
    }
    const username = form.get('username') ?? '';
    const user = authenticate(users, username, form.get('password') ?? '');
    if (!user) {
      sendHtml(res, 200, loginPage({ ...page, username, error: 'Invalid username or password.' }));
      return;
    }

    const grantId = await grantFor(details, username, user);
    await provider.interactionFinished(req, res, {
      login: { accountId: username },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }

  const callback = provider.callback();
  const interactionPath = /^\/interaction\/([A-Za-z0-9_-]+)\/?$/;

  // Serves /interaction/:uid itself and everything else through oidc-provider.
  // Paths are relative to where the handler is mounted (express strips the
  // mount prefix from req.url).
  function handler(req, res) {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    const match = interactionPath.exec(pathname);
    if (!match) {
      callback(req, res);
      return;
    }
    handleInteraction(req, res, match[1]).catch(() => {
      if (!res.headersSent) {
        sendHtml(res, 500, errorPage('Server error', 'The sign-in could not be completed.'));
      } else {
        res.destroy();
      }
    });
  }

  return {
    provider, handler, signingKeys: keys, jwtClientKey: clientKey,
  };
}

// The same builder under the name used by launchers that mount `handler`.
export const createDemoApp = createDemoProvider;

// Listens on 127.0.0.1 and serves the provider at the root path. Key changes
// rebuild the Provider (its keystore is fixed at construction) behind the same
// socket, the same adapter storage, cookie keys and client key.
export async function startDemoProvider({
  port = 0,
  clientSecret = 'demo-client-secret',
  accessTokenTtlSec,
  redirectUris,
  jwtClientKey,
  users,
  tokenEncryptionKey,
} = {}) {
  const requests = new Map();
  const store = new Map();
  const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
  let handler;
  let closed = false;

  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    // No keep-alive: a client reusing a pooled socket that stop() has just
    // closed would see "other side closed" instead of a refused connection,
    // making outage tests racy.
    res.setHeader('Connection', 'close');
    handler(req, res);
  });

  const listen = (onPort) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(onPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });

  const shutdown = () => new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    // Requests still in flight are cut off, as in a real outage.
    server.closeAllConnections();
  });

  const boundPort = await listen(port);
  const issuer = `http://127.0.0.1:${boundPort}`;

  let signingKeys;
  let clientKey = jwtClientKey;
  const encryptionKey = tokenEncryptionKey ?? await generateTokenEncryptionKey();
  async function rebuild(keys) {
    const built = await createDemoProvider({
      issuer,
      clientSecret,
      signingKeys: keys,
      jwtClientKey: clientKey,
      redirectUris,
      accessTokenTtlSec,
      store,
      cookieKeys,
      users,
      tokenEncryptionKey: encryptionKey,
    });
    signingKeys = built.signingKeys;
    clientKey = built.jwtClientKey;
    handler = built.handler;
  }

  await rebuild();

  return {
    issuer,
    port: boundPort,
    requests,
    get signingKeys() {
      return signingKeys;
    },
    get jwtClientKey() {
      return clientKey;
    },
    // The private JWK whose public half encrypts the tokens of ENCRYPTED_AUDIENCE.
    get tokenEncryptionKey() {
      return encryptionKey;
    },
    async rotateSigningKey() {
      const key = await generateSigningKey();
      await rebuild([key, ...signingKeys]);
      return key;
    },
    async removeKey(kid) {
      const remaining = signingKeys.filter((key) => key.kid !== kid);
      if (remaining.length === signingKeys.length) {
        throw new Error(`no signing key with kid ${kid}`);
      }
      if (remaining.length === 0) {
        throw new Error('cannot remove the last signing key');
      }
      await rebuild(remaining);
    },
    stop: shutdown,
    async start() {
      if (closed) {
        throw new Error('demo provider was closed');
      }
      if (!server.listening) {
        await listen(boundPort);
      }
    },
    async close() {
      closed = true;
      await shutdown();
    },
  };
}
