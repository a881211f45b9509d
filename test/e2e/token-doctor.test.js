'use strict';
/**
 * The Token doctor in the real editor (headless Chromium driven by playwright-core, against the
 * `npm start` launcher): the sample flow's identity-config runs the doctor with the client_credentials
 * grant against the demo provider, using the deployed node's stored secret, and every check passes;
 * the validate-token dialog runs it with its own scopes, and explains why a token of the second demo
 * realm is refused. Screenshots go to test-output/screenshots/token-doctor-*.png.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { ROOT, startLauncher } = require('../support/launcher');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots');
const DEMO_SECRET = 'demo-client-secret';
// As editor.test.js launches it: as root in a sandboxed CI, with no network beyond loopback.
const LAUNCH = {
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

describe('the Token doctor in the editor (headless Chromium)', function () {
  this.timeout(90000);
  const consoleErrors = [];
  const doctorRequests = [];
  let demo;
  let browser;
  let page;

  /** The demo's editor, tall enough for a whole report, with the sample flow's validate-token open. */
  async function openValidateToken() {
    page = await browser.newPage({ viewport: { width: 1600, height: 2200 } });
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
    page.on('request', (request) => request.url().endsWith('/identity-config/doctor') && doctorRequests.push(request.postData() ?? ''));
    await page.goto(`${demo.base}/`);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="validate-token"]', { timeout: 30000 });
    await page.evaluate(() => RED.editor.edit(RED.nodes.filterNodes({ type: 'validate-token' })[0]));
    await page.waitForSelector('#validate-token-doctor-run');
  }

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    demo = await startLauncher();
    browser = await chromium.launch(LAUNCH);
    await openValidateToken();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  /** Runs a doctor panel and resolves its report's steps as [check, status] once the verdict shows. */
  async function runDoctor(prefix) {
    await page.click(`#${prefix}-run`);
    const result = page.locator(`#${prefix}-result`);
    await result.locator('.identity-doctor-verdict').waitFor();
    const steps = await result.locator('.identity-doctor-step').evaluateAll((rows) => rows.map((row) => [row.dataset.check, row.dataset.status]));
    return { result, steps, verdict: await result.locator('.identity-doctor-verdict').innerText() };
  }

  it("the sample flow's identity-config: client_credentials with the stored secret, every check passes", async () => {
    await page.click('#node-input-identity + a.red-ui-button');
    await page.waitForSelector('#identity-config-doctor-run');
    assert.notEqual(await page.inputValue('#node-config-input-clientSecret'), '', 'a stored secret, shown as its stand-in');
    await page.selectOption('#identity-config-doctor-source', 'client_credentials');
    await page.fill('#identity-config-doctor-scope', 'orders:read');
    const { result, steps, verdict } = await runDoctor('identity-config-doctor');
    assert.equal(verdict, 'validate-token accepts this token.');
    assert.deepEqual(steps.filter(([, status]) => status === 'fail'), []);
    const passed = steps.filter(([, status]) => status === 'pass').map(([check]) => check);
    for (const check of ['configuration', 'discovery', 'keys', 'token', 'decode', 'algorithm', 'signature', 'issuer', 'audience', 'expiry']) {
      assert.ok(passed.includes(check), `${check} passes`);
    }
    assert.match(await result.innerText(), /"iss": "http:\/\/127\.0\.0\.1:\d+\/realms\/demo"/, 'the decoded claims are shown');
    await result.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'token-doctor-identity-config.png') });
    // The browser sent Node-RED's stand-in, never the secret; the answer holds no raw token.
    assert.equal(JSON.parse(doctorRequests.at(-1)).credentials.clientSecret, '__PWRD__');
    assert.ok(!(await page.content()).includes(DEMO_SECRET));
    assert.doesNotMatch(await result.innerText(), /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
    await page.click('#node-config-dialog-cancel');
    await page.waitForSelector('#identity-config-doctor-run', { state: 'detached' });
  });

  it("the validate-token dialog: a token of the partners realm is refused, and the doctor says it is another issuer's", async () => {
    const token = await fetch(`${demo.base}/realms/partners/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`demo-client:${DEMO_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'password', username: 'carol', password: 'carol-password', scope: 'orders:read' }),
    }).then(async (response) => (await response.json()).access_token);
    assert.match(token, /^eyJ/);
    await page.fill('#validate-token-doctor-token', token);
    const { result, steps, verdict } = await runDoctor('validate-token-doctor');
    assert.equal(verdict, 'validate-token refuses this token: ERR_TOKEN_ISSUER');
    assert.deepEqual(steps.filter(([, status]) => status === 'fail').map(([check]) => check), ['signature', 'issuer']);
    const hint = result.locator('li[data-hint="HINT_ISSUER_OTHER"]');
    assert.match(await hint.innerText(), /realms\/partners, but .*realms\/demo is configured/);
    await result.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'token-doctor-validate-token-other-issuer.png') });
    assert.ok(!(await result.innerText()).includes(token.split('.')[2]), 'the signature part is never shown');
  });

  it('the validate-token dialog: client_credentials with its own scope rule passes', async () => {
    await page.selectOption('#validate-token-doctor-source', 'client_credentials');
    await page.fill('#validate-token-doctor-scope', 'orders:read');
    const { steps, verdict } = await runDoctor('validate-token-doctor');
    assert.equal(verdict, 'validate-token accepts this token.');
    assert.deepEqual(steps.filter(([, status]) => status === 'fail'), []);
    assert.deepEqual(steps.find(([check]) => check === 'scopes'), ['scopes', 'pass']);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'token-doctor-validate-token.png') });
  });

  it('shows no errors in the browser console', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
