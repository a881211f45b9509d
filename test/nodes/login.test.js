'use strict';
/**
 * The grants beyond password and client_credentials, through real http in / http response nodes
 * and the demo provider: an authorization-code login (PKCE S256) built from two endpoints, token
 * exchange (RFC 8693), and the client authentication methods private_key_jwt and none.
 */
const assert = require('node:assert/strict');
const { helper, startNodeRed, loadFlow, request } = require('../support/node-red');
const { startProvider, browserLogin, passwordToken, CLIENT_SECRET } = require('../support/demo');

const at = { x: 100, y: 100 };
const TAB = { id: 'tab', type: 'tab', label: 'login' };
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));

function endpoint(url, node, method = 'get') {
  return [
    { id: `in${url}`, type: 'http in', z: 'tab', url, method, upload: false, ...at, wires: [[node.id]] },
    { ...node, z: 'tab', ...at, wires: [[`out${url}`], [`out${url}`]] },
    { id: `out${url}`, type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

describe('get-token: authorization code, token exchange, client authentication', function () {
  this.timeout(30000);
  let provider;
  let callback;

  before(async () => {
    await startNodeRed();
    callback = `${helper.url()}/callback`;
    provider = await startProvider({ redirectUris: [callback] });
  });
  after(async () => {
    await helper.unload();
    await helper.stopServer();
    await provider.close();
  });
  afterEach(() => helper.unload());

  const identity = (extra = {}) => ({
    id: 'idp', type: 'identity-config', issuer: provider.issuer, audience: provider.audience, clientId: provider.clientId, ...extra,
  });

  describe('authorization code with PKCE, from /login and /callback endpoints', () => {
    const login = { type: 'get-token', identity: 'idp', grantType: 'authorization_code', scope: 'openid orders:read' };
    beforeEach(() => loadFlow([TAB, identity(),
      ...endpoint('/login', { id: 'login', ...login, redirectUri: '' }),
      ...endpoint('/callback', { id: 'callback', ...login, redirectUri: '' }),
    ].map((node) => (node.type === 'get-token' ? { ...node, redirectUri: callback } : node)), { idp: { clientSecret: CLIENT_SECRET } }));

    it('/login redirects to the provider with state and an S256 challenge; the callback exchanges the code for alice\'s tokens', async () => {
      const start = await request('/login');
      assert.equal(start.status, 302);
      assert.equal(start.headers['cache-control'], 'no-store');
      const [cookie] = start.headers['set-cookie'];
      assert.match(cookie, /^identity_login=[\w-]{43}; Max-Age=600; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
      const browserCookie = cookie.split(';')[0];
      const authorize = new URL(start.headers.location);
      assert.ok(authorize.href.startsWith(provider.issuer));
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(authorize.searchParams.get('redirect_uri'), callback);
      assert.equal(authorize.searchParams.get('client_id'), 'demo-client');
      const back = await browserLogin(authorize.href, callback);
      assert.equal(back.searchParams.get('state'), authorize.searchParams.get('state'));
      const elsewhere = await request(back.pathname + back.search);
      assert.equal(elsewhere.status, 400, 'the callback URL alone, in another browser (login CSRF), is refused');
      const tokens = await request(back.pathname + back.search, { headers: { Cookie: browserCookie } });
      assert.equal(tokens.status, 200, tokens.text);
      assert.match(tokens.headers['set-cookie'][0], /^identity_login=; Path=\/; Expires=Thu, 01 Jan 1970/, 'the cookie is cleared');
      assert.equal(claimsOf(tokens.body.access_token).sub, 'alice');
      assert.equal(typeof tokens.body.id_token, 'string');
      const replay = await request(back.pathname + back.search, { headers: { Cookie: browserCookie } });
      assert.equal(replay.status, 400, 'a state is single-use');
      assert.equal(replay.body.error, 'invalid_request');
    });

    it('a callback with a forged state, or a state and no code: 400 (ERR_LOGIN_STATE_INVALID), no code exchanged', async () => {
      const before = provider.requests.get('/token') ?? 0;
      const response = await request('/callback?code=abc&state=forged');
      assert.equal(response.status, 400);
      const noCode = await request('/callback?state=forged');
      assert.equal(noCode.status, 400, 'a callback is never taken for a new login');
      assert.equal(provider.requests.get('/token') ?? 0, before);
    });

    it('the provider says access_denied: 401 with the provider\'s error (ERR_LOGIN_DENIED)', async () => {
      const login = await request('/login');
      const state = new URL(login.headers.location).searchParams.get('state');
      const response = await request(`/callback?error=access_denied&error_description=user+cancelled&state=${state}&iss=${encodeURIComponent(provider.issuer)}`, {
        headers: { Cookie: login.headers['set-cookie'][0].split(';')[0] },
      });
      assert.equal(response.status, 401);
      assert.equal(response.body.error, 'access_denied');
      assert.equal(response.body.error_description, 'user cancelled');
    });
  });

  it('token exchange (RFC 8693): alice\'s access token becomes a token acting for the client', async () => {
    await loadFlow([TAB, identity(),
      ...endpoint('/exchange', { id: 'x', type: 'get-token', identity: 'idp', grantType: 'urn:ietf:params:oauth:grant-type:token-exchange', scope: 'orders:read' }, 'post'),
    ], { idp: { clientSecret: CLIENT_SECRET } });
    const subject = await passwordToken(provider, 'alice');
    const response = await request('/exchange', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject_token: subject }),
    });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    const claims = claimsOf(response.body.access_token);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.act, { sub: 'demo-client' });
    const missing = await request('/exchange', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(missing.status, 400);
  });

  it('private_key_jwt: client_credentials with the key from the credentials (JWK) and a certificate-less assertion', async () => {
    await loadFlow([TAB, identity({ clientId: provider.jwtClientId, authMethod: 'private_key_jwt' }),
      ...endpoint('/m2m', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'client_credentials', scope: 'orders:read' }),
    ], { idp: { privateKey: JSON.stringify(provider.jwtClientKey) } });
    const response = await request('/m2m');
    assert.equal(response.status, 200, response.text);
    assert.equal(claimsOf(response.body.access_token).client_id, 'demo-jwt-client');
  });

  it('none (a public client): the password grant with client_id only', async () => {
    await loadFlow([TAB, identity({ clientId: provider.publicClientId, authMethod: 'none' }),
      ...endpoint('/token', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'password', scope: 'orders:read' }, 'post'),
    ], {});
    const response = await request('/token', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
    });
    assert.equal(response.status, 200, response.text);
    assert.equal(claimsOf(response.body.access_token).client_id, 'demo-public-client');
  });
});
