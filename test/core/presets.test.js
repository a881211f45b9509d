'use strict';
/** Provider presets (nodes/core/presets.ts): the issuer, endpoints and claims each one fills in. */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { presetSettings, PRESET_IDS, PRESET_CLAIMS, PRESET_FIELDS, isPresetId } = require('../../dist/core/presets');

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('core: provider presets', () => {
  it('Keycloak: <server>/realms/<realm>, with /auth for the legacy path (once), the server path kept', () => {
    assert.equal(presetSettings('keycloak', { baseUrl: 'https://sso.example.com/', tenant: 'main' }).issuer, 'https://sso.example.com/realms/main');
    assert.equal(presetSettings('keycloak', { baseUrl: 'https://sso.example.com', tenant: 'main', legacyAuth: true }).issuer,
      'https://sso.example.com/auth/realms/main');
    assert.equal(presetSettings('keycloak', { baseUrl: 'https://sso.example.com/auth', tenant: 'main', legacyAuth: true }).issuer,
      'https://sso.example.com/auth/realms/main');
    assert.equal(presetSettings('keycloak', { baseUrl: 'https://example.com/iam/', tenant: 'büro' }).issuer, 'https://example.com/iam/realms/b%C3%BCro');
    assert.equal(presetSettings('keycloak', { baseUrl: 'sso.example.com', tenant: 'main' }).issuer, 'https://sso.example.com/realms/main',
      'a bare host name means https');
    assert.equal(presetSettings('keycloak', { baseUrl: 'http://127.0.0.1:1880', tenant: 'demo' }).issuer, 'http://127.0.0.1:1880/realms/demo');
  });

  it('Okta: /oauth2/<server>, or the org server without one', () => {
    assert.equal(presetSettings('okta', { baseUrl: 'dev-123.okta.com', tenant: 'default' }).issuer, 'https://dev-123.okta.com/oauth2/default');
    assert.equal(presetSettings('okta', { baseUrl: 'https://dev-123.okta.com/some/page', tenant: '' }).issuer, 'https://dev-123.okta.com',
      'a pasted admin URL gives its origin');
  });

  it('Auth0: the domain with the trailing slash Auth0 puts in iss', () => {
    assert.equal(presetSettings('auth0', { baseUrl: 'tenant.eu.auth0.com' }).issuer, 'https://tenant.eu.auth0.com/');
    assert.equal(presetSettings('auth0', { baseUrl: 'https://login.example.com/' }).issuer, 'https://login.example.com/');
  });

  it('Entra: v2 issuer discovered; v1 issuer with the tenant endpoints, since sts.windows.net publishes none', () => {
    const v2 = presetSettings('entra', { tenant: TENANT.toUpperCase(), tokenVersion: 'v2' });
    assert.deepEqual(v2, {
      issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`, jwksUri: '', tokenEndpoint: '', authorizationEndpoint: '',
      scopeClaims: 'scp', roleClaims: 'roles',
    });
    const v1 = presetSettings('entra', { tenant: TENANT, tokenVersion: 'v1' });
    assert.equal(v1.issuer, `https://sts.windows.net/${TENANT}/`);
    assert.equal(v1.jwksUri, `https://login.microsoftonline.com/${TENANT}/discovery/keys`);
    assert.equal(v1.tokenEndpoint, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`);
    assert.equal(v1.authorizationEndpoint, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/authorize`);
  });

  it('Entra multi-tenant (organizations): the issuer template over {tenantid}, the common keys for v1', () => {
    const { TENANT_PLACEHOLDER } = require('../../dist/core/issuers');
    const v2 = presetSettings('entra', { tenant: 'organizations', tokenVersion: 'v2' });
    assert.equal(v2.issuer, `https://login.microsoftonline.com/${TENANT_PLACEHOLDER}/v2.0`);
    assert.equal(v2.jwksUri, '', 'discovered at the first tenant');
    const v1 = presetSettings('entra', { tenant: 'Common', tokenVersion: 'v1' });
    assert.equal(v1.issuer, `https://sts.windows.net/${TENANT_PLACEHOLDER}/`);
    assert.equal(v1.jwksUri, 'https://login.microsoftonline.com/common/discovery/keys');
    assert.equal(v1.tokenEndpoint, 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token');
  });

  it('IBM API Connect: <gateway>/<org>/<catalog>/<provider> with its /oauth2 endpoints', () => {
    const apic = presetSettings('apic', { baseUrl: 'https://gw.example.com', tenant: '/acme/sandbox/oauth/' });
    assert.equal(apic.issuer, 'https://gw.example.com/acme/sandbox/oauth');
    assert.equal(apic.tokenEndpoint, 'https://gw.example.com/acme/sandbox/oauth/oauth2/token');
    assert.equal(apic.authorizationEndpoint, 'https://gw.example.com/acme/sandbox/oauth/oauth2/authorize');
  });

  it('names the input that is missing or wrong instead of building a wrong issuer', () => {
    const cases = [
      ['keycloak', { tenant: 'main' }, { field: 'baseUrl', problem: 'required' }],
      ['keycloak', { baseUrl: 'https://sso.example.com' }, { field: 'tenant', problem: 'required' }],
      ['keycloak', { baseUrl: 'https://sso.example.com', tenant: 'a/b' }, { field: 'tenant', problem: 'name' }],
      ['keycloak', { baseUrl: 'https://sso.example.com', tenant: '../admin' }, { field: 'tenant', problem: 'name' }],
      ['keycloak', { baseUrl: 'ftp://sso.example.com', tenant: 'main' }, { field: 'baseUrl', problem: 'url' }],
      ['keycloak', { baseUrl: 'https://user:pw@sso.example.com', tenant: 'main' }, { field: 'baseUrl', problem: 'url' }],
      ['okta', { baseUrl: 'https://dev-1.okta.com?x=1', tenant: 'default' }, { field: 'baseUrl', problem: 'url' }],
      ['okta', { baseUrl: 'dev-1.okta.com', tenant: 'a?b' }, { field: 'tenant', problem: 'name' }],
      ['auth0', { baseUrl: 'https://exa mple.com' }, { field: 'baseUrl', problem: 'url' }],
      ['entra', { tenant: 'contoso.onmicrosoft.com' }, { field: 'tenant', problem: 'tenantId' }],
      ['entra', { tenant: 'my-company' }, { field: 'tenant', problem: 'tenantId' }],
      ['entra', {}, { field: 'tenant', problem: 'required' }],
      ['apic', { baseUrl: 'https://gw.example.com', tenant: '//' }, { field: 'tenant', problem: 'required' }],
      ['apic', { baseUrl: 'https://gw.example.com', tenant: 'org/%2e%2e/x' }, { field: 'tenant', problem: 'name' }],
      ['nonsense', { baseUrl: 'https://x.example.com' }, { field: 'baseUrl', problem: 'required' }],
    ];
    for (const [id, input, problem] of cases) assert.deepEqual(presetSettings(id, input), problem, `${id} ${JSON.stringify(input)}`);
  });

  it('every preset reads only its own fields and has claims; the ids are the editor options', () => {
    assert.deepEqual([...PRESET_IDS], ['generic', 'keycloak', 'okta', 'auth0', 'entra', 'apic']);
    for (const id of PRESET_IDS) {
      assert.ok(PRESET_FIELDS[id] && PRESET_CLAIMS[id], id);
      assert.ok(isPresetId(id));
    }
    assert.equal(isPresetId('__proto__'), false);
    const html = fs.readFileSync(path.join(__dirname, '../../nodes/identity-config.html'), 'utf8');
    const options = [...html.matchAll(/<option value="(\w+)" data-i18n="identity-config\.preset\.\w+\.name">/g)].map((match) => match[1]);
    assert.deepEqual(options, [...PRESET_IDS]);
  });

  it('the editor gets the same code: resources/presets.js gives the same answers in a browser-like context', () => {
    const source = fs.readFileSync(path.join(__dirname, '../../resources/presets.js'), 'utf8');
    const window = {};
    vm.runInNewContext(source, { window, URL });
    const editor = window.NodeRedContribIdentity.presets;
    const input = { baseUrl: 'http://127.0.0.1:1880', tenant: 'demo' };
    const plain = (value) => JSON.parse(JSON.stringify(value)); // objects of another context have other prototypes
    assert.deepEqual(plain(editor.presetSettings('keycloak', input)), presetSettings('keycloak', input));
    assert.deepEqual(plain(editor.PRESET_CLAIMS), PRESET_CLAIMS);
  });
});
