'use strict';
/**
 * No secret leaves: the launcher behind `npm start` (Node-RED with every sample flow and the demo
 * provider) is driven through each sample endpoint with a client secret, passwords, access tokens,
 * refresh tokens and an authorization code in play, right and wrong; then none of them may appear
 * in the flows export (`GET /flows`), the admin credentials API, the runtime log (what the child
 * prints, at `trace` when the launcher honours NODE_RED_LOG_LEVEL), or anything the editor hears on
 * its websocket (`/comms`: node statuses, the Debug sidebar, notifications), captured from
 * before the first call to after the last.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, startLauncher } = require('../support/launcher');
const { browserLogin } = require('../support/demo');

const WebSocket = require(require.resolve('ws', { paths: [path.dirname(require.resolve('node-red'))] }));

const CLIENT_SECRET = 'demo-client-secret'; // the launcher's default, given to every identity-config
const PASSWORD = 'alice-password';
const random = () => crypto.randomBytes(12).toString('base64url');

const sampleNodes = fs.readdirSync(path.join(ROOT, 'flows')).filter((file) => file.endsWith('.json'))
  .flatMap((file) => JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', file), 'utf8')));
// The validate-token behind GET /api/orders (protected API), which the calls below go through;
// other sample flows have validate-token nodes of their own.
const VALIDATE_TOKEN = sampleNodes.find((node) => node.type === 'http in' && node.url === '/api/orders').wires[0][0];

/** The editor's side of /comms: every {topic, data} it is sent, and a way to wait for one. */
function connectComms(base) {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/comms`);
  const messages = [];
  const raw = [];
  const waiters = new Set();
  ws.on('message', (data) => {
    raw.push(String(data));
    for (const message of JSON.parse(String(data))) {
      messages.push(message);
      for (const waiter of waiters) waiter();
    }
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    messages,
    raw,
    async open() {
      await opened;
      // No adminAuth in the demo, so no auth message; subscribing also replays the retained statuses.
      ws.send(JSON.stringify({ subscribe: 'status/#' }));
      ws.send(JSON.stringify({ subscribe: 'debug' }));
      ws.send(JSON.stringify({ subscribe: 'notification/#' }));
      ws.send(JSON.stringify({ subscribe: 'event-log/#' }));
    },
    /** Resolves the index of the first message at or after `from` that matches. */
    waitFor(predicate, from = 0) {
      return new Promise((resolve) => {
        const check = () => {
          const index = messages.findIndex((message, i) => i >= from && predicate(message));
          if (index === -1) return false;
          waiters.delete(check);
          resolve(index);
          return true;
        };
        if (!check()) waiters.add(check);
      });
    },
    close: () => ws.close(),
  };
}

describe('no secret leaves: flows export, admin API, runtime log and the editor websocket', function () {
  this.timeout(60000);
  let demo;
  let base;
  let comms;
  /** name -> value: everything a client or the flows handled that must never be shown. */
  const secrets = new Map();
  const answers = {};

  const post = (url, body, headers = {}) => fetch(`${base}${url}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  const get = (url, headers = {}) => fetch(`${base}${url}`, { headers, redirect: 'manual' });
  const bearer = (token) => ({ Authorization: `Bearer ${token}` });
  const statusOf = (id, predicate) => (message) => message.topic === `status/${id}` && predicate(message.data ?? {});

  /** A secret and, for a JWT, its signature alone: a log line that cut the token would still show it. */
  function keep(name, value) {
    assert.equal(typeof value, 'string', `${name} is in play`);
    secrets.set(name, value);
    const signature = value.split('.')[2];
    if (signature) secrets.set(`${name} (signature)`, signature);
  }

  /** The barrier: validate-token shows a status no other call causes, then "ready" again; comms keeps order. */
  async function settle() {
    const from = comms.messages.length;
    answers.barrierNoToken = (await get('/api/orders')).status;
    const rejected = await comms.waitFor(statusOf(VALIDATE_TOKEN, (s) => s.fill === 'yellow' && /ERR_BEARER_MISSING/.test(s.text)), from);
    answers.barrierToken = (await get('/api/orders', bearer(secrets.get('access token (/token)')))).status;
    await comms.waitFor(statusOf(VALIDATE_TOKEN, (s) => s.fill === 'green'), rejected + 1);
  }

  before(async () => {
    // Honoured once flows/demo/start.js reads NODE_RED_LOG_LEVEL; until then the child logs at info.
    const level = process.env.NODE_RED_LOG_LEVEL;
    process.env.NODE_RED_LOG_LEVEL = 'trace';
    try {
      demo = await startLauncher();
    } finally {
      if (level === undefined) delete process.env.NODE_RED_LOG_LEVEL;
      else process.env.NODE_RED_LOG_LEVEL = level;
    }
    ({ base } = demo);
    comms = connectComms(base);
    await comms.open();
    await comms.waitFor(statusOf(VALIDATE_TOKEN, (s) => s.fill === 'green'));

    keep('client secret', CLIENT_SECRET);
    keep('password', PASSWORD);
    const wrongPasswords = [`wrong-${random()}`, `wrong-${random()}`];
    wrongPasswords.forEach((value, i) => keep(`wrong password ${i + 1}`, value));

    // Token endpoint (password grant): right and wrong passwords.
    const tokenResponse = await post('/token', { username: 'alice', password: PASSWORD });
    answers.token = tokenResponse.status;
    const tokens = await tokenResponse.json();
    keep('access token (/token)', tokens.access_token);
    keep('refresh token (/token)', tokens.refresh_token);
    answers.wrongPassword = (await post('/token', { username: 'alice', password: wrongPasswords[0] })).status;

    // Refresh endpoint: rotation, reuse of the spent refresh token, an invented one.
    const refreshResponse = await post('/refresh', { refresh_token: tokens.refresh_token });
    answers.refresh = refreshResponse.status;
    const refreshed = await refreshResponse.json();
    keep('access token (/refresh)', refreshed.access_token);
    keep('refresh token (/refresh)', refreshed.refresh_token);
    answers.refreshReused = (await post('/refresh', { refresh_token: tokens.refresh_token })).status;
    const inventedRefresh = `refresh-${random()}`;
    keep('invented refresh token', inventedRefresh);
    answers.refreshInvented = (await post('/refresh', { refresh_token: inventedRefresh })).status;

    // Protected API: good tokens, a forged signature, garbage.
    answers.orders = (await get('/api/orders', bearer(tokens.access_token))).status;
    answers.ordersRefreshed = (await get('/api/orders', bearer(refreshed.access_token))).status;
    const [h, p, s] = refreshed.access_token.split('.');
    const forged = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    keep('forged access token', forged);
    answers.ordersForged = (await get('/api/orders', bearer(forged))).status;
    const garbage = `not-a-jwt-${random()}`;
    keep('garbage token', garbage);
    answers.ordersGarbage = (await get('/api/orders', bearer(garbage))).status;
    answers.ordersInQuery = (await get(`/api/orders?access_token=${tokens.access_token}`)).status;

    // Machine to machine: client credentials with the client secret, then the protected API.
    answers.m2m = (await get('/m2m/orders')).status;

    // Session: login (tokens go into the session), a call through it, a wrong password.
    answers.sessionLogin = (await post('/session/login', { username: 'alice', password: PASSWORD })).status;
    answers.sessionOrders = (await get('/session/orders')).status;
    answers.sessionWrong = (await post('/session/login', { username: 'alice', password: wrongPasswords[1] })).status;

    // Authorization code + PKCE: the login cookie, the code and the tokens the callback shows.
    const login = await get('/login');
    answers.login = login.status;
    const cookie = login.headers.getSetCookie()[0].split(';')[0];
    keep('login cookie', cookie.split('=')[1]);
    const back = await browserLogin(login.headers.get('location'), `${base}/callback`);
    keep('authorization code', back.searchParams.get('code'));
    const callback = await get(`/callback${back.search}`, { Cookie: cookie });
    answers.callback = callback.status;
    const loginTokens = await callback.json();
    keep('access token (login)', loginTokens.access_token);
    keep('id token (login)', loginTokens.id_token);
    if (loginTokens.refresh_token) keep('refresh token (login)', loginTokens.refresh_token);

    await settle();
  });

  after(async () => {
    comms?.close();
    await demo?.stop();
  });

  /** Asserts that no secret (nor a JWT's signature) occurs in `text`; names only what leaked. */
  function assertNoSecret(text, where) {
    const leaked = [...secrets].filter(([, value]) => text.includes(value)).map(([name]) => name);
    assert.deepEqual(leaked, [], `${where} shows: ${leaked.join(', ')}`);
  }

  it('the calls put every secret in play and got their documented answers', () => {
    assert.deepEqual(answers, {
      token: 200, wrongPassword: 400, refresh: 200, refreshReused: 400, refreshInvented: 400,
      orders: 200, ordersRefreshed: 200, ordersForged: 401, ordersGarbage: 401, ordersInQuery: 400,
      m2m: 200, sessionLogin: 200, sessionOrders: 200, sessionWrong: 400,
      login: 302, callback: 200, barrierNoToken: 401, barrierToken: 200,
    });
    assert.ok(secrets.size >= 20, [...secrets.keys()].join(', '));
  });

  it('GET /flows (the flows export) shows none of them', async () => {
    const flows = await (await get('/flows')).json();
    assert.ok(flows.some((node) => node.type === 'identity-config'), 'the export was read');
    // The sample flows' notes document the demo users' passwords for the reader: that text aside,
    // no node may hold any of them.
    const documented = flows.filter((node) => ['tab', 'comment'].includes(node.type) && node.info?.includes(PASSWORD));
    assert.ok(documented.length > 0);
    for (const node of documented) node.info = '(documentation)';
    assertNoSecret(JSON.stringify(flows), 'GET /flows');
    const v2 = await (await get('/flows', { 'Node-RED-API-Version': 'v2' })).json();
    assert.deepEqual(v2.flows.map((node) => node.id), flows.map((node) => node.id));
  });

  it("the admin credentials API answers has_clientSecret, never the secret", async () => {
    for (const node of sampleNodes.filter((n) => n.type === 'identity-config')) {
      const response = await get(`/credentials/identity-config/${node.id}`);
      const text = await response.text();
      assert.equal(response.status, 200, text);
      assert.equal(JSON.parse(text).has_clientSecret, true, text);
      assertNoSecret(text, `GET /credentials/identity-config/${node.id}`);
    }
  });

  it('the editor websocket (statuses, Debug sidebar, notifications) shows none of them', () => {
    const topics = new Set(comms.messages.map((message) => message.topic.split('/')[0]));
    assert.ok(topics.has('status'), [...topics].join());
    assert.ok(comms.messages.some((message) => message.topic === `status/${VALIDATE_TOKEN}` && /rejected: 401/.test(message.data?.text)),
      'the rejections were shown');
    assertNoSecret(comms.raw.join('\n'), 'the editor websocket');
  });

  it('the runtime log (stdout and stderr of the launcher) shows none of them', () => {
    const log = demo.output();
    assert.match(log, /Protected endpoint:/);
    assertNoSecret(log, 'the runtime log');
  });

  it('the runtime log is at trace level (NODE_RED_LOG_LEVEL=trace), so the check above saw everything Node-RED logs', () => {
    assert.match(demo.output(), /\[trace\]/, 'flows/demo/start.js does not honour NODE_RED_LOG_LEVEL yet');
  });
});
