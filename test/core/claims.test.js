'use strict';
/** Scopes and roles as each provider spells them, and the route's rules. */
const assert = require('node:assert/strict');
const { toAuthInfo, checkAccess, words } = require('../../dist/core/claims');
const { throwsWithCode } = require('../support/assert');

describe('core: claims and access rules', () => {
  it('scope: space-separated string (RFC 9068 §2.2.3)', () => {
    assert.deepEqual(toAuthInfo({ scope: 'openid  orders:read profile' }).scopes, ['openid', 'orders:read', 'profile']);
  });

  it('scp: array (Okta) or space-separated string (Entra)', () => {
    assert.deepEqual(toAuthInfo({ scp: ['orders:read', 'orders:write'] }).scopes, ['orders:read', 'orders:write']);
    assert.deepEqual(toAuthInfo({ scp: 'Orders.Read User.Read' }).scopes, ['Orders.Read', 'User.Read']);
  });

  it('roles: Keycloak realm and client roles, Entra roles, Okta groups, Auth0 permissions', () => {
    const keycloak = { realm_access: { roles: ['offline_access', 'reader'] }, resource_access: { 'orders-api': { roles: ['admin'] }, account: { roles: ['manage-account'] } } };
    assert.deepEqual(toAuthInfo(keycloak, { clientId: 'orders-api' }).roles, ['offline_access', 'reader', 'admin']);
    assert.deepEqual(toAuthInfo(keycloak).roles, ['offline_access', 'reader'], 'client roles need the configured client id');
    assert.deepEqual(toAuthInfo({ roles: ['Orders.Admin'] }).roles, ['Orders.Admin']);
    assert.deepEqual(toAuthInfo({ groups: ['Everyone', 'Ops'] }).roles, ['Everyone', 'Ops']);
    assert.deepEqual(toAuthInfo({ permissions: ['read:orders'] }).roles, ['read:orders']);
  });

  it('ignores claims of the wrong type instead of trusting them', () => {
    const auth = toAuthInfo({ scope: 42, scp: { a: 1 }, roles: [1, 'ok', null, ''], realm_access: 'admin', sub: 7, aud: 5, exp: 'soon' });
    assert.deepEqual(auth.scopes, []);
    assert.deepEqual(auth.roles, ['ok']);
    assert.equal(auth.subject, undefined);
    assert.deepEqual(auth.audience, []);
    assert.equal(auth.expiresAt, undefined);
  });

  it('does not read inherited properties as client roles', () => {
    assert.deepEqual(toAuthInfo({ resource_access: {} }, { clientId: '__proto__' }).roles, []);
    assert.deepEqual(toAuthInfo({ resource_access: {} }, { clientId: 'constructor' }).roles, []);
  });

  it("named claims: only the provider's own spellings count", () => {
    const token = { scope: 'a', scp: ['b'], roles: ['r'], groups: ['g'], realm_access: { roles: ['k'] }, resource_access: { api: { roles: ['c'] } } };
    const okta = toAuthInfo(token, { scopeClaims: ['scp'], roleClaims: ['groups'] });
    assert.deepEqual([okta.scopes, okta.roles], [['b'], ['g']]);
    const keycloak = toAuthInfo(token, { clientId: 'api', scopeClaims: ['scope'], roleClaims: ['realm_access.roles', 'resource_access.{clientId}.roles'] });
    assert.deepEqual([keycloak.scopes, keycloak.roles], [['a'], ['k', 'c']]);
    assert.deepEqual(toAuthInfo(token, { roleClaims: ['resource_access.{clientId}.roles'] }).roles, [], '{clientId} without a client id reads nothing');
    assert.deepEqual(toAuthInfo(token, { scopeClaims: [], roleClaims: [] }).roles, ['k', 'r', 'g'], 'empty lists read every known spelling');
  });

  it('a URL names one claim; any other path is split at dots, so a token cannot choose', () => {
    const token = { 'https://example.com/roles': ['admin'], 'realm_access.roles': ['forged'], realm_access: { roles: ['user'] } };
    assert.deepEqual(toAuthInfo(token, { roleClaims: ['https://example.com/roles'] }).roles, ['admin']);
    assert.deepEqual(toAuthInfo(token, { roleClaims: ['realm_access.roles'] }).roles, ['user']);
  });

  it('a claim path does not step into arrays or inherited properties', () => {
    const token = { list: [{ roles: ['x'] }], nested: { roles: ['y'] } };
    assert.deepEqual(toAuthInfo(token, { roleClaims: ['list.0.roles', 'nested.constructor.name', 'nested.__proto__.roles', 'toString'] }).roles, []);
    assert.deepEqual(toAuthInfo(token, { roleClaims: ['nested.roles'] }).roles, ['y']);
  });

  it('clientId from client_id (RFC 9068), else azp (Keycloak), cid (Okta), appid (Entra v1)', () => {
    assert.equal(toAuthInfo({ client_id: 'a', azp: 'b' }).clientId, 'a');
    assert.equal(toAuthInfo({ azp: 'b', cid: 'c' }).clientId, 'b');
    assert.equal(toAuthInfo({ cid: 'c' }).clientId, 'c');
    assert.equal(toAuthInfo({ appid: 'd' }).clientId, 'd');
  });

  it('an exp beyond what a Date holds gives no expiresAt instead of throwing', () => {
    assert.equal(toAuthInfo({ exp: 9e15 }).expiresAt, undefined);
    assert.equal(toAuthInfo({ exp: 8.64e12 }).expiresAt, '+275760-09-13T00:00:00.000Z');
  });

  it('audience as a list, expiresAt as ISO 8601', () => {
    const auth = toAuthInfo({ aud: 'api://orders api', exp: 1767225600 });
    assert.deepEqual(auth.audience, ['api://orders api']);
    assert.equal(auth.expiresAt, '2026-01-01T00:00:00.000Z');
  });

  it('every required scope must be present: ERR_SCOPE_INSUFFICIENT names all required', () => {
    const auth = toAuthInfo({ scope: 'orders:read' });
    checkAccess(auth, { scopes: ['orders:read'], roles: [] });
    const error = throwsWithCode(() => checkAccess(auth, { scopes: ['orders:read', 'orders:write'], roles: [] }), 'ERR_SCOPE_INSUFFICIENT');
    assert.equal(error.requiredScope, 'orders:read orders:write');
  });

  it('any one listed role suffices; none: ERR_ROLE_INSUFFICIENT', () => {
    const auth = toAuthInfo({ roles: ['reader'] });
    checkAccess(auth, { scopes: [], roles: ['admin', 'reader'] });
    throwsWithCode(() => checkAccess(auth, { scopes: [], roles: ['admin'] }), 'ERR_ROLE_INSUFFICIENT');
  });

  it('scope matching is exact: no prefix or case folding', () => {
    const auth = toAuthInfo({ scope: 'orders:read:all ORDERS:READ' });
    throwsWithCode(() => checkAccess(auth, { scopes: ['orders:read'], roles: [] }), 'ERR_SCOPE_INSUFFICIENT');
  });

  it('words() splits on any whitespace and drops empties', () => {
    assert.deepEqual(words(' a\tb\n c '), ['a', 'b', 'c']);
    assert.deepEqual(words(undefined), []);
  });
});
