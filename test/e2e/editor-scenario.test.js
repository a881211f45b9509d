'use strict';
/**
 * A newcomer in the real editor (headless Chromium on the launcher behind `npm start`), with the
 * mouse and the editor's own controls only:
 *
 * 1. builds a protected endpoint by hand on a new flow tab (nodes dragged from the palette, a new
 *    identity-config with the Keycloak preset and Discover, wires dragged from port to port, the
 *    Deploy button) and calls it over HTTP: no token 401, alice 200, bob 403;
 * 2. imports every sample flow of flows/*.json from Import ▸ Examples into a Node-RED without the
 *    sample flows, types the documented demo client secret into its identity-config (the only
 *    edit), deploys it and calls it over HTTP the way its comment says.
 *
 * Screenshots of the moments that matter go to test-output/screenshots/ (gitignored); no assertion
 * depends on them.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, startLauncher } = require('../support/launcher');
const {
  launchBrowser, openEditor, onWorkspace, dragFromPalette, dragWire, trayOpened, openNode, importExample, deploy, nodeStatuses, settledStatuses,
} = require('../support/browser');

const MODULE = 'node-red-contrib-identity';
// The demo's documented client (README, Quick start): the launcher's default secret.
const CLIENT_ID = 'demo-client';
const CLIENT_SECRET = 'demo-client-secret';
const AUDIENCE = 'urn:node-red-contrib-identity:demo-api';
const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots');
const HTTP_TIMEOUT_MS = 10000;
// The node types of this package drawn on a flow (identity-config is a config node).
const OUR_FLOW_TYPES = Object.keys(require('../../package.json')['node-red'].nodes).filter((type) => type !== 'identity-config');

/** A PNG for the reader of the test run; a failure to write one fails nothing. */
function screenshot(page, name) {
  return page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) }).catch(() => undefined);
}

/** fetch with a bound: a route whose wire is missing never answers, and that must read as such. */
async function call(url, init = {}, what = url) {
  try {
    return await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (error) {
    assert.fail(`${what}: no answer within ${HTTP_TIMEOUT_MS} ms (${error.message}): is every output wired to an http response?`);
  }
}

/** The JSON body of a 200 answer; another status fails, with the body it came with. */
async function ok(response) {
  const body = await response.text();
  assert.equal(response.status, 200, `${response.url}: ${body}`);
  return JSON.parse(body);
}

async function providerMetadata(base) {
  return ok(await call(`${base}/realms/demo/.well-known/openid-configuration`));
}

/** A token response of the launcher's demo provider for a user's password (grant of the demo client). */
async function passwordGrant(base, username, scope = 'orders:read') {
  const { token_endpoint: tokenEndpoint } = await providerMetadata(base);
  return ok(await call(tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'password', username, password: `${username}-password`, scope }),
  }));
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

function postJson(url, body) {
  return call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/**
 * One real HTTP call per sample flow, as its comment describes it. `alongside` are the sample
 * flows it calls, imported into the same Node-RED first. A file not listed here is checked by the
 * generic test only: it deploys, and no node's status is red.
 */
const EXAMPLE_CHECKS = {
  'protected-api.json': {
    proves: 'GET /api/orders with a token for alice with orders:read: 200 with her orders',
    async check(base) {
      const { access_token: token } = await passwordGrant(base, 'alice');
      const orders = await ok(await call(`${base}/api/orders`, { headers: { authorization: `Bearer ${token}` } }));
      assert.equal(orders.user, 'alice');
      assert.ok(Array.isArray(orders.orders) && orders.orders.length > 0, JSON.stringify(orders));
    },
  },
  'token-endpoint.json': {
    proves: "POST /token with alice's password: 200 with her access_token, not to be cached",
    async check(base) {
      const response = await postJson(`${base}/token`, { username: 'alice', password: 'alice-password' });
      const tokens = await ok(response);
      assert.equal(typeof tokens.access_token, 'string', JSON.stringify(tokens));
      assert.equal(claims(tokens.access_token).sub, 'alice');
      assert.match(response.headers.get('cache-control') ?? '', /no-store/);
    },
  },
  'refresh-endpoint.json': {
    proves: "POST /refresh with alice's refresh token: 200 with new tokens and a new (rotated) refresh token",
    async check(base) {
      const { refresh_token: refreshToken } = await passwordGrant(base, 'alice');
      assert.equal(typeof refreshToken, 'string', 'the demo provider issues refresh tokens to the password grant');
      const tokens = await ok(await postJson(`${base}/refresh`, { refresh_token: refreshToken }));
      assert.equal(claims(tokens.access_token).sub, 'alice');
      assert.equal(typeof tokens.refresh_token, 'string', JSON.stringify(tokens));
      assert.notEqual(tokens.refresh_token, refreshToken, 'the provider rotates the refresh token');
    },
  },
  'machine-to-machine.json': {
    alongside: ['protected-api.json'],
    proves: "GET /m2m/orders: 200 with the protected API's answer to the client's own client_credentials token",
    async check(base) {
      const orders = await ok(await call(`${base}/m2m/orders`));
      assert.equal(orders.user, CLIENT_ID, JSON.stringify(orders));
      assert.ok(Array.isArray(orders.orders), JSON.stringify(orders));
    },
  },
  'session-short-lived-tokens.json': {
    alongside: ['protected-api.json'],
    proves: "POST /session/login with alice's password, then GET /session/orders: 200 with alice's orders",
    async check(base) {
      assert.deepEqual(await ok(await postJson(`${base}/session/login`, { username: 'alice', password: 'alice-password' })), { session: 'started' });
      const orders = await ok(await call(`${base}/session/orders`));
      assert.equal(orders.user, 'alice', JSON.stringify(orders));
    },
  },
  'authorization-code-login.json': {
    proves: "GET /login: 302 to the provider's authorization endpoint with the code flow, PKCE S256 and /callback",
    async check(base) {
      const { authorization_endpoint: authorizationEndpoint } = await providerMetadata(base);
      const response = await call(`${base}/login`);
      assert.equal(response.status, 302, await response.text());
      const location = new URL(response.headers.get('location'));
      assert.equal(`${location.origin}${location.pathname}`, authorizationEndpoint);
      const query = location.searchParams;
      assert.equal(query.get('response_type'), 'code');
      assert.equal(query.get('client_id'), CLIENT_ID);
      assert.equal(query.get('redirect_uri'), `${base}/callback`);
      assert.equal(query.get('code_challenge_method'), 'S256');
      assert.ok(query.get('code_challenge') && query.get('state'), location.href);
    },
  },
};

const SAMPLE_FILES = fs.readdirSync(path.join(ROOT, 'flows')).filter((file) => file.endsWith('.json')).sort();
const readSample = (file) => JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', file), 'utf8'));

describe('the editor, used as a newcomer would, in headless Chromium', function () {
  this.timeout(60000);
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  describe('a protected endpoint built by hand on a new flow tab', () => {
    let demo;
    let editor;
    let page;
    const ids = {};
    // Each step builds on the ones before; a later step names the earlier one that did not finish.
    const done = new Set();
    const needs = (step) => assert.ok(done.has(step), `needs the step "${step}", which failed`);

    before(async () => {
      demo = await startLauncher({ sampleFlows: false });
      editor = await openEditor(browser, demo.base);
      ({ page } = editor);
      page.setDefaultTimeout(10000);
    });

    after(async () => {
      await page?.close();
      await demo?.stop();
    });

    it('drags http in, validate-token and two http response nodes from the palette onto a new, empty flow tab', async () => {
      const tabs = '#red-ui-workspace-tabs > li.red-ui-tab';
      const tabsBefore = await page.locator(tabs).count();
      await page.click('#red-ui-workspace .red-ui-tab-button.red-ui-tabs-add a');
      await page.waitForFunction(([selector, count]) => document.querySelectorAll(selector).length === count, [tabs, tabsBefore + 1]);
      assert.ok(await page.locator(tabs).last().evaluate((tab) => tab.classList.contains('active')), 'the new tab is the one shown');
      assert.equal(await page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group').count(), 0, 'the new tab is empty');

      ids.httpIn = await dragFromPalette(page, 'http in', { x: 160, y: 160 });
      ids.validateToken = await dragFromPalette(page, 'validate-token', { x: 420, y: 160 });
      ids.responseA = await dragFromPalette(page, 'http response', { x: 720, y: 100 });
      ids.responseB = await dragFromPalette(page, 'http response', { x: 720, y: 260 });
      assert.equal(new Set(Object.values(ids)).size, 4, 'four distinct nodes');
      done.add('drop');
    });

    it('sets http in to GET /scenario/orders in its dialog', async () => {
      needs('drop');
      await openNode(page, ids.httpIn, '#node-input-url');
      await page.locator('#node-input-method').selectOption('get');
      await page.fill('#node-input-url', '/scenario/orders');
      await page.click('#node-dialog-ok');
      await page.locator('#node-input-url').waitFor({ state: 'detached' });
      assert.equal(await page.locator(`${onWorkspace(ids.httpIn)} .red-ui-flow-node-label-text`).textContent(), '[get] /scenario/orders');
      done.add('http in');
    });

    it('adds a new identity-config from validate-token with the Keycloak preset: the issuer follows server and realm, Discover lists the token endpoint', async () => {
      needs('drop');
      const issuer = `${demo.base}/realms/demo`;
      const metadata = await providerMetadata(demo.base);
      await openNode(page, ids.validateToken, '#node-input-scope');
      await page.click('#node-input-btn-identity-add');
      await trayOpened(page, '#node-config-input-preset');
      await page.locator('#node-config-input-preset').selectOption('keycloak');
      await page.locator('#node-config-input-presetBaseUrl').pressSequentially(demo.base);
      await page.locator('#node-config-input-presetTenant').pressSequentially('demo');
      assert.equal(await page.inputValue('#node-config-input-issuer'), issuer, 'the issuer is <server>/realms/<realm>');
      assert.equal(await page.locator('#node-config-input-issuer').isEditable(), false, 'and read-only while a preset is chosen');
      assert.equal(await page.locator('#node-config-input-presetLegacyAuth').isChecked(), false);
      await page.fill('#node-config-input-clientId', CLIENT_ID);
      await page.fill('#node-config-input-audience', AUDIENCE);
      await screenshot(page, 'scenario-1-identity-config-keycloak-preset');

      await page.click('#identity-config-discover');
      const result = page.locator('#identity-config-discover-result');
      await result.locator('b').first().waitFor({ timeout: 10000 })
        .catch(async () => assert.fail(`Discover found nothing: ${await result.innerText()}`));
      const text = await result.innerText();
      assert.ok(text.includes(`token_endpoint: ${metadata.token_endpoint}`), text);
      assert.ok(text.includes(`jwks_uri: ${metadata.jwks_uri}`), text);
      await screenshot(page, 'scenario-2-identity-config-discover-result');

      await page.click('#node-config-dialog-ok');
      await page.locator('#node-config-input-preset').waitFor({ state: 'detached' });
      assert.equal(await page.locator('#node-input-identity option:checked').innerText(), issuer, 'validate-token uses the new identity-config');
      await page.fill('#node-input-scope', 'orders:read');
      await page.click('#node-dialog-ok');
      await page.locator('#node-input-scope').waitFor({ state: 'detached' });
      done.add('identity');
    });

    it('wires http in → validate-token, output 1 → http response A, output 2 → http response B by dragging from port to port', async () => {
      needs('drop');
      await dragWire(page, ids.httpIn, 0, ids.validateToken);
      await dragWire(page, ids.validateToken, 0, ids.responseA);
      await dragWire(page, ids.validateToken, 1, ids.responseB);
      await screenshot(page, 'scenario-3-flow-wired-before-deploy');
      done.add('wires');
    });

    it('deploys with the Deploy button: the flow as built is what runs, and validate-token shows ready', async () => {
      needs('http in');
      needs('identity');
      needs('wires');
      const deployed = await deploy(editor);
      const node = (id) => deployed.flows.find((candidate) => candidate.id === id);
      assert.equal(node(ids.httpIn).method, 'get');
      assert.equal(node(ids.httpIn).url, '/scenario/orders');
      assert.deepEqual(node(ids.httpIn).wires, [[ids.validateToken]]);
      assert.deepEqual(node(ids.validateToken).wires, [[ids.responseA], [ids.responseB]]);
      assert.equal(node(ids.validateToken).scope, 'orders:read');
      const identity = node(node(ids.validateToken).identity);
      assert.equal(identity?.type, 'identity-config', 'validate-token refers to a deployed identity-config');
      assert.equal(identity.preset, 'keycloak');
      assert.equal(identity.issuer, `${demo.base}/realms/demo`);
      assert.equal(identity.audience, AUDIENCE);
      // Green once the identity-config has fetched the provider's metadata and keys.
      const [status] = await settledStatuses(page, [ids.validateToken]);
      assert.equal(status.fill, 'green', `validate-token shows ready: ${JSON.stringify(status)}`);
      await screenshot(page, 'scenario-4-flow-deployed');
      done.add('deploy');
    });

    it('answers over HTTP: no token 401 with WWW-Authenticate: Bearer, alice 200, bob without orders:read 403 insufficient_scope', async () => {
      needs('deploy');
      const url = `${demo.base}/scenario/orders`;
      const anonymous = await call(url, {}, 'GET /scenario/orders without a token');
      assert.equal(anonymous.status, 401, await anonymous.text());
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer\b/);

      const alice = await passwordGrant(demo.base, 'alice');
      assert.match(alice.scope, /\borders:read\b/);
      const allowed = await call(url, { headers: { authorization: `Bearer ${alice.access_token}` } }, "GET /scenario/orders with alice's token");
      assert.equal(allowed.status, 200, await allowed.text());

      const bob = await passwordGrant(demo.base, 'bob');
      assert.doesNotMatch(bob.scope ?? '', /\borders:read\b/, 'the provider does not grant bob orders:read');
      const refused = await call(url, { headers: { authorization: `Bearer ${bob.access_token}` } }, "GET /scenario/orders with bob's token");
      assert.equal(refused.status, 403, await refused.text());
      const challenge = refused.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer\b/);
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, /scope="orders:read"/);
    });

    it('ran without errors in the browser console', () => {
      assert.deepEqual(editor.consoleErrors, []);
      assert.deepEqual(editor.failedRequests, []);
    });
  });

  describe('every sample flow, imported from Import ▸ Examples into a Node-RED without them', () => {
    it('finds sample flows in flows/, each with a tab', () => {
      assert.ok(SAMPLE_FILES.length > 0);
      for (const file of SAMPLE_FILES) assert.ok(readSample(file).some((node) => node.type === 'tab'), `${file} has a tab`);
    });

    for (const file of SAMPLE_FILES) {
      const example = path.basename(file, '.json');
      const specific = EXAMPLE_CHECKS[file];

      describe(example, () => {
        let demo;
        let editor;
        let page;
        let deployedOk = false;

        // A Node-RED of its own: imports keep the flows' ids, so nothing collides and nothing is left over.
        before(async () => {
          demo = await startLauncher({ sampleFlows: false });
          // Wide enough for the widest sample flow in the screenshot.
          editor = await openEditor(browser, demo.base, { viewport: { width: 2000, height: 1000 } });
          ({ page } = editor);
          page.setDefaultTimeout(10000);
          assert.equal(await page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group').count(), 0, 'an empty workspace');
        });

        after(async () => {
          await page?.close();
          await demo?.stop();
        });

        const typedSecret = new Set(); // the identity-configs given the demo client secret
        const importWithSecret = async (sample) => {
          const nodes = readSample(sample);
          const tab = nodes.find((node) => node.type === 'tab');
          await importExample(page, MODULE, path.basename(sample, '.json'));
          await page.locator(`#red-ui-tab-${tab.id}`).waitFor();
          // The only edit: the documented demo client secret, in each identity-config of the flow
          // (opened from the Configuration nodes sidebar) whose authentication method takes one.
          await page.click('#red-ui-header-button-sidemenu');
          await page.click('#menu-item-config-nodes');
          for (const config of nodes.filter((node) => node.type === 'identity-config')) {
            const label = config.name || config.issuer;
            await page.locator('#red-ui-sidebar .red-ui-palette-node-config .red-ui-palette-label').getByText(label, { exact: true }).dblclick();
            await trayOpened(page, '#node-config-input-clientSecret');
            if (await page.locator('#node-config-input-clientSecret').isVisible()) {
              await page.fill('#node-config-input-clientSecret', CLIENT_SECRET);
              typedSecret.add(config.id);
            }
            await page.click('#node-config-dialog-ok');
            await page.locator('#node-config-input-clientSecret').waitFor({ state: 'detached' });
          }
          return nodes;
        };

        it(`imports ${example} from the menu, gets the demo client secret, deploys: every node drawn, none red`, async () => {
          for (const needed of specific?.alongside ?? []) await importWithSecret(needed);
          const nodes = await importWithSecret(file);
          const tab = nodes.find((node) => node.type === 'tab');
          await page.click(`#red-ui-tab-${tab.id} a.red-ui-tab-label`);
          const { flows } = await deploy(editor);
          for (const id of typedSecret) {
            assert.equal(flows.find((node) => node.id === id)?.credentials?.clientSecret, CLIENT_SECRET,
              `identity-config ${id} was deployed with the secret typed in`);
          }

          const onFlow = nodes.filter((node) => node.z === tab.id);
          await settledStatuses(page, onFlow.filter((node) => OUR_FLOW_TYPES.includes(node.type)).map((node) => node.id));
          const statuses = await nodeStatuses(page, onFlow.map((node) => node.id));
          assert.deepEqual(statuses.filter((status) => !status.drawn).map((status) => status.id), [], 'every node of the flow is drawn');
          assert.deepEqual(statuses.filter((status) => status.fill === 'red'), [], 'no node is red');
          await screenshot(page, `example-${example}-deployed`);
          assert.deepEqual(editor.consoleErrors, []);
          assert.deepEqual(editor.failedRequests, []);
          deployedOk = true;
        });

        if (specific) {
          it(specific.proves, async () => {
            assert.ok(deployedOk, `needs ${example} deployed, which failed`);
            await specific.check(demo.base);
          });
        }
      });
    }
  });
});
