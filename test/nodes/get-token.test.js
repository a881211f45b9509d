'use strict';
/**
 * get-token and refresh-token behind real `http in` / `http response` nodes, against the demo
 * provider (oidc-provider) on 127.0.0.1; faults the provider cannot produce (a hang, an HTML page)
 * come from a small fault server named as token endpoint.
 */
const assert = require('node:assert/strict');
const http = require('node:http');
const { useDemoProviderAndNodeRed } = require('../support/suites');
const { text, helper, loadFlow, request, statusesOf, logged } = require('../support/node-red');
const { CLIENT_SECRET } = require('../support/demo');

const at = { x: 100, y: 100 };
const TAB = { id: 'tab', type: 'tab', label: 'tokens' };

function identity(provider, extra = {}) {
  return { id: 'idp', type: 'identity-config', name: 'demo', issuer: provider.issuer, audience: provider.audience, clientId: provider.clientId, backoffMinMs: '0', ...extra };
}

/** http in <method> <url> → node → http response, failures to the same http response; a Catch node collects errors. */
function endpoint(url, node, method = 'post') {
  return [
    { id: `in${url}`, type: 'http in', z: 'tab', url, method, upload: false, ...at, wires: [[node.id]] },
    { ...node, z: 'tab', ...at, wires: [[`out${url}`], [`out${url}`]] },
    { id: `out${url}`, type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
  ];
}

const CATCH = [
  { id: 'catch', type: 'catch', z: 'tab', scope: null, uncaught: false, ...at, wires: [['caught']] },
  { id: 'caught', type: 'helper', z: 'tab', ...at, wires: [] },
];

const postJson = (path, body) => request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
const postForm = (path, body) => request(path, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
const tokenCalls = (provider) => provider.requests.get('/token') ?? 0;
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));

describe('get-token and refresh-token through http in / http response', function () {
  this.timeout(30000);
  let provider;

  useDemoProviderAndNodeRed((started) => { provider = started; });

  const credentials = { idp: { clientSecret: CLIENT_SECRET } };

  describe('the token endpoint (password grant)', () => {
    const deploy = (extra = {}) => loadFlow([
      TAB, identity(provider), ...CATCH,
      ...endpoint('/token', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'password', scope: 'orders:read', params: '', paramsType: 'json', ...extra }),
    ], credentials);

    it("alice's JSON credentials: 200 with the provider's token response, no-store, and her own token", async () => {
      await deploy();
      const response = await postJson('/token', { username: 'alice', password: 'alice-password' });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.equal(response.headers.pragma, 'no-cache');
      const body = response.body;
      assert.equal(body.token_type, 'Bearer');
      assert.equal(typeof body.refresh_token, 'string');
      assert.equal(typeof body.expires_in, 'number');
      assert.equal(claimsOf(body.access_token).sub, 'alice');
      assert.equal(body.scope, 'orders:read');
    });

    it('a form body works the same', async () => {
      await deploy();
      const response = await postForm('/token', { username: 'alice', password: 'alice-password' });
      assert.equal(response.status, 200, response.text);
    });

    it('a wrong password: the provider\'s 400 invalid_grant on output 2 (ERR_GRANT_INVALID)', async () => {
      await deploy();
      const gt = helper.getNode('gt');
      const sent = new Promise((resolve) => gt.on('call:send', (call) => resolve(call.args[0][1])));
      const response = await postJson('/token', { username: 'alice', password: 'wrong-password' });
      assert.equal(response.status, 400);
      assert.equal(response.body.error, 'invalid_grant');
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.deepEqual((await sent).authError, { code: 'ERR_GRANT_INVALID' });
    });

    it('no credentials in the body: 400 invalid_request (ERR_INPUT_CREDENTIALS_MISSING), no provider call', async () => {
      await deploy();
      const before = tokenCalls(provider);
      const response = await postJson('/token', { username: 'alice' });
      assert.equal(response.status, 400);
      assert.equal(response.body.error, 'invalid_request');
      assert.equal(tokenCalls(provider), before);
    });

    it('two users through one get-token never see each other\'s token', async () => {
      await deploy();
      const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => postJson('/token',
        i % 2 ? { username: 'bob', password: 'bob-password' } : { username: 'alice', password: 'alice-password' })));
      responses.forEach((response, i) => {
        assert.equal(response.status, 200, response.text);
        assert.equal(claimsOf(response.body.access_token).sub, i % 2 ? 'bob' : 'alice');
      });
      assert.equal(new Set(responses.map((response) => response.body.access_token)).size, 10);
    });

    it('never lets the password, the client secret or a token into a log line, a status, msg.error or the sent message', async () => {
      await deploy();
      const gt = helper.getNode('gt');
      const sentMessages = [];
      gt.on('call:send', (call) => sentMessages.push(call.args[0]));
      const ok = await postJson('/token', { username: 'alice', password: 'alice-password' });
      await postJson('/token', { username: 'alice', password: 'a-wrong-secret-password' });
      const secrets = ['alice-password', 'a-wrong-secret-password', CLIENT_SECRET, ok.body.access_token, ok.body.refresh_token];
      const caught = helper.getNode('caught');
      const seen = JSON.stringify({
        logs: helper.log().args.map((args) => args[0]),
        statuses: statusesOf(gt),
        caught: caught.receive.args ?? [],
        sent: sentMessages.map((pair) => pair.map((msg) => msg && { payload: msg.payload, headers: msg.headers, body: msg.req?.body, error: msg.error })),
      });
      for (const secret of secrets.slice(0, 3)) assert.ok(!seen.includes(secret), `found ${secret.slice(0, 12)}…`);
      const quiet = JSON.stringify({ logs: helper.log().args, statuses: statusesOf(gt), caught: caught.receive.args ?? [] });
      for (const token of secrets.slice(3)) assert.ok(!quiet.includes(token.slice(-24)), 'no token in logs, statuses or Catch');
      assert.ok(sentMessages.every(([okMsg, failed]) => (okMsg ?? failed).req.body.password === undefined), 'password gone from msg.req.body');
    });
  });

  describe('client_credentials', () => {
    it('100 concurrent requests: exactly one call to the provider, counted at the provider', async () => {
      await loadFlow([TAB, identity(provider),
        ...endpoint('/m2m', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'client_credentials', scope: 'orders:write', cache: true }, 'get'),
      ], credentials);
      const before = tokenCalls(provider);
      const responses = await Promise.all(Array.from({ length: 100 }, () => request('/m2m')));
      assert.ok(responses.every((response) => response.status === 200), responses.find((r) => r.status !== 200)?.text);
      assert.equal(new Set(responses.map((response) => response.body.access_token)).size, 1);
      assert.equal(tokenCalls(provider) - before, 1);
      assert.equal(statusesOf(helper.getNode('gt')).at(-1).text, text('get-token', 'get-token.status.cached'));
    });

    it('machine to machine: get-token (authHeader) → http request → the protected /api/orders (validate-token)', async () => {
      const api = `${helper.url()}/api/orders`;
      await loadFlow([TAB, identity(provider),
        // The calling flow: a client_credentials token on msg.headers, then a real HTTP call.
        { id: 'in', type: 'http in', z: 'tab', url: '/m2m-call', method: 'get', ...at, wires: [['gt']] },
        { id: 'gt', type: 'get-token', z: 'tab', identity: 'idp', grantType: 'client_credentials', scope: 'orders:read', authHeader: true, ...at, wires: [['target'], ['out']] },
        { id: 'target', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'url', pt: 'msg', to: api, tot: 'str' }, { t: 'set', p: 'payload', pt: 'msg', to: '', tot: 'str' }], ...at, wires: [['call']] },
        { id: 'call', type: 'http request', z: 'tab', method: 'GET', ret: 'obj', paytoqs: 'ignore', url: '', tls: '', persist: false, proxy: '', insecureHTTPParser: false, authType: '', senderr: false, headers: [], ...at, wires: [['clean']] },
        { id: 'clean', type: 'change', z: 'tab', rules: [{ t: 'delete', p: 'headers', pt: 'msg' }], ...at, wires: [['out']] },
        { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
        // The protected API.
        { id: 'api-in', type: 'http in', z: 'tab', url: '/api/orders', method: 'get', ...at, wires: [['vt']] },
        { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', ...at, wires: [['show'], ['api-out']] },
        { id: 'show', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['api-out']] },
        { id: 'api-out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
      ], credentials);
      const response = await request('/m2m-call');
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.clientId, 'demo-client');
      assert.deepEqual(response.body.scopes, ['orders:read']);
    });
  });

  describe('faults', () => {
    let faults;
    const hanging = [];
    before(async () => {
      faults = http.createServer((req, res) => {
        if (req.url === '/hang') {
          hanging.push(res);
          return;
        }
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<html><body>Service Error</body></html>');
      });
      await new Promise((resolve) => faults.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      for (const res of hanging) res.destroy();
      faults.closeAllConnections();
      await new Promise((resolve) => faults.close(resolve));
    });
    const faultUrl = (path) => `http://127.0.0.1:${faults.address().port}${path}`;
    const deploy = (extra) => loadFlow([TAB, identity(provider, extra),
      ...endpoint('/token', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'password', scope: '' }),
    ], credentials);

    it('a provider answering an HTML error page: 502 (ERR_TOKEN_RESPONSE_INVALID)', async () => {
      await deploy({ tokenEndpoint: faultUrl('/html') });
      const response = await postJson('/token', { username: 'alice', password: 'alice-password' });
      assert.equal(response.status, 502);
      assert.equal(response.body.error, 'server_error');
    });

    it('a hanging provider: 503 with Retry-After within the configured timeout', async () => {
      await deploy({ tokenEndpoint: faultUrl('/hang'), timeoutMs: '300' });
      const started = Date.now();
      const response = await postJson('/token', { username: 'alice', password: 'alice-password' });
      assert.equal(response.status, 503);
      assert.equal(response.headers['retry-after'], '5');
      assert.ok(Date.now() - started < 3000, 'answered within the timeout, not after the client gave up');
      const status = statusesOf(helper.getNode('gt')).at(-1);
      assert.deepEqual([status.fill, status.text], ['red', 'ERR_TOKEN_ENDPOINT_UNAVAILABLE']);
    });

    it('the provider down: 503 temporarily_unavailable, then tokens again once it is back', async () => {
      await deploy({});
      await provider.stop();
      try {
        const response = await postJson('/token', { username: 'alice', password: 'alice-password' });
        assert.equal(response.status, 503);
        assert.equal(response.body.error, 'temporarily_unavailable');
        assert.ok(logged('WARN').some((entry) => entry.id === 'gt'));
      } finally {
        await provider.start();
      }
      assert.equal((await postJson('/token', { username: 'alice', password: 'alice-password' })).status, 200);
    });

    it('a configuration that cannot request tokens (no client secret): red status, logged, 503', async () => {
      await loadFlow([TAB, identity(provider),
        ...endpoint('/token', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'password', scope: '' }),
      ], {});
      const status = statusesOf(helper.getNode('gt')).at(-1);
      assert.equal(status.text, 'ERR_CONFIG_CLIENT_MISSING');
      assert.ok(logged('ERROR').some((entry) => entry.id === 'gt' && String(entry.msg).startsWith('ERR_CONFIG_CLIENT_MISSING')));
      const response = await postJson('/token', { username: 'alice', password: 'alice-password' });
      assert.equal(response.status, 503);
      assert.equal(response.headers['retry-after'], '60');
    });
  });

  describe('refresh-token', () => {
    const deploy = () => loadFlow([TAB, identity(provider),
      ...endpoint('/token', { id: 'gt', type: 'get-token', identity: 'idp', grantType: 'password', scope: 'orders:read' }),
      ...endpoint('/refresh', { id: 'rt', type: 'refresh-token', identity: 'idp', refreshToken: 'payload.refresh_token', refreshTokenType: 'msg' }),
    ], credentials);

    it('rotation: new tokens with a new refresh token; the old one is then refused with invalid_grant', async () => {
      await deploy();
      const first = (await postJson('/token', { username: 'alice', password: 'alice-password' })).body;
      const refreshed = await postJson('/refresh', { refresh_token: first.refresh_token });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.equal(refreshed.headers['cache-control'], 'no-store');
      assert.notEqual(refreshed.body.refresh_token, first.refresh_token);
      assert.equal(claimsOf(refreshed.body.access_token).sub, 'alice');
      await helper.unload();
      await deploy(); // a fresh node: no grace-period memory of the first refresh
      const reused = await postJson('/refresh', { refresh_token: first.refresh_token });
      assert.equal(reused.status, 400);
      assert.equal(reused.body.error, 'invalid_grant');
    });

    it('20 concurrent refreshes of one refresh token: one provider call, 20 successes with the same new tokens', async () => {
      await deploy();
      const first = (await postJson('/token', { username: 'alice', password: 'alice-password' })).body;
      const before = tokenCalls(provider);
      const answers = await Promise.all(Array.from({ length: 20 }, () => postJson('/refresh', { refresh_token: first.refresh_token })));
      assert.ok(answers.every((answer) => answer.status === 200), answers.map((a) => a.status).join());
      assert.equal(new Set(answers.map((answer) => answer.body.refresh_token)).size, 1);
      assert.equal(tokenCalls(provider) - before, 1);
    });

    it('no refresh token in the message: 400 (ERR_INPUT_REFRESH_TOKEN_MISSING)', async () => {
      await deploy();
      const response = await postJson('/refresh', {});
      assert.equal(response.status, 400);
    });
  });

  describe('refresh-token in session mode', () => {
    const deploy = (minValiditySec) => loadFlow([TAB, identity(provider),
      // POST /login: password grant, then the session starts from the token response.
      { id: 'in-login', type: 'http in', z: 'tab', url: '/login', method: 'post', ...at, wires: [['gt']] },
      { id: 'gt', type: 'get-token', z: 'tab', identity: 'idp', grantType: 'password', scope: 'orders:read', ...at, wires: [['session-start'], ['out']] },
      { id: 'session-start', type: 'refresh-token', z: 'tab', identity: 'idp', session: true, sessionAction: 'start', sessionKey: 'demo', sessionScope: 'flow', store: '', minValiditySec, ...at, wires: [['done', 'started'], ['out']] },
      { id: 'started', type: 'helper', z: 'tab', ...at, wires: [] }, // a copy of what the session start sends on
      { id: 'done', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '{"session":"started"}', tot: 'json' }, { t: 'delete', p: 'headers', pt: 'msg' }], ...at, wires: [['out']] },
      // GET /call: the session authorises an outgoing call; here we show which token it would carry.
      { id: 'in-call', type: 'http in', z: 'tab', url: '/call', method: 'get', ...at, wires: [['session']] },
      { id: 'in-post', type: 'http in', z: 'tab', url: '/call', method: 'post', ...at, wires: [['session']] },
      { id: 'session', type: 'refresh-token', z: 'tab', identity: 'idp', session: true, sessionAction: 'keep', sessionKey: 'demo', sessionScope: 'flow', store: '', minValiditySec, ...at, wires: [['show'], ['out']] },
      { id: 'show', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'headers.Authorization', tot: 'msg' }, { t: 'delete', p: 'headers', pt: 'msg' }], ...at, wires: [['out']] },
      { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
    ], credentials);

    it('starting a session takes the tokens off the message; a client cannot replace the session by posting tokens', async () => {
      await deploy(60);
      const started = new Promise((resolve) => helper.getNode('started').on('input', resolve));
      assert.equal((await postJson('/login', { username: 'alice', password: 'alice-password' })).status, 200);
      const sent = await started;
      for (const member of ['access_token', 'refresh_token', 'id_token']) assert.equal(sent.payload[member], undefined, member);
      assert.equal(sent.payload.token_type, 'Bearer');
      const before = (await request('/call')).text;
      const forged = await postJson('/call', { access_token: 'attacker-token', token_type: 'Bearer', refresh_token: 'x' });
      assert.equal(forged.status, 200);
      assert.equal(forged.text, before, 'the session still carries alice\'s token');
      assert.equal((await request('/call')).text, before);
    });

    it('a refresh token the provider refuses ends the session: invalid_grant once, then login_required', async () => {
      await deploy(3600);
      const login = helper.getNode('gt');
      const tokens = new Promise((resolve) => login.on('call:send', (call) => resolve(call.args[0][0].payload)));
      assert.equal((await postJson('/login', { username: 'alice', password: 'alice-password' })).status, 200);
      const { refresh_token: refreshToken } = await tokens;
      // The refresh token is spent elsewhere; the session's copy is now a reuse the provider refuses.
      const { tokenResponse } = require('../support/demo');
      await tokenResponse(provider, { grant_type: 'refresh_token', refresh_token: refreshToken });
      const refused = await request('/call');
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.error, 'invalid_grant');
      const after = await request('/call');
      assert.equal(after.status, 401);
      assert.equal(after.body.error, 'login_required');
    });

    it('no session yet: 401 login_required (ERR_SESSION_MISSING)', async () => {
      await deploy(60);
      const response = await request('/call');
      assert.equal(response.status, 401);
      assert.equal(response.body.error, 'login_required');
    });

    it('keeps outgoing calls authorised: a valid token is reused, a token about to expire is refreshed once', async () => {
      await deploy(60);
      assert.equal((await postJson('/login', { username: 'alice', password: 'alice-password' })).status, 200);
      const first = await request('/call');
      assert.equal(first.status, 200, first.text);
      assert.match(first.text, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      const before = tokenCalls(provider);
      assert.equal((await request('/call')).text, first.text, 'valid for more than 60 s: reused');
      assert.equal(tokenCalls(provider), before);

      await helper.unload();
      await deploy(3600); // every token now counts as "about to expire"
      assert.equal((await postJson('/login', { username: 'alice', password: 'alice-password' })).status, 200);
      const beforeRefresh = tokenCalls(provider);
      const calls = await Promise.all(Array.from({ length: 10 }, () => request('/call')));
      assert.ok(calls.every((call) => call.status === 200), calls.map((c) => c.text).join('\n'));
      assert.equal(tokenCalls(provider) - beforeRefresh, 1, 'concurrent messages share one refresh');
    });
  });
});
