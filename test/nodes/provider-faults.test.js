'use strict';
/**
 * validate-token behind real `http in` / `http response` when the provider misbehaves: a small
 * fault server on 127.0.0.1 is the issuer (discovery and JWKS), and each test makes it fail in one
 * way the real provider cannot on demand. Every fault gets its documented answer (503 with
 * Retry-After for the provider, 401 for a token no key can verify), a status on the node, no error
 * reaching a Catch node, and recovery without a redeploy once the fault server behaves again.
 * Tokens are minted with keys generated here and published in the fault server's JWKS.
 */
const assert = require('node:assert/strict');
const http = require('node:http');
const { text, helper, startNodeRed, loadFlow, request, statusesOf, waitForStatus, logged } = require('../support/node-red');
const { signingKey, mint: sign } = require('../support/keys');

const at = { x: 100, y: 100 };
const AUDIENCE = 'orders-api';
const DISCOVERY_PATH = '/.well-known/openid-configuration';
const JWKS_PATH = '/jwks';
const TIMEOUT_MS = 300;
const TOLERANCE_SEC = 30; // identity-config's default clockToleranceSec

/** Listens on 127.0.0.1 (on `port`, or an ephemeral one); resolves the port. */
function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve(server.address().port);
    });
  });
}

async function close(server) {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/**
 * The issuer: serves its discovery document and JWKS unless a test replaces a handler; counts
 * the requests per path and keeps the hanging ones so that they can be cut at the end.
 */
async function startFaultServer() {
  const hits = new Map();
  const hanging = new Set();
  const fault = {
    hits,
    keys: [],
    handlers: {},
    issuer: '',
    port: 0,
    count: (path) => hits.get(path) ?? 0,
    discoveryDocument: () => ({ issuer: fault.issuer, jwks_uri: `${fault.issuer}${JWKS_PATH}` }),
    reset() {
      fault.handlers = {};
    },
    hang: (req, res) => hanging.add(res),
  };
  const server = http.createServer((req, res) => {
    res.on('error', () => {});
    req.socket.on('error', () => {});
    hits.set(req.url, fault.count(req.url) + 1);
    const own = fault.handlers[req.url];
    if (own) return own(req, res);
    if (req.url === DISCOVERY_PATH) return json(res, fault.discoveryDocument());
    if (req.url === JWKS_PATH) return json(res, { keys: fault.keys.map((key) => key.publicJwk) });
    res.writeHead(404).end();
  });
  fault.server = server;
  fault.port = await listen(server);
  fault.issuer = `http://127.0.0.1:${fault.port}`;
  fault.stop = async () => {
    for (const res of hanging) res.destroy();
    hanging.clear();
    await close(server);
  };
  fault.start = () => listen(server, fault.port);
  return fault;
}

function json(res, body) {
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

/** http in → validate-token → http response; rejections to a helper too; a Catch node for crashes. */
function flow(issuer, identity = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'protected API' },
    {
      id: 'idp', type: 'identity-config', name: 'faults', issuer, audience: AUDIENCE, clientId: 'demo-client',
      backoffMinMs: '0', timeoutMs: String(TIMEOUT_MS), ...identity,
    },
    { id: 'in', type: 'http in', z: 'tab', url: '/api/orders', method: 'get', ...at, wires: [['vt']] },
    { id: 'vt', type: 'validate-token', z: 'tab', identity: 'idp', scope: 'orders:read', roles: '', ...at, wires: [['ok'], ['out', 'rejected']] },
    { id: 'ok', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'auth', tot: 'msg' }], ...at, wires: [['out']] },
    { id: 'out', type: 'http response', z: 'tab', statusCode: '', headers: {}, ...at, wires: [] },
    { id: 'rejected', type: 'helper', z: 'tab', ...at, wires: [] },
    { id: 'catch', type: 'catch', z: 'tab', scope: null, uncaught: false, ...at, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab', ...at, wires: [] },
  ];
}

/** A token signed with `key`, as a provider whose clock is `skewSec` off would mint it. */
function mint(fault, key, { skewSec = 0, ttlSec = 300, nbf = false, ...claims } = {}) {
  const now = Math.floor(Date.now() / 1000) + skewSec;
  return sign(key, {
    iss: fault.issuer, aud: AUDIENCE, sub: 'alice', client_id: 'demo-client', scope: 'orders:read',
    iat: now, exp: now + ttlSec, jti: `jti-${Math.random()}`, ...(nbf ? { nbf: now } : {}), ...claims,
  });
}

const get = (token) => request('/api/orders', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
const lastStatus = () => statusesOf(helper.getNode('vt')).at(-1);
/** What reached the `rejected` and `caught` helper nodes since the deploy. */
const seen = { rejected: [], caught: [] };
const rejectedCodes = () => seen.rejected.map((msg) => msg.authError?.code);

function assertUnavailable(response) {
  assert.equal(response.status, 503, response.text);
  assert.ok(Number(response.headers['retry-after']) >= 1, `Retry-After: ${response.headers['retry-after']}`);
  assert.equal(response.headers['www-authenticate'], undefined);
  assert.equal(response.body.error, 'temporarily_unavailable');
}

function assertInvalidToken(response, code) {
  assert.equal(response.status, 401, response.text);
  assert.match(response.headers['www-authenticate'], /^Bearer realm="node-red", error="invalid_token", error_description="[^"]+"$/);
  assert.equal(response.body.error, 'invalid_token');
  assert.equal(rejectedCodes().at(-1), code);
  const [before, after] = text('validate-token', 'validate-token.status.rejected', { status: 401, code, counts: '\u0000' }).split('\u0000');
  assert.equal(lastStatus().fill, 'yellow');
  assert.ok(lastStatus().text.startsWith(before) && lastStatus().text.endsWith(after) && lastStatus().text.includes(`${code} ×`), lastStatus().text);
}

/** A valid request answers 200 with alice's msg.auth; the node shows "ready" again. */
async function assertServes(token) {
  const response = await get(token);
  assert.equal(response.status, 200, response.text);
  assert.equal(response.body.subject, 'alice');
  assert.deepEqual([lastStatus().fill, lastStatus().text], ['green', text('validate-token', 'validate-token.status.ready')]);
}

/** Nothing reached the Catch node: no ERR_INTERNAL, no ERR_REQUEST_MISSING, no throw. */
function assertNoCrash() {
  assert.deepEqual(seen.caught.map((msg) => msg.error), []);
}

describe('validate-token and a misbehaving provider (fault server)', function () {
  this.timeout(20000);
  let fault;
  let k1;
  let k2;

  before(async () => {
    await startNodeRed();
    k1 = await signingKey('RS256', 'k1');
    k2 = await signingKey('ES256', 'k2');
  });
  after(() => helper.stopServer());

  beforeEach(async () => {
    fault = await startFaultServer();
    fault.keys = [k1];
  });
  afterEach(async () => {
    await helper.unload();
    await fault.stop();
  });

  async function deploy(identity) {
    await loadFlow(flow(fault.issuer, identity));
    seen.rejected = [];
    seen.caught = [];
    helper.getNode('rejected').on('input', (msg) => seen.rejected.push(msg));
    helper.getNode('caught').on('input', (msg) => seen.caught.push(msg));
  }
  const vt = () => helper.getNode('vt');
  const waitForRed = (code) => waitForStatus(vt(), (status) => status.fill === 'red' && status.text === code);
  const warned = (code, cause) => logged('WARN').some((entry) => ['vt', 'idp'].includes(entry.id)
    && String(entry.msg).startsWith(code) && String(entry.msg).includes(`(${cause})`));

  it('down at deploy: red ERR_DISCOVERY_UNAVAILABLE, 503, then 200 once it is up, without redeploy', async () => {
    await fault.stop();
    await deploy();
    await waitForRed('ERR_DISCOVERY_UNAVAILABLE');
    const token = await mint(fault, k1);
    assertUnavailable(await get(token));
    assert.equal(rejectedCodes().at(-1), 'ERR_DISCOVERY_UNAVAILABLE');
    assert.ok(warned('ERR_DISCOVERY_UNAVAILABLE', 'ERR_HTTP_UNREACHABLE'), JSON.stringify(logged('WARN')));
    await fault.start();
    await assertServes(token);
    assertNoCrash();
  });

  it('down after the keys were cached: known and new tokens of a cached key still validate, and rotation works once it is back', async () => {
    await deploy();
    await waitForStatus(vt(), (status) => status.fill === 'green');
    await assertServes(await mint(fault, k1));
    await fault.stop();
    await assertServes(await mint(fault, k1)); // never seen: verified with the cached key
    await fault.start();
    fault.keys = [k1, k2];
    await assertServes(await mint(fault, k2));
    assertNoCrash();
  });

  describe('answers the node cannot use: 503 with Retry-After, a red status with the code, the cause in the log, then recovery', () => {
    const bigJwks = (req, res) => {
      // 20 MB of a JWK Set, streamed without Content-Length, as a misconfigured proxy might.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const filler = { kty: 'RSA', kid: 'x', n: 'A'.repeat(4096), e: 'AQAB' };
      const chunk = Buffer.from(`${JSON.stringify(filler)},`.repeat(250)); // about 1 MiB
      res.write('{"keys":[');
      let sent = 0;
      const more = () => {
        while (sent < 20 && !res.destroyed) {
          sent += 1;
          if (!res.write(chunk)) return res.once('drain', more);
        }
        if (!res.destroyed) res.end(`${JSON.stringify(filler)}]}`);
        return undefined;
      };
      more();
    };
    const html = (req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><html><body>Sign in</body></html>');
    const truncated = (body) => (req, res) => {
      const full = JSON.stringify(body());
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(full.slice(0, Math.floor(full.length / 2)));
    };
    const cases = {
      'a hanging discovery endpoint (accepts, never answers)': [DISCOVERY_PATH, () => fault.hang, 'ERR_DISCOVERY_UNAVAILABLE', 'ERR_HTTP_TIMEOUT'],
      'a hanging JWKS endpoint (accepts, never answers)': [JWKS_PATH, () => fault.hang, 'ERR_JWKS_UNAVAILABLE', 'ERR_HTTP_TIMEOUT'],
      'discovery answering an HTML page': [DISCOVERY_PATH, () => html, 'ERR_DISCOVERY_INVALID', 'ERR_HTTP_BODY'],
      'the JWKS answering an HTML page': [JWKS_PATH, () => html, 'ERR_JWKS_INVALID', 'ERR_HTTP_BODY'],
      'discovery answering truncated JSON': [DISCOVERY_PATH, () => truncated(fault.discoveryDocument), 'ERR_DISCOVERY_INVALID', 'ERR_HTTP_BODY'],
      'the JWKS answering truncated JSON': [JWKS_PATH, () => truncated(() => ({ keys: [k1.publicJwk] })), 'ERR_JWKS_INVALID', 'ERR_HTTP_BODY'],
      'a 20 MB JWKS (over the 1 MiB limit)': [JWKS_PATH, () => bigJwks, 'ERR_JWKS_UNAVAILABLE', 'ERR_HTTP_TOO_LARGE'],
    };
    for (const [name, [path, handler, code, cause]] of Object.entries(cases)) {
      it(`${name}: ${code} (${cause})`, async () => {
        fault.handlers[path] = handler();
        await deploy();
        await waitForRed(code);
        const token = await mint(fault, k1);
        const started = Date.now();
        const response = await get(token);
        assertUnavailable(response);
        assert.ok(Date.now() - started < TIMEOUT_MS + 2000, `answered in ${Date.now() - started} ms`);
        assert.equal(rejectedCodes().at(-1), code);
        assert.deepEqual([lastStatus().fill, lastStatus().text], ['red', code]);
        assert.ok(warned(code, cause), JSON.stringify(logged('WARN')));
        assert.ok(fault.count(path) >= 2, 'asked again for the request (backoff 0)');
        fault.reset();
        await assertServes(token);
        assertNoCrash();
      });
    }

    it('a discovery document naming another issuer: ERR_DISCOVERY_ISSUER_MISMATCH, and the JWKS is never fetched', async () => {
      fault.handlers[DISCOVERY_PATH] = (req, res) => json(res, { ...fault.discoveryDocument(), issuer: 'http://127.0.0.1:1/evil' });
      await deploy();
      await waitForRed('ERR_DISCOVERY_ISSUER_MISMATCH');
      const token = await mint(fault, k1);
      assertUnavailable(await get(token));
      assert.equal(rejectedCodes().at(-1), 'ERR_DISCOVERY_ISSUER_MISMATCH');
      assert.equal(fault.count(JWKS_PATH), 0);
      fault.reset();
      await assertServes(token);
      assertNoCrash();
    });

    describe('redirects to another host are not followed', () => {
      let elsewhere;
      let elsewhereHits;
      beforeEach(async () => {
        // Another origin that would serve a perfectly good key set: if it were asked, the tokens would pass.
        elsewhereHits = 0;
        elsewhere = http.createServer((req, res) => {
          elsewhereHits += 1;
          if (req.url === DISCOVERY_PATH) return json(res, fault.discoveryDocument());
          return json(res, { keys: [k1.publicJwk] });
        });
        await listen(elsewhere);
      });
      afterEach(() => close(elsewhere));
      const redirect = (path) => (req, res) => res.writeHead(302, { Location: `http://127.0.0.1:${elsewhere.address().port}${path}` }).end();

      for (const [path, code] of [[DISCOVERY_PATH, 'ERR_DISCOVERY_UNAVAILABLE'], [JWKS_PATH, 'ERR_JWKS_UNAVAILABLE']]) {
        it(`${path} redirecting to another origin: ${code} (ERR_HTTP_REDIRECT), nothing fetched there`, async () => {
          fault.handlers[path] = redirect(path);
          await deploy();
          await waitForRed(code);
          const token = await mint(fault, k1);
          assertUnavailable(await get(token));
          assert.equal(rejectedCodes().at(-1), code);
          assert.ok(warned(code, 'ERR_HTTP_REDIRECT'), JSON.stringify(logged('WARN')));
          assert.equal(elsewhereHits, 0, 'the other origin was never asked');
          fault.reset();
          await assertServes(token);
          assertNoCrash();
        });
      }
    });
  });

  describe('key sets', () => {
    it('a JWKS with duplicate kids: tokens naming that kid are refused 401 ERR_TOKEN_KEY_UNKNOWN, whichever key signed them', async () => {
      const twin = await signingKey('RS256', 'k1');
      fault.keys = [k1, twin];
      await deploy();
      await waitForStatus(vt(), (status) => status.fill === 'green');
      assertInvalidToken(await get(await mint(fault, k1)), 'ERR_TOKEN_KEY_UNKNOWN');
      assertInvalidToken(await get(await mint(fault, twin)), 'ERR_TOKEN_KEY_UNKNOWN');
      // Recovery as a provider recovers: it publishes a new key; its kid is unknown, so the set is refetched.
      fault.keys = [k1, k2];
      await assertServes(await mint(fault, k2));
      await assertServes(await mint(fault, k1));
      assertNoCrash();
    });

    it('rotation: the new key is fetched once for its first token; the removed key\'s tokens are refused after that refetch', async () => {
      await deploy();
      const oldToken = await mint(fault, k1);
      await assertServes(oldToken);
      const fetched = fault.count(JWKS_PATH);
      fault.keys = [k2]; // k1 removed, k2 added
      const newToken = await mint(fault, k2);
      await assertServes(newToken);
      await assertServes(newToken);
      assert.equal(fault.count(JWKS_PATH), fetched + 1, 'one refetch for the new kid');
      assertInvalidToken(await get(oldToken), 'ERR_TOKEN_KEY_UNKNOWN'); // was verified and cached before
      assertInvalidToken(await get(await mint(fault, k1)), 'ERR_TOKEN_KEY_UNKNOWN'); // never seen
      assert.equal(fault.count(JWKS_PATH), fetched + 1, 'refused tokens of a removed key cause no fetch within the cooldown');
      await assertServes(await mint(fault, k2));
      assertNoCrash();
    });
  });

  describe(`the provider's clock (tolerance ${TOLERANCE_SEC} s)`, () => {
    // iat, nbf and exp all shifted by the provider's clock error; tokens live 60 s.
    const cases = {
      'ahead by 20 s (nbf 20 s in the future): accepted': [20, 200],
      'ahead by 60 s (nbf 60 s in the future): ERR_TOKEN_NOT_YET_VALID': [60, 'ERR_TOKEN_NOT_YET_VALID'],
      'behind by 80 s (exp passed 20 s ago): accepted': [-80, 200],
      'behind by 120 s (exp passed 60 s ago): ERR_TOKEN_EXPIRED': [-120, 'ERR_TOKEN_EXPIRED'],
    };
    for (const [name, [skewSec, expected]] of Object.entries(cases)) {
      it(name, async () => {
        await deploy();
        await waitForStatus(vt(), (status) => status.fill === 'green');
        const response = await get(await mint(fault, k1, { skewSec, ttlSec: 60, nbf: true }));
        if (expected === 200) {
          assert.equal(response.status, 200, response.text);
        } else {
          assertInvalidToken(response, expected);
          await assertServes(await mint(fault, k1, { nbf: true }));
        }
        assertNoCrash();
      });
    }
  });
});
