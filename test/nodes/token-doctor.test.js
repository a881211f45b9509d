'use strict';
/**
 * The editor's Token doctor endpoint (POST /identity-config/doctor on the admin API) against the
 * real demo provider (oidc-provider on 127.0.0.1): a client_credentials token the doctor obtains
 * passes every check, with a typed secret or the deployed node's stored one; stored credentials
 * never go anywhere else; a pasted token of another issuer fails with the hint that says so; the
 * configured timeout bounds every provider call; neither a secret, a password nor a token ever
 * comes back. And in a real Node-RED with adminAuth, the endpoint needs the write permission.
 */
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { helper, startNodeRed, loadFlow } = require('../support/node-red');
const { CLIENT_SECRET, startProvider, passwordToken } = require('../support/demo');
const { listen } = require('../support/servers');

const ROOT = path.resolve(__dirname, '..', '..');
/** Anything shaped like a compact JWS: no raw token may be in an answer. */
const JWS = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

describe('identity-config: the Token doctor endpoint of the editor', function () {
  this.timeout(30000);
  let provider;
  let other;

  before(async () => {
    provider = await startProvider();
    other = await startProvider(); // another issuer (another port), with its own keys
    await startNodeRed();
    await loadFlow([{ id: 'idp', type: 'identity-config', issuer: provider.issuer, audience: provider.audience, clientId: provider.clientId }],
      { idp: { clientSecret: CLIENT_SECRET } });
  });
  after(async () => {
    delete process.env.DOCTOR_TEST_ISSUER;
    await helper.unload();
    await helper.stopServer();
    await provider.close();
    await other.close();
  });

  const doctor = (body) => helper.request().post('/identity-config/doctor').send(body);
  const config = () => ({ issuer: provider.issuer, audience: provider.audience, clientId: provider.clientId });
  const failing = (report) => report.steps.filter((step) => step.status === 'fail').map((step) => step.check);
  const stepOf = (report, check) => report.steps.find((step) => step.check === check);
  const tokenCalls = (at) => at.requests.get('/token') ?? 0;

  function assertNothingSecret(response, ...secrets) {
    assert.doesNotMatch(response.text, JWS, 'no raw token in the answer');
    for (const secret of [CLIENT_SECRET, ...secrets]) assert.ok(!response.text.includes(secret), 'no secret in the answer');
  }

  it('client_credentials with a typed secret: the token the doctor obtains passes every check', async () => {
    const before = tokenCalls(provider);
    const response = await doctor({
      config: config(), credentials: { clientSecret: CLIENT_SECRET },
      grant: { type: 'client_credentials', scope: 'orders:read' }, rules: { scope: 'orders:read' },
    });
    assert.equal(response.status, 200, response.text);
    const report = response.body;
    assert.deepEqual(failing(report), [], JSON.stringify(report.steps));
    assert.deepEqual(report.verdict, { accepted: true });
    assert.deepEqual(report.hints, []);
    for (const check of ['configuration', 'discovery', 'keys', 'token', 'decode', 'signature', 'issuer', 'audience', 'expiry', 'scopes']) {
      assert.equal(stepOf(report, check).status, 'pass', check);
    }
    assert.equal(report.token.claims.iss, provider.issuer);
    assert.equal(report.token.claims.client_id, provider.clientId);
    assert.equal(report.token.header.kid, provider.signingKeys[0].kid);
    assert.equal(tokenCalls(provider) - before, 1, 'one token request');
    assertNothingSecret(response);
  });

  it("the stored secret of the deployed node (the editor's __PWRD__), with the issuer as ${ENV_VAR}", async () => {
    process.env.DOCTOR_TEST_ISSUER = provider.issuer;
    const response = await doctor({
      id: 'idp', config: { ...config(), issuer: '${DOCTOR_TEST_ISSUER}' }, credentials: { clientSecret: '__PWRD__' },
      grant: { type: 'client_credentials', scope: 'orders:read' },
    });
    assert.deepEqual(failing(response.body), [], JSON.stringify(response.body.steps));
    assert.equal(response.body.verdict.accepted, true);
    assertNothingSecret(response);
  });

  it('a token endpoint off the issuer\'s origin, not deployed, is refused before anything is sent (no open proxy)', async () => {
    const before = tokenCalls(other);
    for (const credentials of [{ clientSecret: '__PWRD__' }, { clientSecret: 'typed-secret' }]) {
      const response = await doctor({
        id: 'idp', config: { ...config(), tokenEndpoint: `${other.issuer}/token` }, credentials, grant: { type: 'client_credentials' },
      });
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.problem.code, 'ERR_INPUT_PARAMS_INVALID');
      assert.match(response.body.problem.message, /tokenEndpoint/);
    }
    assert.equal(tokenCalls(other), before, 'nothing was sent to the other token endpoint');
  });

  it('a discovered token endpoint off the issuer\'s origin gets no form from the doctor', async () => {
    // An issuer (typed into the dialog) whose discovery document names another host's token endpoint.
    const lure = await listen((req, res) => {
      const base = `http://127.0.0.1:${lure.address().port}`;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${other.issuer}/jwks`, token_endpoint: `${other.issuer}/token` }));
    });
    try {
      const before = tokenCalls(other);
      const response = await doctor({
        config: { ...config(), issuer: `http://127.0.0.1:${lure.address().port}`, jwksUri: '', tokenEndpoint: '' },
        credentials: { clientSecret: 'typed' }, grant: { type: 'client_credentials' },
      });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual([stepOf(response.body, 'token').status, stepOf(response.body, 'token').code], ['fail', 'ERR_CONFIG_INVALID']);
      assert.equal(tokenCalls(other), before, 'no form was posted to the other host');
    } finally {
      lure.close();
    }
  });

  it('${NAME} in a dialog field never reads the environment: only the same property of the deployed node', async () => {
    process.env.DOCTOR_TEST_SECRET = 'value-of-an-unrelated-environment-variable';
    try {
      const response = await doctor({ config: { ...config(), audience: '${DOCTOR_TEST_SECRET}', clientId: '${DOCTOR_TEST_SECRET}' }, token: 'not.a.token' });
      assert.ok(!response.text.includes('value-of-an-unrelated-environment-variable'), response.text);
    } finally {
      delete process.env.DOCTOR_TEST_SECRET;
    }
  });

  it('plain http and a TLS configuration count only as deployed', async () => {
    const response = await doctor({ config: { ...config(), tls: 'some-tls-config' }, token: 'not.a.token' });
    assert.equal(response.status, 400, response.text);
    assert.match(response.body.problem.message, /TLS/);
  });

  it('the password grant with a username and password typed into the doctor, never echoed', async () => {
    const response = await doctor({
      id: 'idp', config: config(), credentials: { clientSecret: '__PWRD__' },
      grant: { type: 'password', username: 'alice', password: 'alice-password', scope: 'orders:read' }, rules: { roles: 'orders-reader' },
    });
    assert.deepEqual(failing(response.body), [], JSON.stringify(response.body.steps));
    assert.equal(response.body.token.claims.sub, 'alice');
    assert.equal(stepOf(response.body, 'roles').status, 'pass');
    assertNothingSecret(response, 'alice-password');
  });

  it('a pasted token of another issuer fails with the hint naming both issuers, and is not echoed', async () => {
    const token = await passwordToken(other, 'alice');
    const response = await doctor({ config: config(), token });
    assert.equal(response.status, 200);
    const report = response.body;
    assert.deepEqual(failing(report), ['signature', 'issuer']);
    assert.equal(stepOf(report, 'issuer').actual, other.issuer);
    assert.deepEqual(report.hints, [{ code: 'HINT_ISSUER_OTHER', values: { iss: other.issuer, issuer: provider.issuer } }]);
    assert.equal(report.verdict.code, 'ERR_TOKEN_ISSUER');
    assert.match(report.verdict.message, /^ERR_TOKEN_ISSUER: /);
    assert.ok(!response.text.includes(token) && !response.text.includes(token.split('.')[2]));
    assertNothingSecret(response);
  });

  it('an empty body is a configuration without an issuer, not a failure of the endpoint', async () => {
    const response = await doctor({});
    assert.equal(response.status, 200);
    assert.deepEqual([response.body.steps[0].status, response.body.steps[0].code], ['fail', 'ERR_CONFIG_ISSUER_MISSING']);
  });

  it('every provider call has the configured timeout', async () => {
    const silent = await listen(() => undefined); // accepts, never answers
    try {
      const response = await doctor({ config: { ...config(), issuer: `http://127.0.0.1:${silent.address().port}/realms/x`, timeoutMs: 200 } });
      const discovery = stepOf(response.body, 'discovery');
      assert.deepEqual([discovery.status, discovery.code], ['fail', 'ERR_DISCOVERY_UNAVAILABLE']);
      assert.match(discovery.message, /within 200 ms/);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses a body larger than its limit (413) and one of the wrong shape (400)', async () => {
    const large = await doctor({ config: config(), token: 'a'.repeat(200 * 1024) });
    assert.deepEqual([large.status, large.body.problem.code], [413, 'ERR_INPUT_PARAMS_INVALID']);
    for (const body of [[], { config: 'x' }, { config: config(), grant: { type: 'implicit' } }, { config: config(), token: { a: 1 } }]) {
      const response = await doctor(body);
      assert.deepEqual([response.status, response.body.problem.code], [400, 'ERR_INPUT_PARAMS_INVALID'], JSON.stringify(body));
    }
  });
});

describe('identity-config: the Token doctor needs the write permission (adminAuth)', function () {
  this.timeout(60000);
  let child;
  let base;
  let userDir;

  /** Node-RED itself, as `npm start` runs it, with two users: admin (every permission) and viewer (read). */
  const SCRIPT = `
    const http = require('node:http');
    const express = require('express');
    const RED = require('node-red');
    const bcrypt = require(require.resolve('bcryptjs', { paths: [require.resolve('node-red')] }));
    const hash = bcrypt.hashSync('test-password', 4);
    const app = express();
    const server = http.createServer(app);
    server.listen(0, '127.0.0.1', async () => {
      RED.init(server, {
        userDir: process.env.DOCTOR_USER_DIR, httpAdminRoot: '/', uiHost: '127.0.0.1',
        credentialSecret: 'doctor-test', editorTheme: { tours: false, palette: { catalogues: [] } },
        telemetry: { enabled: false, updateNotification: false }, logging: { console: { level: 'error' } },
        adminAuth: { type: 'credentials', users: [
          { username: 'admin', password: hash, permissions: '*' },
          { username: 'viewer', password: hash, permissions: 'read' },
        ] },
      });
      app.use('/', RED.httpAdmin);
      await RED.start();
      console.log('doctor-test listening ' + server.address().port);
    });
  `;

  before(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-doctor-'));
    fs.mkdirSync(path.join(userDir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(userDir, 'node_modules', 'node-red-contrib-identity'), 'dir');
    child = spawn(process.execPath, ['-e', SCRIPT], { cwd: ROOT, env: { ...process.env, DOCTOR_USER_DIR: userDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    base = await new Promise((resolve, reject) => {
      const onData = (chunk) => {
        output += chunk;
        const match = /doctor-test listening (\d+)/.exec(output);
        if (match) resolve(`http://127.0.0.1:${match[1]}`);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`Node-RED exited with ${code}:\n${output}`)));
    });
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function login(username, scope) {
    const response = await fetch(`${base}/auth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password: 'test-password' }),
    });
    assert.equal(response.status, 200, `login of ${username}`);
    return (await response.json()).access_token;
  }

  const post = (token) => fetch(`${base}/identity-config/doctor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ config: { issuer: '' } }),
  });

  it('refuses an anonymous call and a user who may only read (Node-RED answers both 401); a user who may write gets the report', async () => {
    assert.equal((await post()).status, 401);
    const viewer = await login('viewer', 'read');
    assert.equal((await fetch(`${base}/flows`, { headers: { authorization: `Bearer ${viewer}` } })).status, 200, 'the viewer may read flows');
    assert.equal((await post(viewer)).status, 401);
    const allowed = await post(await login('admin', '*'));
    assert.equal(allowed.status, 200);
    const report = await allowed.json();
    assert.deepEqual(report.steps[0], {
      check: 'configuration', status: 'fail', code: 'ERR_CONFIG_ISSUER_MISSING', message: report.steps[0].message,
    });
  });
});
