'use strict';
/**
 * The real editor in headless Chromium (Debian's chromium, driven by playwright-core): what an
 * integrator sees after `npm start`. The palette has validate-token, the sample flow's nodes open
 * their dialogs with their properties, the client secret is never sent to the browser, and the
 * help panel shows our help.
 */
const assert = require('node:assert/strict');
const { startLauncher } = require('../support/launcher');
const { EDITOR_READY, launchBrowser, openEditor } = require('../support/browser');

describe('the editor in headless Chromium', function () {
  this.timeout(90000);
  let demo;
  let browser;
  let page;
  let consoleErrors;
  let failedRequests;

  before(async () => {
    browser = await launchBrowser();
    demo = await startLauncher();
    ({ page, consoleErrors, failedRequests } = await openEditor(browser, demo.base));
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  for (const [type, icon] of [['validate-token', 'identity.svg'], ['get-token', 'token.svg'], ['refresh-token', 'token.svg'], ['resource-metadata', 'identity.svg']]) {
    it(`shows ${type} in the palette, in the identity category, with its icon`, async () => {
      const node = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
      assert.equal(await node.count(), 1);
      const category = await node.evaluate((element) => element.closest('.red-ui-palette-category').id);
      assert.match(category, /identity/);
      const image = await node.locator('.red-ui-palette-icon').evaluate((element) => getComputedStyle(element).backgroundImage);
      assert.ok(image.includes(icon), image);
      const loaded = await page.evaluate(async (url) => (await fetch(url)).status, image.replace(/^url\("?|"?\)$/g, ''));
      assert.equal(loaded, 200);
    });
  }

  it("opens the sample flow's validate-token with its scope, and its identity-config without the secret", async () => {
    await page.evaluate(() => {
      const node = RED.nodes.filterNodes({ type: 'validate-token' })[0];
      RED.editor.edit(node);
    });
    await page.waitForSelector('#node-input-scope');
    assert.equal(await page.inputValue('#node-input-scope'), 'orders:read');
    await page.screenshot({ path: 'test-output/validate-token-dialog.png' }).catch(() => undefined);
    await page.click('#node-input-identity + a.red-ui-button');
    await page.waitForSelector('#node-config-input-issuer');
    assert.equal(await page.inputValue('#node-config-input-issuer'), '${IDENTITY_DEMO_ISSUER}');
    assert.equal(await page.inputValue('#node-config-input-audience'), 'urn:node-red-contrib-identity:demo-api');
    const secret = await page.inputValue('#node-config-input-clientSecret');
    assert.notEqual(secret, '', 'the dialog shows that a secret is set');
    assert.ok(!secret.includes('demo-client-secret'), 'but never the secret itself');
    await page.screenshot({ path: 'test-output/identity-config-dialog.png' }).catch(() => undefined);
    const html = await page.content();
    assert.ok(!html.includes('demo-client-secret'));
  });

  it('Discover in the identity-config dialog shows what the demo provider publishes, and names a wrong issuer', async () => {
    const issuer = `${demo.base}/realms/demo`;
    await page.fill('#node-config-input-issuer', issuer);
    await page.click('#identity-config-discover');
    const result = page.locator('#identity-config-discover-result');
    await result.getByText(`${issuer}/token`, { exact: true }).waitFor();
    const text = await result.innerText();
    assert.match(text, /grant_types_supported: .*client_credentials/);
    assert.match(text, /jwks_uri: /);
    await page.screenshot({ path: 'test-output/identity-config-discover.png' }).catch(() => undefined);
    await page.fill('#node-config-input-issuer', `${issuer}/`);
    await page.click('#identity-config-discover');
    await result.getByText('ERR_DISCOVERY_ISSUER_MISMATCH', { exact: false }).waitFor();
  });

  for (const type of ['get-token', 'refresh-token']) {
    it(`shows the help of ${type}`, async () => {
      const help = await page.evaluate((name) => RED.nodes.getNodeHelp(name), type);
      assert.match(help, /<h3>Outputs<\/h3>/);
      assert.match(help, /ERR_GRANT_INVALID/);
    });
  }

  it('shows our help for validate-token in the help sidebar', async () => {
    // A fresh editor, so that the dialogs of the previous test do not stand in the way.
    await page.goto(`${demo.base}/`);
    await page.waitForSelector(EDITOR_READY);
    await page.evaluate(() => RED.sidebar.help.show('validate-token'));
    const help = await page.waitForFunction(() => {
      const text = document.querySelector('#red-ui-sidebar')?.innerText ?? '';
      return text.includes('WWW-Authenticate') && text;
    });
    const text = await help.jsonValue();
    assert.match(text, /Outputs/);
    assert.match(text, /ERR_TOKEN_EXPIRED/);
    await page.screenshot({ path: 'test-output/validate-token-help.png' }).catch(() => undefined);
  });

  it('loads without errors in the browser console, and fetches nothing outside the machine', () => {
    assert.deepEqual(failedRequests, []);
    assert.deepEqual(consoleErrors, []);
  });
});
