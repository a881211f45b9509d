'use strict';
/**
 * Tokens shaped as Keycloak, Okta, Auth0, Entra ID (v1.0 and v2.0) and IBM API Connect issue them
 * (test/fixtures/token-shapes.js), read through each provider's preset: the claim mapping alone,
 * then the whole request path (signature against a key set served on 127.0.0.1, issuer, audience,
 * the route's rules), and the mistakes integrators make with each provider.
 *
 * The key set URL is the one thing the tests set in place of the preset's: every other setting is
 * what identity-config gets from `presetSettings` for the sample tenants.
 */
const assert = require('node:assert/strict');
const jose = require('jose');
const { toAuthInfo, words } = require('../../dist/core/claims');
const { Identity } = require('../../dist/core/identity');
const { presetSettings } = require('../../dist/core/presets');
const { rejectsWithCode } = require('../support/assert');
const { listen } = require('../support/servers');
const { NOW_SEC } = require('../support/keys');
const shapes = require('../fixtures/token-shapes');

const { SAMPLE } = shapes;

const PRESETS = {
  keycloak: presetSettings('keycloak', { baseUrl: SAMPLE.keycloak.baseUrl, tenant: SAMPLE.keycloak.realm }),
  okta: presetSettings('okta', { baseUrl: SAMPLE.okta.domain, tenant: SAMPLE.okta.server }),
  auth0: presetSettings('auth0', { baseUrl: SAMPLE.auth0.domain }),
  entraV1: presetSettings('entra', { tenant: SAMPLE.entra.tenant, tokenVersion: 'v1' }),
  entraV2: presetSettings('entra', { tenant: SAMPLE.entra.tenant, tokenVersion: 'v2' }),
  apic: presetSettings('apic', { baseUrl: SAMPLE.apic.gateway, tenant: SAMPLE.apic.providerPath }),
};

const KEYCLOAK_REALM_ROLES = ['default-roles-acme', 'offline_access', 'uma_authorization'];
const ENTRA_GROUPS = shapes.entra.v2User().claims.groups;

/**
 * What each preset makes of each shape. `ignored`: values the token carries in a claim that means
 * something else at that provider, which the preset must not turn into roles or scopes.
 */
const MAPPING = [
  {
    name: 'Keycloak user: scope; realm roles and the API client roles, not the account client roles nor groups',
    preset: 'keycloak', clientId: SAMPLE.keycloak.api, token: shapes.keycloak.user(),
    scopes: ['openid', 'profile', 'email'], roles: [...KEYCLOAK_REALM_ROLES, 'orders-reader', 'orders-admin'],
    tokenClientId: SAMPLE.keycloak.frontend, ignored: ['manage-account', 'view-profile', '/staff', '/staff/orders'],
  },
  {
    name: 'Keycloak service account: its client roles of the API; client id from client_id',
    preset: 'keycloak', clientId: SAMPLE.keycloak.api, token: shapes.keycloak.serviceAccount(),
    scopes: ['profile', 'email'], roles: [...KEYCLOAK_REALM_ROLES, 'orders-writer'], tokenClientId: SAMPLE.keycloak.batch,
    ignored: ['manage-account'],
  },
  {
    name: 'Okta user: scp array; groups; client id from cid',
    preset: 'okta', token: shapes.okta.user(),
    scopes: ['openid', 'profile', 'orders:read'], roles: ['Everyone', 'orders-admins'], tokenClientId: SAMPLE.okta.clientId,
  },
  {
    name: 'Okta user: a group name with a space stays one role',
    preset: 'okta', token: shapes.okta.user({ groups: ['Everyone', 'Orders Admins'] }),
    scopes: ['openid', 'profile', 'orders:read'], roles: ['Everyone', 'Orders Admins'], tokenClientId: SAMPLE.okta.clientId,
  },
  {
    name: 'Okta client credentials: scp, no groups',
    preset: 'okta', token: shapes.okta.client(),
    scopes: ['orders:read'], roles: [], tokenClientId: SAMPLE.okta.serviceClientId,
  },
  {
    name: 'Auth0 user: scope string; permissions as roles, not the namespaced roles claim; client id from azp',
    preset: 'auth0', token: shapes.auth0.user(),
    scopes: ['openid', 'profile', 'email', 'read:orders'], roles: ['read:orders', 'write:orders'], tokenClientId: SAMPLE.auth0.clientId,
    ignored: ['orders-admin'],
  },
  {
    name: 'Auth0 client credentials: scope and permissions',
    preset: 'auth0', token: shapes.auth0.client(),
    scopes: ['read:orders'], roles: ['read:orders'], tokenClientId: SAMPLE.auth0.m2mClientId,
  },
  {
    name: 'Auth0 RFC 9068 profile: client id from client_id',
    preset: 'auth0', token: shapes.auth0.rfc9068User(),
    scopes: ['openid', 'profile', 'read:orders'], roles: ['read:orders', 'write:orders'], tokenClientId: SAMPLE.auth0.clientId,
  },
  {
    name: 'Entra v1.0 user: scp split at spaces; roles; client id from appid; not group ids nor directory roles',
    preset: 'entraV1', token: shapes.entra.v1User(),
    scopes: ['Orders.Read', 'Orders.Write'], roles: ['Orders.Admin'], tokenClientId: SAMPLE.entra.clientId,
    ignored: [...ENTRA_GROUPS, 'b79fbf4d-3ef9-4689-8143-76b194e85509'],
  },
  {
    name: 'Entra v2.0 user: scp split at spaces; roles; client id from azp; not group ids',
    preset: 'entraV2', token: shapes.entra.v2User(),
    scopes: ['Orders.Read', 'Orders.Write'], roles: ['Orders.Admin'], tokenClientId: SAMPLE.entra.clientId,
    ignored: ENTRA_GROUPS,
  },
  {
    name: 'Entra v2.0 app-only: application permissions are roles, and there is no scope',
    preset: 'entraV2', token: shapes.entra.v2App(),
    scopes: [], roles: ['Orders.Read.All'], tokenClientId: SAMPLE.entra.daemonClientId,
  },
  {
    name: 'API Connect user: scope; no role claim; no claim but aud names the client, so no client id',
    preset: 'apic', token: shapes.apic.user(),
    scopes: ['weather', 'openid'], roles: [], tokenClientId: undefined,
  },
  {
    name: 'API Connect application grant: scope only',
    preset: 'apic', token: shapes.apic.application(),
    scopes: ['weather'], roles: [], tokenClientId: undefined,
  },
];

describe('core: real token shapes through the provider presets', () => {
  describe('claim mapping', () => {
    for (const row of MAPPING) {
      it(row.name, () => {
        const { scopeClaims, roleClaims } = PRESETS[row.preset];
        const mapping = { clientId: row.clientId, scopeClaims: words(scopeClaims), roleClaims: words(roleClaims) };
        const auth = toAuthInfo(row.token.claims, mapping);
        assert.deepEqual({ scopes: auth.scopes, roles: auth.roles, clientId: auth.clientId },
          { scopes: row.scopes, roles: row.roles, clientId: row.tokenClientId });
        for (const value of row.ignored ?? []) {
          assert.ok(JSON.stringify(row.token.claims).includes(JSON.stringify(value)), `the token carries ${value}`);
          assert.ok(![...auth.roles, ...auth.scopes].includes(value), `${value} is not a role or scope`);
        }
      });
    }

    it('without a preset every known spelling is read: Keycloak groups and Entra group ids would become roles', () => {
      assert.ok(toAuthInfo(shapes.keycloak.user().claims, { clientId: SAMPLE.keycloak.api }).roles.includes('/staff'));
      assert.ok(ENTRA_GROUPS.every((id) => toAuthInfo(shapes.entra.v2User().claims).roles.includes(id)));
    });

    it("Auth0's namespaced roles claim counts once it is named among the role claims", () => {
      const auth = toAuthInfo(shapes.auth0.user().claims, { roleClaims: ['permissions', 'https://example.com/roles'] });
      assert.deepEqual(auth.roles, ['read:orders', 'write:orders', 'orders-admin']);
    });
  });

  describe('end to end: signed as the provider signs, verified with the preset settings', () => {
    /** The key sets served on 127.0.0.1: each provider's alg and kid, and how it publishes the key. */
    const KEY_SETS = {
      keycloak: { alg: 'RS256', kid: SAMPLE.keycloak.kid },
      okta: { alg: 'RS256', kid: SAMPLE.okta.kid },
      'okta-org': { alg: 'RS256', kid: SAMPLE.okta.orgKid },
      auth0: { alg: 'RS256', kid: SAMPLE.auth0.kid },
      // Entra's key set names no alg; it carries x5t and the key's issuer (template) instead.
      entra: { alg: 'RS256', kid: SAMPLE.entra.kid, noAlg: true, extra: { x5t: SAMPLE.entra.kid, issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0' } },
      apic: { alg: 'ES256', kid: 'apic-jws' },
    };
    const keys = {};
    let server;
    let base;
    const opened = [];

    before(async () => {
      for (const [name, set] of Object.entries(KEY_SETS)) {
        const { publicKey, privateKey } = await jose.generateKeyPair(set.alg, { extractable: true });
        const jwk = { ...(await jose.exportJWK(publicKey)), kid: set.kid, use: 'sig', ...(set.noAlg ? {} : { alg: set.alg }), ...set.extra };
        keys[name] = { privateKey, jwks: { keys: [jwk] } };
      }
      server = await listen((req, res) => {
        const name = /^\/([\w-]+)\/keys$/.exec(req.url)?.[1];
        const body = name && keys[name] ? keys[name].jwks : undefined;
        res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body ?? { error: 'not_found' }));
      });
      base = `http://127.0.0.1:${server.address().port}`;
    });
    afterEach(() => {
      for (const identity of opened.splice(0)) identity.close();
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    const sign = (token, keySet) => new jose.SignJWT(token.claims).setProtectedHeader(token.header).sign(keys[keySet].privateKey);
    const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });

    /** An Identity as identity-config builds it from a preset, with the key set on 127.0.0.1. */
    function identityFor(row) {
      const { issuer, scopeClaims, roleClaims } = PRESETS[row.preset];
      const identity = new Identity({
        issuer, scopeClaims, roleClaims, jwksUri: `${base}/${row.keys}/keys`, now: () => NOW_SEC * 1000, ...row.config,
      });
      opened.push(identity);
      return identity;
    }

    async function present(row) {
      const token = typeof row.token === 'string' ? row.token : await sign(row.token, row.signedBy ?? row.keys);
      return identityFor(row).authenticate(bearer(token), { scopes: [], roles: [], ...row.rules });
    }

    const ACCEPTED = [
      {
        name: 'Keycloak user, audience mapper: the API scope and client role', preset: 'keycloak', keys: 'keycloak',
        token: shapes.keycloak.user(), config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api },
        rules: { scopes: ['profile'], roles: ['orders-admin'] }, subject: 'f3a4c6d2-8d4b-4c1e-9b0f-2a7e5d9c1b38', clientId: SAMPLE.keycloak.frontend,
      },
      {
        name: 'Keycloak service account', preset: 'keycloak', keys: 'keycloak',
        token: shapes.keycloak.serviceAccount(), config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api },
        rules: { roles: ['orders-writer'] }, subject: '7a9c1e3b-5d2f-4a6c-8e0b-9f1d3b5a7c42', clientId: SAMPLE.keycloak.batch,
      },
      {
        name: 'Okta user of the default server (no typ header)', preset: 'okta', keys: 'okta',
        token: shapes.okta.user(), config: { audience: 'api://default' },
        rules: { scopes: ['orders:read'], roles: ['orders-admins'] }, subject: 'alice@example.com', clientId: SAMPLE.okta.clientId,
      },
      {
        name: 'Okta client credentials', preset: 'okta', keys: 'okta',
        token: shapes.okta.client(), config: { audience: 'api://default' },
        rules: { scopes: ['orders:read'] }, subject: SAMPLE.okta.serviceClientId, clientId: SAMPLE.okta.serviceClientId,
      },
      {
        name: 'Auth0 user: aud lists the API and /userinfo', preset: 'auth0', keys: 'auth0',
        token: shapes.auth0.user(), config: { audience: SAMPLE.auth0.api },
        rules: { scopes: ['read:orders'], roles: ['write:orders'] }, subject: 'auth0|64f1c2a9e8b7d6c5b4a39281', clientId: SAMPLE.auth0.clientId,
      },
      {
        name: 'Auth0 client credentials', preset: 'auth0', keys: 'auth0',
        token: shapes.auth0.client(), config: { audience: SAMPLE.auth0.api },
        rules: { scopes: ['read:orders'] }, subject: `${SAMPLE.auth0.m2mClientId}@clients`, clientId: SAMPLE.auth0.m2mClientId,
      },
      {
        name: 'Auth0 RFC 9068 profile in strict mode (typ at+jwt)', preset: 'auth0', keys: 'auth0',
        token: shapes.auth0.rfc9068User(), config: { audience: SAMPLE.auth0.api, rfc9068: true },
        rules: { roles: ['write:orders'] }, subject: 'auth0|64f1c2a9e8b7d6c5b4a39281', clientId: SAMPLE.auth0.clientId,
      },
      {
        name: 'Entra v1.0 user: App ID URI audience, x5t header, key set without alg', preset: 'entraV1', keys: 'entra',
        token: shapes.entra.v1User(), config: { audience: SAMPLE.entra.appIdUri },
        rules: { scopes: ['Orders.Read'], roles: ['Orders.Admin'] }, subject: 'l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA', clientId: SAMPLE.entra.clientId,
      },
      {
        name: 'Entra v2.0 user: the API client id as audience', preset: 'entraV2', keys: 'entra',
        token: shapes.entra.v2User(), config: { audience: SAMPLE.entra.apiClientId },
        rules: { scopes: ['Orders.Write'], roles: ['Orders.Admin'] }, subject: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ', clientId: SAMPLE.entra.clientId,
      },
      {
        name: 'Entra v2.0 app-only: an application permission as the role', preset: 'entraV2', keys: 'entra',
        token: shapes.entra.v2App(), config: { audience: SAMPLE.entra.apiClientId },
        rules: { roles: ['Orders.Read.All'] }, subject: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d', clientId: SAMPLE.entra.daemonClientId,
      },
      {
        name: 'API Connect user: ES256, no kid, the client id as audience', preset: 'apic', keys: 'apic',
        token: shapes.apic.user(), config: { audience: SAMPLE.apic.clientId },
        rules: { scopes: ['weather'] }, subject: 'spoon', clientId: undefined,
      },
      {
        name: 'API Connect application grant: no sub', preset: 'apic', keys: 'apic',
        token: shapes.apic.application(), config: { audience: SAMPLE.apic.clientId },
        rules: { scopes: ['weather'] }, subject: undefined, clientId: undefined,
      },
    ];

    for (const row of ACCEPTED) {
      it(`accepts: ${row.name}`, async () => {
        const auth = await present(row);
        assert.deepEqual({ subject: auth.subject, clientId: auth.clientId, issuer: auth.issuer },
          { subject: row.subject, clientId: row.clientId, issuer: PRESETS[row.preset].issuer });
      });
    }

    const REFUSED = [
      {
        name: 'Keycloak realm at its defaults: aud is only "account"', preset: 'keycloak', keys: 'keycloak',
        token: shapes.keycloak.defaultAudienceUser(), config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api },
        code: 'ERR_TOKEN_AUDIENCE',
      },
      {
        name: 'Keycloak 17+ token, configured as a legacy server (/auth)', preset: 'keycloak', keys: 'keycloak',
        token: shapes.keycloak.user(),
        config: {
          issuer: presetSettings('keycloak', { baseUrl: SAMPLE.keycloak.baseUrl, tenant: SAMPLE.keycloak.realm, legacyAuth: true }).issuer,
          audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api,
        },
        code: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Keycloak client role required, but no client id configured to find resource_access.<client>', preset: 'keycloak', keys: 'keycloak',
        token: shapes.keycloak.user(), config: { audience: SAMPLE.keycloak.api }, rules: { roles: ['orders-admin'] },
        code: 'ERR_ROLE_INSUFFICIENT',
      },
      {
        // The org server signs with keys of its own, which the default server does not publish: no
        // key fits, and the token names another issuer, so the integrator hears "wrong issuer".
        name: 'Okta org-server token to a default-server config', preset: 'okta', keys: 'okta', signedBy: 'okta-org',
        token: shapes.okta.orgServerUser(), config: { audience: 'api://default' },
        code: 'ERR_TOKEN_ISSUER',
      },
      {
        name: "Okta org-server token to a default-server config given the org server's keys", preset: 'okta', keys: 'okta-org',
        token: shapes.okta.orgServerUser(), config: { audience: 'api://default' },
        code: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Auth0 issuer typed without its trailing slash', preset: 'auth0', keys: 'auth0',
        token: shapes.auth0.user(), config: { issuer: `https://${SAMPLE.auth0.domain}`, audience: SAMPLE.auth0.api },
        code: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Auth0 opaque token (no audience requested), older tenants: a short random string', preset: 'auth0', keys: 'auth0',
        token: shapes.auth0.opaque.legacy, config: { audience: SAMPLE.auth0.api },
        code: 'ERR_TOKEN_MALFORMED',
      },
      {
        name: 'Auth0 opaque token (no audience requested), current tenants: an encrypted JWE', preset: 'auth0', keys: 'auth0',
        token: shapes.auth0.opaque.encrypted, config: { audience: SAMPLE.auth0.api },
        code: 'ERR_TOKEN_ENCRYPTED',
      },
      {
        name: 'Entra v1.0 token to a v2.0 config (either audience accepted)', preset: 'entraV2', keys: 'entra',
        token: shapes.entra.v1User(), config: { audience: [SAMPLE.entra.apiClientId, SAMPLE.entra.appIdUri] },
        code: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Entra v2.0 token to a v1.0 config (either audience accepted)', preset: 'entraV1', keys: 'entra',
        token: shapes.entra.v2User(), config: { audience: [SAMPLE.entra.apiClientId, SAMPLE.entra.appIdUri] },
        code: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Entra v2.0 token to a config expecting the App ID URI: v2.0 aud is always the client id', preset: 'entraV2', keys: 'entra',
        token: shapes.entra.v2User(), config: { audience: SAMPLE.entra.appIdUri },
        code: 'ERR_TOKEN_AUDIENCE',
      },
      {
        name: 'Entra app-only token on a route that requires a delegated scope', preset: 'entraV2', keys: 'entra',
        token: shapes.entra.v2App(), config: { audience: SAMPLE.entra.apiClientId }, rules: { scopes: ['Orders.Read'] },
        code: 'ERR_SCOPE_INSUFFICIENT',
      },
    ];

    for (const row of REFUSED) {
      it(`refuses with ${row.code}: ${row.name}`, async () => {
        await rejectsWithCode(present(row), row.code);
      });
    }
  });
});
