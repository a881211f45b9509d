'use strict';
/**
 * The token doctor (nodes/core/token-doctor.ts) over tokens shaped as Keycloak, Okta, Auth0, Entra ID
 * and API Connect issue them (test/fixtures/token-shapes.js), configured through each provider's
 * preset, with each provider's metadata and key set served from memory and a fixed clock. A correct
 * token passes every step; each pitfall fails the step it breaks and names its hint; and whatever the
 * doctor says, its verdict is what the request path of validate-token answers, and a failing step
 * carries the verdict's code.
 */
const assert = require('node:assert/strict');
const jose = require('jose');
const { discoveryUrls } = require('../../dist/core/discovery');
const { Identity } = require('../../dist/core/identity');
const { presetSettings } = require('../../dist/core/presets');
const { runTokenDoctor, HINT_CODES, DOCTOR_CHECKS } = require('../../dist/core/token-doctor');
const { NOW_SEC, fakeHttp, forge } = require('../support/keys');
const shapes = require('../fixtures/token-shapes');

const { SAMPLE } = shapes;
/** Each provider as configured for the fixtures' sample tenant: its preset's input, and the key set that signs its tokens. */
const PROVIDERS = {
  keycloak: { preset: ['keycloak', { baseUrl: SAMPLE.keycloak.baseUrl, tenant: SAMPLE.keycloak.realm }], keys: 'keycloak' },
  okta: { preset: ['okta', { baseUrl: SAMPLE.okta.domain, tenant: SAMPLE.okta.server }], keys: 'okta' },
  auth0: { preset: ['auth0', { baseUrl: SAMPLE.auth0.domain }], keys: 'auth0' },
  entraV1: { preset: ['entra', { tenant: SAMPLE.entra.tenant, tokenVersion: 'v1' }], keys: 'entra' },
  entraV2: { preset: ['entra', { tenant: SAMPLE.entra.tenant, tokenVersion: 'v2' }], keys: 'entra' },
  entraMulti: { preset: ['entra', { tenant: 'organizations', tokenVersion: 'v2' }], keys: 'entra' },
  apic: { preset: ['apic', { baseUrl: SAMPLE.apic.gateway, tenant: SAMPLE.apic.providerPath }], keys: 'apic' },
};
const PRESETS = Object.fromEntries(Object.entries(PROVIDERS).map(([name, { preset: [id, input] }]) => [name, presetSettings(id, input)]));
/** How each key set is published: the provider's alg and kid (Entra's keys name no alg). */
const KEY_SETS = {
  keycloak: { alg: 'RS256', kid: SAMPLE.keycloak.kid },
  okta: { alg: 'RS256', kid: SAMPLE.okta.kid },
  'okta-org': { alg: 'RS256', kid: SAMPLE.okta.orgKid },
  auth0: { alg: 'RS256', kid: SAMPLE.auth0.kid },
  entra: { alg: 'RS256', kid: SAMPLE.entra.kid, noAlg: true },
  apic: { alg: 'ES256', kid: 'apic-jws' },
};
const ENTRA_V2_KEYS = `https://login.microsoftonline.com/${SAMPLE.entra.tenant}/discovery/v2.0/keys`;

describe('core: the token doctor', () => {
  const keys = {};
  /** Every hint code some test below saw. */
  const produced = new Set();
  let documents;

  before(async () => {
    for (const [name, set] of Object.entries(KEY_SETS)) {
      const { publicKey, privateKey } = await jose.generateKeyPair(set.alg, { extractable: true });
      const jwk = { ...(await jose.exportJWK(publicKey)), kid: set.kid, use: 'sig', ...(set.noAlg ? {} : { alg: set.alg }) };
      keys[name] = { privateKey, jwks: { keys: [jwk] } };
    }
    documents = {};
    const publish = (issuer, keySet, jwksUri = new URL(`/jwks-${keySet}`, issuer).href) => {
      documents[discoveryUrls(issuer)[0]] = { issuer, jwks_uri: jwksUri, token_endpoint: new URL('/token', issuer).href };
      documents[jwksUri] = keys[keySet].jwks;
    };
    publish(PRESETS.keycloak.issuer, 'keycloak');
    publish(PRESETS.okta.issuer, 'okta');
    publish(PRESETS.auth0.issuer, 'auth0');
    publish(PRESETS.entraV2.issuer, 'entra', ENTRA_V2_KEYS);
    publish(PRESETS.apic.issuer, 'apic');
    documents[PRESETS.entraV1.jwksUri] = keys.entra.jwks; // v1 issuers publish no metadata: the preset names the keys
  });

  const sign = (shape, keySet) => new jose.SignJWT(shape.claims).setProtectedHeader(shape.header).sign(keys[keySet].privateKey);

  /** The doctor for a preset's settings plus `config`, at NOW_SEC unless `atSec` says otherwise. */
  async function diagnose({ preset, config = {}, token, keySet, rules = {}, atSec = NOW_SEC, http, ...request }) {
    const { issuer, scopeClaims, roleClaims, jwksUri, tokenEndpoint } = PRESETS[preset];
    const provider = http ?? fakeHttp(documents);
    const pasted = typeof token === 'string' || token === undefined ? token : await sign(token, keySet ?? PROVIDERS[preset].keys);
    const report = await runTokenDoctor({
      options: { issuer, scopeClaims, roleClaims, jwksUri, tokenEndpoint, ...config },
      token: pasted, scope: rules.scope, roles: rules.roles, ...request,
    }, { now: () => atSec * 1000, httpFor: () => provider });
    for (const hint of report.hints) produced.add(hint.code);
    return { report, token: pasted };
  }

  const stepOf = (report, check) => report.steps.find((step) => step.check === check);
  const failing = (report) => report.steps.filter((step) => step.status === 'fail').map((step) => step.check);
  const hintsOf = (report) => report.hints.map((hint) => hint.code);

  describe('a correct token passes every step, for each provider', () => {
    const CORRECT = [
      { name: 'Keycloak user with an audience mapper, a scope and a client role', preset: 'keycloak', token: shapes.keycloak.user(),
        config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api }, rules: { scope: 'profile', roles: 'orders-admin' } },
      { name: 'Okta user of the default server', preset: 'okta', token: shapes.okta.user(),
        config: { audience: 'api://default' }, rules: { scope: 'orders:read', roles: 'orders-admins' } },
      { name: 'Auth0 user', preset: 'auth0', token: shapes.auth0.user(), config: { audience: SAMPLE.auth0.api },
        rules: { scope: 'read:orders', roles: 'write:orders' } },
      { name: 'Auth0 RFC 9068 profile in strict mode', preset: 'auth0', token: shapes.auth0.rfc9068User(),
        config: { audience: SAMPLE.auth0.api, rfc9068: true }, strict: true },
      { name: 'Entra v1.0 user (no metadata: the preset names the key set)', preset: 'entraV1', token: shapes.entra.v1User(),
        config: { audience: SAMPLE.entra.appIdUri }, rules: { scope: 'Orders.Read', roles: 'Orders.Admin' } },
      { name: 'Entra v2.0 user', preset: 'entraV2', token: shapes.entra.v2User(),
        config: { audience: SAMPLE.entra.apiClientId }, rules: { scope: 'Orders.Write' } },
      { name: 'API Connect user (ES256, no kid)', preset: 'apic', token: shapes.apic.user(),
        config: { audience: SAMPLE.apic.clientId }, rules: { scope: 'weather' } },
    ];
    for (const row of CORRECT) {
      it(row.name, async () => {
        const { report } = await diagnose(row);
        assert.deepEqual(report.steps.map((step) => step.check), [...DOCTOR_CHECKS]);
        assert.deepEqual(failing(report), [], JSON.stringify(report.steps));
        assert.deepEqual(report.hints, []);
        assert.deepEqual(report.verdict, { accepted: true });
        for (const check of ['configuration', 'keys', 'token', 'decode', 'algorithm', 'signature', 'issuer', 'audience', 'expiry']) {
          assert.equal(stepOf(report, check).status, 'pass', check);
        }
        if (row.rules?.scope) assert.equal(stepOf(report, 'scopes').status, 'pass');
        if (row.rules?.roles) assert.equal(stepOf(report, 'roles').status, 'pass');
        if (row.strict) assert.deepEqual([stepOf(report, 'type').status, stepOf(report, 'rfc9068Claims').status], ['pass', 'pass']);
        assert.deepEqual(report.token, { header: row.token.header, claims: row.token.claims });
      });
    }

    it('shows the expected and actual values of each check', async () => {
      const { report } = await diagnose(CORRECT[0]);
      assert.deepEqual(stepOf(report, 'issuer'), { check: 'issuer', status: 'pass', expected: PRESETS.keycloak.issuer, actual: PRESETS.keycloak.issuer });
      assert.deepEqual(stepOf(report, 'audience'), { check: 'audience', status: 'pass', expected: 'orders-api', actual: 'orders-api account' });
      assert.equal(stepOf(report, 'expiry').actual, new Date((NOW_SEC + 290) * 1000).toISOString());
      assert.equal(stepOf(report, 'expiry').expected, `> ${new Date((NOW_SEC - 30) * 1000).toISOString()}`);
      assert.equal(stepOf(report, 'signature').actual, SAMPLE.keycloak.kid);
      assert.equal(stepOf(report, 'keys').actual, '1');
    });

    it('an Entra v1 configuration needs no metadata: discovery is skipped, not failed', async () => {
      const { report } = await diagnose(CORRECT[4]);
      assert.equal(stepOf(report, 'discovery').status, 'skip');
      assert.equal(stepOf(report, 'discovery').code, 'ERR_DISCOVERY_INVALID');
    });
  });

  describe('each pitfall fails its step and names its hint', () => {
    const PITFALLS = [
      {
        name: 'Entra v1.0 token, v2.0 issuer configured', preset: 'entraV2', token: shapes.entra.v1User(),
        config: { audience: [SAMPLE.entra.apiClientId, SAMPLE.entra.appIdUri] },
        fails: ['issuer'], hints: [['HINT_ENTRA_TOKEN_VERSION', { version: '1.0', configured: '2.0' }]], verdict: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Entra v2.0 token, v1.0 issuer configured', preset: 'entraV1', token: shapes.entra.v2User(),
        config: { audience: [SAMPLE.entra.apiClientId, SAMPLE.entra.appIdUri] },
        fails: ['issuer'], hints: [['HINT_ENTRA_TOKEN_VERSION', { version: '2.0', configured: '1.0' }]], verdict: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Entra v2.0 token, the App ID URI configured as audience (v2.0 aud is the client id)', preset: 'entraV2',
        token: shapes.entra.v2User(), config: { audience: SAMPLE.entra.appIdUri },
        fails: ['audience'], hints: [['HINT_ENTRA_AUDIENCE', { aud: SAMPLE.entra.apiClientId, audience: SAMPLE.entra.appIdUri }]],
        verdict: 'ERR_TOKEN_AUDIENCE',
      },
      {
        name: 'Entra multi-tenant: a tenant that is not listed', preset: 'entraMulti', token: shapes.entra.v2User(),
        config: { tenants: '11111111-2222-4333-8444-555555555555', audience: SAMPLE.entra.apiClientId, jwksUri: ENTRA_V2_KEYS },
        fails: ['issuer'], hints: [['HINT_TENANT_NOT_LISTED', { tenant: SAMPLE.entra.tenant }]], verdict: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Keycloak realm at its defaults: aud is "account" (needs an audience mapper)', preset: 'keycloak',
        token: shapes.keycloak.defaultAudienceUser(), config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api },
        fails: ['audience'], hints: [['HINT_KEYCLOAK_AUDIENCE_MAPPER', { audience: SAMPLE.keycloak.api, client: SAMPLE.keycloak.frontend }]],
        verdict: 'ERR_TOKEN_AUDIENCE', actual: { audience: 'account' },
      },
      {
        name: 'Keycloak token of another realm', preset: 'keycloak', token: shapes.keycloak.user({ iss: `${SAMPLE.keycloak.baseUrl}/realms/other` }),
        config: { audience: SAMPLE.keycloak.api },
        fails: ['issuer'], hints: [['HINT_ISSUER_OTHER', { iss: `${SAMPLE.keycloak.baseUrl}/realms/other`, issuer: PRESETS.keycloak.issuer }]],
        verdict: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Keycloak client role of another client than the configured client id', preset: 'keycloak', token: shapes.keycloak.user(),
        config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.frontend }, rules: { roles: 'orders-admin' },
        fails: ['roles'], hints: [['HINT_KEYCLOAK_CLIENT_ROLES', { role: 'orders-admin', client: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.frontend }]],
        verdict: 'ERR_ROLE_INSUFFICIENT',
      },
      {
        name: 'Keycloak group required as a role: groups are not read by the preset', preset: 'keycloak', token: shapes.keycloak.user(),
        config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.api }, rules: { roles: '/staff' },
        fails: ['roles'], hints: [['HINT_ROLE_CLAIM', { role: '/staff', claim: 'groups', claims: `realm_access.roles resource_access.${SAMPLE.keycloak.api}.roles` }]],
        verdict: 'ERR_ROLE_INSUFFICIENT',
      },
      {
        name: 'Keycloak token in RFC 9068 strict mode: typ JWT, no client_id', preset: 'keycloak', token: shapes.keycloak.user(),
        config: { audience: SAMPLE.keycloak.api, rfc9068: true },
        fails: ['type', 'rfc9068Claims'], hints: [['HINT_RFC9068_TYPE', { typ: 'JWT' }], ['HINT_RFC9068_CLAIMS', { missing: 'client_id' }]],
        verdict: 'ERR_TOKEN_TYPE', passes: ['signature'],
      },
      {
        name: 'Auth0 opaque token (no audience requested), older tenants', preset: 'auth0', token: shapes.auth0.opaque.legacy,
        config: { audience: SAMPLE.auth0.api },
        fails: ['decode'], hints: [['HINT_AUTH0_AUDIENCE', { audience: SAMPLE.auth0.api }]], verdict: 'ERR_TOKEN_MALFORMED',
      },
      {
        name: 'Auth0 encrypted token (no audience requested), current tenants', preset: 'auth0', token: shapes.auth0.opaque.encrypted,
        config: { audience: SAMPLE.auth0.api },
        fails: ['decode'], hints: [['HINT_AUTH0_AUDIENCE', { audience: SAMPLE.auth0.api }]], verdict: 'ERR_TOKEN_ENCRYPTED',
      },
      {
        name: 'Auth0 token for /userinfo only', preset: 'auth0', token: shapes.auth0.user({ aud: `https://${SAMPLE.auth0.domain}/userinfo` }),
        config: { audience: SAMPLE.auth0.api },
        fails: ['audience'], hints: [['HINT_AUTH0_AUDIENCE', { audience: SAMPLE.auth0.api }]], verdict: 'ERR_TOKEN_AUDIENCE',
      },
      {
        name: 'Auth0 issuer typed without its trailing slash (token and discovery both say so)', preset: 'auth0', token: shapes.auth0.user(),
        config: { issuer: `https://${SAMPLE.auth0.domain}`, audience: SAMPLE.auth0.api },
        fails: ['discovery', 'keys', 'issuer'], hints: [['HINT_ISSUER_TRAILING_SLASH', { found: PRESETS.auth0.issuer, issuer: `https://${SAMPLE.auth0.domain}` }]],
        verdict: 'ERR_DISCOVERY_ISSUER_MISMATCH',
      },
      {
        name: 'Auth0 scope required that only RBAC permissions carry', preset: 'auth0', token: shapes.auth0.user(),
        config: { audience: SAMPLE.auth0.api }, rules: { scope: 'write:orders' },
        fails: ['scopes'], hints: [['HINT_SCOPE_CLAIM', { scope: 'write:orders', claim: 'permissions', claims: 'scope' }]],
        verdict: 'ERR_SCOPE_INSUFFICIENT',
      },
      {
        name: "Auth0 role in a namespaced claim the preset does not read", preset: 'auth0', token: shapes.auth0.user(),
        config: { audience: SAMPLE.auth0.api }, rules: { roles: 'orders-admin' },
        fails: ['roles'], hints: [['HINT_ROLE_CLAIM', { role: 'orders-admin', claim: 'https://example.com/roles', claims: 'permissions' }]],
        verdict: 'ERR_ROLE_INSUFFICIENT',
      },
      {
        name: 'Okta org-server token at a custom-server configuration', preset: 'okta', keySet: 'okta-org', token: shapes.okta.orgServerUser(),
        config: { audience: 'api://default' },
        fails: ['signature', 'issuer', 'audience'], hints: [['HINT_OKTA_ORG_SERVER', { iss: `https://${SAMPLE.okta.domain}`, issuer: PRESETS.okta.issuer }]],
        verdict: 'ERR_TOKEN_ISSUER',
      },
      {
        name: 'Okta token with scopes in "scope" while the preset reads "scp"', preset: 'okta',
        token: shapes.okta.user({ scp: undefined, scope: 'openid orders:read' }), config: { audience: 'api://default' }, rules: { scope: 'orders:read' },
        fails: ['scopes'], hints: [['HINT_SCOPE_CLAIM', { scope: 'orders:read', claim: 'scope', claims: 'scp' }]], verdict: 'ERR_SCOPE_INSUFFICIENT',
      },
      {
        name: 'a scope the token does not carry anywhere', preset: 'okta', token: shapes.okta.user(), config: { audience: 'api://default' },
        rules: { scope: 'orders:write' },
        fails: ['scopes'], hints: [['HINT_SCOPE_MISSING', { scopes: 'orders:write' }]], verdict: 'ERR_SCOPE_INSUFFICIENT',
      },
      {
        name: 'a role the token does not carry anywhere', preset: 'okta', token: shapes.okta.user(), config: { audience: 'api://default' },
        rules: { roles: 'auditors' },
        fails: ['roles'], hints: [['HINT_ROLE_MISSING', { roles: 'auditors' }]], verdict: 'ERR_ROLE_INSUFFICIENT',
      },
      {
        name: 'a token for another API (says which aud it has)', preset: 'okta', token: shapes.okta.user(), config: { audience: 'api://orders' },
        fails: ['audience'], hints: [['HINT_AUDIENCE_OTHER', { aud: 'api://default', audience: 'api://orders' }]], verdict: 'ERR_TOKEN_AUDIENCE',
      },
      {
        name: 'no audience configured', preset: 'okta', token: shapes.okta.user(),
        fails: ['audience'], hints: [['HINT_AUDIENCE_NOT_CONFIGURED', { aud: 'api://default' }]], verdict: 'ERR_CONFIG_AUDIENCE_MISSING',
      },
      {
        name: 'an expired token', preset: 'keycloak', token: shapes.keycloak.user(), config: { audience: SAMPLE.keycloak.api }, atSec: NOW_SEC + 3600,
        fails: ['expiry'], hints: [['HINT_TOKEN_EXPIRED', { ago: '3310', exp: new Date((NOW_SEC + 290) * 1000).toISOString() }]],
        verdict: 'ERR_TOKEN_EXPIRED',
      },
      {
        name: "a token from the future: this machine's clock is 10 minutes behind", preset: 'entraV2', token: shapes.entra.v2User(),
        config: { audience: SAMPLE.entra.apiClientId }, atSec: NOW_SEC - 600,
        fails: ['notBefore'], hints: [['HINT_CLOCK_SKEW', { seconds: '590' }]], verdict: 'ERR_TOKEN_NOT_YET_VALID',
      },
      {
        name: 'a token without exp (always required)', preset: 'keycloak', token: shapes.keycloak.user({ exp: undefined }),
        config: { audience: SAMPLE.keycloak.api }, fails: ['expiry'], hints: [], verdict: 'ERR_TOKEN_CLAIM_INVALID',
      },
      {
        name: 'an iat that is no NumericDate', preset: 'keycloak', token: shapes.keycloak.user({ iat: '2026-01-01' }),
        config: { audience: SAMPLE.keycloak.api }, fails: ['issuedAt'], hints: [], verdict: 'ERR_TOKEN_CLAIM_INVALID',
      },
      {
        name: 'an algorithm outside the configured allowlist', preset: 'okta', token: shapes.okta.user(), config: { audience: 'api://default', algorithms: 'ES256' },
        fails: ['algorithm'], hints: [['HINT_ALG_NOT_ALLOWED', { alg: 'RS256', algorithms: 'ES256' }]], verdict: 'ERR_TOKEN_ALG_NOT_ALLOWED',
        passes: ['signature'],
      },
    ];

    for (const row of PITFALLS) {
      it(row.name, async () => {
        const { report, token } = await diagnose(row);
        assert.deepEqual(failing(report), row.fails, JSON.stringify(report.steps));
        assert.deepEqual(report.hints.map((hint) => [hint.code, hint.values]), row.hints);
        assert.deepEqual([report.verdict.accepted, report.verdict.code], [false, row.verdict]);
        assert.ok(report.steps.some((step) => step.status === 'fail' && step.code === row.verdict), 'a failing step names the verdict');
        for (const check of row.passes ?? []) assert.equal(stepOf(report, check).status, 'pass', check);
        for (const [check, actual] of Object.entries(row.actual ?? {})) assert.equal(stepOf(report, check).actual, actual);
        assert.ok(!JSON.stringify(report).includes(token), 'the report never holds the token');
      });
    }
  });

  describe('signatures and algorithms', () => {
    it('HS256: a shared-secret token is never accepted, and the hint says why', async () => {
      const shape = shapes.keycloak.user();
      const token = await new jose.SignJWT(shape.claims).setProtectedHeader({ ...shape.header, alg: 'HS256' }).sign(new TextEncoder().encode('a shared secret of 32 characters'));
      const { report } = await diagnose({ preset: 'keycloak', token, config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual(failing(report), ['algorithm', 'signature']);
      assert.deepEqual(hintsOf(report), ['HINT_ALG_SYMMETRIC']);
      assert.deepEqual([stepOf(report, 'signature').code, report.verdict.code], ['ERR_TOKEN_ALG_NOT_ALLOWED', 'ERR_TOKEN_ALG_NOT_ALLOWED']);
    });

    it('alg none: an unsigned token', async () => {
      const token = forge({ alg: 'none', typ: 'JWT' }, shapes.keycloak.user().claims);
      const { report } = await diagnose({ preset: 'keycloak', token, config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual(failing(report), ['algorithm', 'signature']);
      assert.deepEqual(hintsOf(report), ['HINT_ALG_NONE']);
    });

    it('a kid the key set does not have, from the right issuer: another instance or environment', async () => {
      const shape = shapes.keycloak.user();
      const other = await jose.generateKeyPair('RS256');
      const token = await new jose.SignJWT(shape.claims).setProtectedHeader({ ...shape.header, kid: 'rebuilt-realm' }).sign(other.privateKey);
      const { report } = await diagnose({ preset: 'keycloak', token, config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual(failing(report), ['signature']);
      assert.equal(stepOf(report, 'signature').code, 'ERR_TOKEN_KEY_UNKNOWN');
      assert.deepEqual(report.hints, [{ code: 'HINT_KEY_UNKNOWN', values: { kid: 'rebuilt-realm' } }]);
      assert.equal(report.verdict.code, 'ERR_TOKEN_KEY_UNKNOWN');
    });

    it("the provider's kid, another key: the signature does not hold", async () => {
      const shape = shapes.keycloak.user();
      const other = await jose.generateKeyPair('RS256');
      const token = await new jose.SignJWT(shape.claims).setProtectedHeader(shape.header).sign(other.privateKey);
      const { report } = await diagnose({ preset: 'keycloak', token, config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual(failing(report), ['signature']);
      assert.deepEqual(hintsOf(report), ['HINT_SIGNATURE_INVALID']);
      assert.equal(report.verdict.code, 'ERR_TOKEN_SIGNATURE');
    });

    it('an encrypted token (JWE) of a provider other than Auth0 is called encrypted', async () => {
      const { report } = await diagnose({ preset: 'keycloak', token: shapes.auth0.opaque.encrypted, config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual([failing(report), hintsOf(report), report.verdict.code], [['decode'], ['HINT_TOKEN_ENCRYPTED'], 'ERR_TOKEN_ENCRYPTED']);
      assert.deepEqual(stepOf(report, 'decode'), { check: 'decode', status: 'fail', expected: 'JWS', actual: 'JWE', code: 'ERR_TOKEN_ENCRYPTED' });
    });

    it('an opaque token of a provider other than Auth0 is called opaque', async () => {
      const { report } = await diagnose({ preset: 'keycloak', token: 'Bearer 2YotnFZFEjr1zCsicMWpAA', config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual([failing(report), hintsOf(report)], [['decode'], ['HINT_TOKEN_OPAQUE']]);
      assert.ok(report.steps.slice(report.steps.findIndex((step) => step.check === 'algorithm')).every((step) => step.status === 'skip'));
      assert.equal(report.token, undefined);
    });
  });

  describe('the provider', () => {
    it('an Entra v1.0 issuer without the preset: no metadata at sts.windows.net, and the hint says to use the preset', async () => {
      const { report } = await diagnose({ preset: 'entraV1', token: shapes.entra.v1User(), config: { jwksUri: '', audience: SAMPLE.entra.appIdUri } });
      assert.deepEqual(failing(report), ['discovery', 'keys']);
      assert.equal(stepOf(report, 'signature').status, 'skip');
      assert.deepEqual(hintsOf(report), ['HINT_ENTRA_V1_ENDPOINTS']);
    });

    it('a discovery document that names another issuer', async () => {
      const http = fakeHttp({ ...documents, [discoveryUrls(PRESETS.keycloak.issuer)[0]]: { issuer: 'https://sso.example.com/auth/realms/acme' } });
      const { report } = await diagnose({ preset: 'keycloak', http, config: { audience: SAMPLE.keycloak.api } });
      assert.deepEqual(stepOf(report, 'discovery'), {
        check: 'discovery', status: 'fail', expected: PRESETS.keycloak.issuer, actual: 'https://sso.example.com/auth/realms/acme',
        code: 'ERR_DISCOVERY_ISSUER_MISMATCH', detail: stepOf(report, 'discovery').detail,
      });
      assert.deepEqual(report.hints, [{ code: 'HINT_DISCOVERY_ISSUER', values: { found: 'https://sso.example.com/auth/realms/acme', issuer: PRESETS.keycloak.issuer } }]);
      assert.equal(stepOf(report, 'token').status, 'skip', 'no token: only the provider is checked');
      assert.equal(report.verdict, undefined);
    });

    it('invalid options: the configuration fails, the pasted token is still decoded, the rest is skipped', async () => {
      const { report } = await diagnose({ preset: 'keycloak', token: shapes.keycloak.user(), config: { issuer: '' } });
      assert.deepEqual([stepOf(report, 'configuration').status, stepOf(report, 'configuration').code], ['fail', 'ERR_CONFIG_ISSUER_MISSING']);
      assert.deepEqual(failing(report), ['configuration']);
      assert.equal(stepOf(report, 'decode').status, 'pass');
      assert.equal(report.token.claims.iss, PRESETS.keycloak.issuer);
      assert.deepEqual(report.verdict.code, 'ERR_CONFIG_ISSUER_MISSING');
    });
  });

  describe('obtaining a token with the configured grant', () => {
    const TOKEN_ENDPOINT = new URL('/token', PRESETS.keycloak.issuer).href;

    /** The in-memory provider plus a token endpoint that issues `shape`, recording each request. */
    function withTokenEndpoint(shape) {
      const http = fakeHttp(documents);
      http.posts = [];
      http.postForm = async (url, form, headers) => {
        http.posts.push({ url, form: Object.fromEntries(form), headers });
        const access = await sign(shape, 'keycloak');
        return { status: 200, body: { access_token: access, token_type: 'Bearer', expires_in: 300, scope: 'profile email' }, contentType: 'application/json' };
      };
      return http;
    }

    it('client_credentials: the obtained token passes, and neither it nor the secret is in the report', async () => {
      const http = withTokenEndpoint(shapes.keycloak.serviceAccount());
      const { report } = await diagnose({
        preset: 'keycloak', http, grant: { type: 'client_credentials', scope: 'profile' },
        config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.batch, clientSecret: 'batch-secret' },
      });
      assert.deepEqual(failing(report), []);
      assert.deepEqual(stepOf(report, 'token'), { check: 'token', status: 'pass', actual: 'grant_type=client_credentials token_type=Bearer expires_in=300 scope=profile email' });
      assert.deepEqual(http.posts.map((post) => [post.url, post.form.grant_type, post.form.scope]), [[TOKEN_ENDPOINT, 'client_credentials', 'profile']]);
      assert.equal(report.verdict.accepted, true);
      const text = JSON.stringify(report);
      assert.ok(!text.includes('batch-secret'));
      assert.ok(!text.includes(await sign(shapes.keycloak.serviceAccount(), 'keycloak')));
    });

    it('a token the provider issued just now that has expired already: the clocks differ', async () => {
      const http = withTokenEndpoint(shapes.keycloak.serviceAccount({ iat: NOW_SEC - 700, exp: NOW_SEC - 400 }));
      const { report } = await diagnose({
        preset: 'keycloak', http, grant: { type: 'client_credentials' },
        config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.batch, clientSecret: 'batch-secret' },
      });
      assert.deepEqual(failing(report), ['expiry']);
      assert.deepEqual(report.hints, [{ code: 'HINT_CLOCK_SKEW', values: { seconds: '400' } }]);
    });

    it('password: the typed username and password go to the token endpoint once, and nowhere into the report', async () => {
      const http = withTokenEndpoint(shapes.keycloak.user());
      const { report } = await diagnose({
        preset: 'keycloak', http, grant: { type: 'password', username: 'alice', password: 'alice-typed-password' },
        config: { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.frontend, authMethod: 'none' },
      });
      assert.deepEqual(failing(report), []);
      assert.deepEqual(http.posts.map((post) => [post.form.grant_type, post.form.username, post.form.password]), [['password', 'alice', 'alice-typed-password']]);
      assert.ok(!JSON.stringify(report).includes('alice-typed-password'));
    });

    it('a client without its secret: the token step names ERR_CONFIG_CLIENT_MISSING', async () => {
      const http = withTokenEndpoint(shapes.keycloak.user());
      const { report } = await diagnose({ preset: 'keycloak', http, grant: { type: 'client_credentials' }, config: { audience: SAMPLE.keycloak.api, clientId: 'x' } });
      assert.deepEqual([stepOf(report, 'token').status, stepOf(report, 'token').code], ['fail', 'ERR_CONFIG_CLIENT_MISSING']);
      assert.equal(http.posts.length, 0);
      assert.ok(report.steps.slice(report.steps.findIndex((step) => step.check === 'decode')).every((step) => step.status === 'skip'));
    });

    describe('stored credentials (left unchanged in the editor)', () => {
      const deployedConfig = { audience: SAMPLE.keycloak.api, clientId: SAMPLE.keycloak.batch };

      function deployed(http, overrides = {}) {
        const { issuer } = PRESETS.keycloak;
        return new Identity({ issuer, ...deployedConfig, clientSecret: 'the-stored-secret', http, now: () => NOW_SEC * 1000, ...overrides });
      }

      it("are used through the deployed identity when the edited settings send them where it does", async () => {
        const http = withTokenEndpoint(shapes.keycloak.serviceAccount());
        const identity = deployed(http);
        try {
          const { report } = await diagnose({
            preset: 'keycloak', http, grant: { type: 'client_credentials' }, config: { ...deployedConfig, clientSecret: undefined },
            storedCredentials: { deployed: identity },
          });
          assert.deepEqual(failing(report), []);
          const basic = Buffer.from(http.posts[0].headers.Authorization.replace(/^Basic /, ''), 'base64').toString();
          assert.equal(basic, `${SAMPLE.keycloak.batch}:the-stored-secret`);
          assert.ok(!JSON.stringify(report).includes('the-stored-secret'));
        } finally {
          identity.close();
        }
      });

      for (const [name, config] of [
        ['another token endpoint', { tokenEndpoint: 'https://elsewhere.example.com/token' }],
        ['another client id', { clientId: 'someone-else' }],
        ['another issuer', { issuer: `${SAMPLE.keycloak.baseUrl}/realms/other` }],
      ]) {
        it(`are withheld from ${name}: no token request, and the hint says why`, async () => {
          const http = withTokenEndpoint(shapes.keycloak.serviceAccount());
          const identity = deployed(http);
          try {
            const { report } = await diagnose({
              preset: 'keycloak', http, grant: { type: 'client_credentials' }, config: { ...deployedConfig, ...config },
              storedCredentials: { deployed: identity },
            });
            assert.equal(http.posts.length, 0);
            assert.deepEqual([stepOf(report, 'token').status, stepOf(report, 'token').code], ['fail', 'ERR_CONFIG_CLIENT_MISSING']);
            assert.deepEqual(hintsOf(report), ['HINT_STORED_SECRET_WITHHELD']);
          } finally {
            identity.close();
          }
        });
      }

      it('are withheld when no deployed identity-config has them', async () => {
        const http = withTokenEndpoint(shapes.keycloak.serviceAccount());
        const { report } = await diagnose({
          preset: 'keycloak', http, grant: { type: 'client_credentials' }, config: deployedConfig, storedCredentials: { deployed: undefined },
        });
        assert.equal(http.posts.length, 0);
        assert.deepEqual(hintsOf(report), ['HINT_STORED_SECRET_WITHHELD']);
      });
    });
  });

  // Mocha runs a suite's own tests before its nested suites: this one must be a suite, and the last.
  describe('hint codes', () => {
    it('every code of HINT_CODES was produced by a test above, and no other', () => {
      // The list is the contract with the catalogs; a code no token can produce would be dead text.
      assert.deepEqual(HINT_CODES.filter((code) => !produced.has(code)), []);
      assert.deepEqual([...produced].filter((code) => !HINT_CODES.includes(code)), []);
    });
  });
});
