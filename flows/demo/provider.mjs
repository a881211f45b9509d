// Embedded demo identity provider for node-red-contrib-identity.
//
// Wraps oidc-provider (an OpenID Certified authorization server) with a fixed
// configuration that the demo flows and the test suites can rely on: one
// confidential client, two users, one API resource whose access tokens are
// RFC 9068 JWTs, plus the resource owner password grant (which oidc-provider
// does not ship) registered through its custom grant extension point.
// startDemoProvider() adds what tests need around it: an ephemeral loopback
// port, request counters, signing key rotation/removal, and stop/start on the
// same port to simulate an identity provider outage.
//
// This is a development tool: in-memory state, known passwords, plain HTTP on
// 127.0.0.1. Never expose it beyond loopback.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { Provider, errors } from 'oidc-provider';

export const DEMO_CLIENT_ID = 'demo-client';
export const DEMO_AUDIENCE = 'urn:node-red-contrib-identity:demo-api';

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

const API_SCOPES = ['orders:read', 'orders:write'];
const OIDC_SCOPES = ['openid', 'offline_access'];
const SIGNING_ALG = 'RS256';
const REDIRECT_URI = 'http://127.0.0.1:1880/callback';

const PASSWORD_GRANT = 'password';
const PASSWORD_GRANT_PARAMS = ['username', 'password', 'scope', 'resource'];

// Refresh tokens rotate on every use, so each one only needs to cover a demo
// session; the grant behind them must outlive the whole chain of rotations.
const REFRESH_TOKEN_TTL_SEC = 8 * 60 * 60;
const GRANT_TTL_SEC = 14 * 24 * 60 * 60;

async function generateSigningKey() {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: SIGNING_ALG, use: 'sig' };
}

// Compares digests so that the comparison time does not depend on how much of
// the password matched (demo or not, this is the pattern people copy).
function secretsEqual(a, b) {
  const digest = (value) => crypto.createHash('sha256').update(String(value)).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

function authenticate(username, password) {
  const user = Object.hasOwn(DEMO_USERS, username) ? DEMO_USERS[username] : undefined;
  if (!user || !secretsEqual(password, user.password)) {
    return undefined;
  }
  return user;
}

async function findAccount(_ctx, accountId) {
  if (!Object.hasOwn(DEMO_USERS, accountId)) {
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

// Builds (does not listen) a Provider instance. `store` is optional shared
// adapter storage so that a rebuilt Provider keeps the previous one's state.
export async function createDemoProvider({
  issuer,
  clientSecret,
  signingKeys,
  accessTokenTtlSec = 300,
  store = new Map(),
}) {
  const keys = signingKeys?.length ? signingKeys : [await generateSigningKey()];

  // Only the API is a resource server; its tokens are JWTs signed with the
  // first (current) key, named explicitly rather than left to keystore order.
  const resourceServerInfo = {
    scope: API_SCOPES.join(' '),
    audience: DEMO_AUDIENCE,
    accessTokenTTL: accessTokenTtlSec,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: SIGNING_ALG, kid: keys[0].kid } },
  };

  function getResourceServerInfo(_ctx, resourceIndicator) {
    if (resourceIndicator !== DEMO_AUDIENCE) {
      throw new errors.InvalidTarget();
    }
    return resourceServerInfo;
  }

  const provider = new Provider(issuer, {
    adapter: createAdapter(store),
    clients: [{
      client_id: DEMO_CLIENT_ID,
      client_secret: clientSecret,
      // client_secret_post is accepted too: oidc-provider treats basic and
      // post as interchangeable for a client registered with either.
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials', 'refresh_token', PASSWORD_GRANT, 'authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
    }],
    // Random per instance: cookies only matter for browser interactions,
    // which this demo does not serve.
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    // Confidential server-side clients only; no browser origin is trusted.
    clientBasedCORS: () => false,
    findAccount,
    jwks: { keys: structuredClone(keys) },
    rotateRefreshToken: true,
    extraTokenClaims: async (_ctx, token) => {
      const user = token.accountId && DEMO_USERS[token.accountId];
      return user ? { realm_access: { roles: [...user.roles] } } : undefined;
    },
    features: {
      // The dev login pages announce themselves on stderr; no interactive
      // flow is needed yet.
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Requests without `resource` still get an API token, not an opaque
        // userinfo-only one.
        defaultResource: async () => DEMO_AUDIENCE,
        getResourceServerInfo: async (ctx, resourceIndicator) => getResourceServerInfo(ctx, resourceIndicator),
        // Refreshes keep the audience of the original token, even when the
        // refresh token also carries `openid`.
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
    const user = authenticate(accountId, params.password);
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

    const account = await findAccount(ctx, accountId);
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

  return { provider, signingKeys: keys };
}

// Listens on 127.0.0.1 and serves the provider at the root path. Key changes
// rebuild the Provider (its keystore is fixed at construction) behind the same
// socket and the same adapter storage.
export async function startDemoProvider({ port = 0, clientSecret = 'demo-client-secret', accessTokenTtlSec } = {}) {
  const requests = new Map();
  const store = new Map();
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
  async function rebuild(keys) {
    const built = await createDemoProvider({
      issuer, clientSecret, signingKeys: keys, accessTokenTtlSec, store,
    });
    signingKeys = built.signingKeys;
    handler = built.provider.callback();
  }

  await rebuild();

  return {
    issuer,
    port: boundPort,
    requests,
    get signingKeys() {
      return signingKeys;
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
