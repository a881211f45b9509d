'use strict';
/**
 * The security check at deploy in the real editor (Debian's chromium, headless, driven by
 * playwright-core) against the launcher behind `npm start`: the sample flows deploy without a
 * warning; a flow with an unprotected route, deployed with the editor's Deploy button, brings a
 * warning notification that names the route and reveals it when clicked, and a warning in the
 * runtime log; `identity: public route` typed into the route's Description tab silences it.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { ROOT, startLauncher } = require('../support/launcher');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT = path.join(ROOT, 'test-output', 'screenshots', 'security-check-warning.png');

const UNPROTECTED = [
  { id: 'sc0tab00000000001', type: 'tab', label: 'open route' },
  { id: 'sc0in000000000001', type: 'http in', z: 'sc0tab00000000001', name: 'GET /open/orders', url: '/open/orders', method: 'get',
    upload: false, swaggerDoc: '', x: 160, y: 100, wires: [['sc0fn000000000001']] },
  { id: 'sc0fn000000000001', type: 'change', z: 'sc0tab00000000001', name: 'all orders', x: 380, y: 100, wires: [['sc0out00000000001']],
    rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '{"orders":[]}', tot: 'json' }], action: '', property: '', from: '', to: '', reg: false },
  { id: 'sc0out00000000001', type: 'http response', z: 'sc0tab00000000001', name: '', statusCode: '', headers: {}, x: 580, y: 100, wires: [] },
];

describe('the security check in the editor (headless Chromium)', function () {
  this.timeout(90000);
  let demo;
  let browser;
  let page;
  const consoleErrors = [];

  /** The editor's Deploy button; the editor asks first when a node of the workspace is not properly configured. */
  async function deploy() {
    await page.click('#red-ui-header-button-deploy');
    await page.waitForFunction(() => !RED.nodes.dirty() || $('#red-ui-deploy-dialog-confirm-deploy-deploy').is(':visible'));
    const confirm = page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy');
    if (await confirm.isVisible()) await confirm.click();
    await page.waitForFunction(() => !RED.nodes.dirty());
  }

  /** Yields to the event loop until the launcher has printed what matches (no fixed wait). */
  async function untilPrinted(pattern) {
    while (!pattern.test(demo.output())) await new Promise(setImmediate);
  }

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
    demo = await startLauncher();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1800, height: 1000 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.goto(`${demo.base}/`);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="validate-token"]', { timeout: 30000 });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('the sample flows of npm start deploy without a security warning', () => {
    // The launcher prints its endpoints after the samples started, so their check has been logged by now.
    assert.match(demo.output(), /Protected endpoint:/);
    assert.doesNotMatch(demo.output(), /WARN_[A-Z_]+/);
  });

  it('deploying an unprotected route shows a warning naming it; clicking the node reveals it', async () => {
    const firstTab = await page.evaluate((flow) => {
      const first = RED.workspaces.active();
      RED.view.importNodes(flow, { touchImport: true, notify: false });
      return first;
    }, UNPROTECTED);
    await deploy();

    const notification = page.locator('.red-ui-notification-warning', { has: page.locator('.identity-security-check') });
    await notification.waitFor({ state: 'visible' });
    const shown = await notification.innerText();
    assert.match(shown, /WARN_ROUTE_UNPROTECTED/);
    assert.match(shown, /http in "GET \/open\/orders" \(sc0in000000000001\) on flow "open route"/);
    assert.match(shown, /change "all orders" \(sc0fn000000000001\)/);
    assert.match(shown, /identity: public route/, 'it says how to silence an intended warning');
    assert.equal(await notification.locator('li').count(), 1, 'the samples add nothing to the list');
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    await page.evaluate((id) => RED.workspaces.show(id), firstTab);
    assert.equal(await page.evaluate(() => RED.workspaces.active()), firstTab);
    await notification.locator('a.identity-security-check-node').click();
    await page.waitForFunction(() => RED.workspaces.active() === 'sc0tab00000000001');

    await untilPrinted(/WARN_ROUTE_UNPROTECTED/);
    const line = demo.output().split('\n').find((entry) => entry.includes('WARN_ROUTE_UNPROTECTED'));
    assert.match(line, /\[warn\].*http in "GET \/open\/orders" \(sc0in000000000001\) on flow "open route".*change "all orders"/);

    const response = await fetch(`${demo.base}/open/orders`);
    assert.equal(response.status, 200, 'the deploy went through');
  });

  it("the marker typed into the route's Description tab silences it, and the flows keep it", async () => {
    await page.evaluate(() => RED.editor.edit(RED.nodes.node('sc0in000000000001'), 'editor-tab-description'));
    await page.waitForFunction(() => Boolean(RED.nodes.node('sc0in000000000001').infoEditor));
    await page.evaluate(() => RED.nodes.node('sc0in000000000001').infoEditor.setValue('A public list, on purpose.\n\nidentity: public route'));
    await page.click('#node-dialog-ok');
    await deploy();
    await page.locator('.identity-security-check').waitFor({ state: 'detached' });

    const exported = await page.evaluate(() => RED.nodes.createExportableNodeSet([RED.nodes.node('sc0in000000000001')])[0].info);
    assert.match(exported, /identity: public route/, 'an export carries it');
    const deployed = await (await fetch(`${demo.base}/flows`)).json();
    assert.match(deployed.find((node) => node.id === 'sc0in000000000001').info, /identity: public route/, 'the runtime stores it');
  });

  it('logs no error in the browser console', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
