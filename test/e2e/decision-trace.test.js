'use strict';
/**
 * The decision trace (msg.auth.decision) where a newcomer sees it: the first sample flow of
 * `npm start` (flows/protected-api.json) wires a debug node to validate-token's rejected output, and
 * the real editor (headless Chromium, driven by playwright-core) shows in its Debug sidebar why each
 * refused request was refused: no token, ERR_BEARER_MISSING; bob's token without orders:read, every
 * check of the verification passed and then scope failed with ERR_SCOPE_INSUFFICIENT. An authorized
 * request shows nothing there. The screenshot, with bob's steps expanded, goes to
 * test-output/screenshots/decision-trace-debug-sidebar.png (gitignored).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, startLauncher } = require('../support/launcher');
const { launchBrowser, openEditor, onWorkspace, settledStatuses } = require('../support/browser');
const { JWT_CHECKS } = require('../../dist/core/decision');

// The demo's documented client (README, Quick start): the launcher's default secret.
const CLIENT_ID = 'demo-client';
const CLIENT_SECRET = 'demo-client-secret';
const SCREENSHOT = path.join(ROOT, 'test-output', 'screenshots', 'decision-trace-debug-sidebar.png');
const HTTP_TIMEOUT_MS = 10000;

const sample = JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', 'protected-api.json'), 'utf8'));
const VALIDATE_TOKEN = sample.find((node) => node.type === 'validate-token');
const DEBUG = sample.find((node) => node.type === 'debug');

/** An access token of the launcher's demo provider for a user's password, as the README's curl lines get one. */
async function passwordToken(base, username) {
  const response = await fetch(`${base}/realms/demo/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'password', username, password: `${username}-password`, scope: 'orders:read' }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.access_token;
}

/** The status of GET /api/orders, with `token` as its bearer token if there is one. */
async function ordersStatus(base, token) {
  const response = await fetch(`${base}/api/orders`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  await response.arrayBuffer();
  return response.status;
}

// Runs in the page: the steps of an expanded `steps` array of the Debug sidebar, as the objects shown.
function readSteps(steps) {
  const entries = (element) => [...element.querySelectorAll(':scope > .red-ui-debug-msg-object-entry > .red-ui-debug-msg-element')];
  return [...steps.querySelectorAll(':scope > .red-ui-debug-msg-array-rows > .red-ui-debug-msg-object-entry > .red-ui-debug-msg-element')]
    .map((step) => Object.fromEntries(entries(step).map((property) => {
      const row = property.querySelector(':scope > .red-ui-debug-msg-row');
      return [row.querySelector('.red-ui-debug-msg-object-key').textContent, JSON.parse(row.querySelector('.red-ui-debug-msg-object-value').textContent)];
    })));
}

describe('the decision trace of the protected API sample, in the Debug sidebar (headless Chromium)', function () {
  this.timeout(90000);
  let demo;
  let browser;
  let editor;
  let page;

  before(async () => {
    browser = await launchBrowser();
    demo = await startLauncher();
    // Tall enough for bob's expanded steps down to the failed one.
    editor = await openEditor(browser, demo.base, { viewport: { width: 1800, height: 1300 } });
    ({ page } = editor);
    page.setDefaultTimeout(10000);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it("draws the sample's debug node, which shows msg.auth.decision of validate-token's rejected output", async () => {
    assert.deepEqual({ complete: DEBUG?.complete, targetType: DEBUG?.targetType, active: DEBUG?.active, tosidebar: DEBUG?.tosidebar },
      { complete: 'auth.decision', targetType: 'msg', active: true, tosidebar: true });
    assert.ok(VALIDATE_TOKEN.wires[1].includes(DEBUG.id), 'wired from output 2 (rejected)');
    assert.ok(!VALIDATE_TOKEN.wires[0].includes(DEBUG.id), 'and not from output 1 (authorized)');
    assert.equal(await page.locator(`${onWorkspace(DEBUG.id)} .red-ui-flow-node-label-text`).textContent(), DEBUG.name);
  });

  it('shows in the Debug sidebar why no token and bob (no orders:read) were refused, and nothing for alice', async () => {
    // Green once its provider's keys are loaded: the editor hears the runtime, so it hears debug messages too.
    const [status] = await settledStatuses(page, [VALIDATE_TOKEN.id]);
    assert.equal(status.fill, 'green', JSON.stringify(status));
    await page.click('#red-ui-tab-debug-link-button');
    await page.locator('#red-ui-tab-debug.active').waitFor();

    const [alice, bob] = [await passwordToken(demo.base, 'alice'), await passwordToken(demo.base, 'bob')];
    assert.equal(await ordersStatus(demo.base, alice), 200);
    assert.equal(await ordersStatus(demo.base, undefined), 401);
    assert.equal(await ordersStatus(demo.base, bob), 403);

    // The runtime sends debug messages in order: once bob's shows, an earlier one for alice would too.
    const messages = page.locator(`.red-ui-debug-content-list .red-ui-debug-msg-node-${DEBUG.id}`);
    await messages.filter({ hasText: 'ERR_SCOPE_INSUFFICIENT' }).waitFor();
    const shown = await messages.evaluateAll((list) => list.map((message) => ({
      name: message.querySelector('.red-ui-debug-msg-name').textContent,
      topic: message.querySelector('.red-ui-debug-msg-topic').textContent,
      summary: message.querySelector('.red-ui-debug-msg-payload').textContent,
    })));
    assert.equal(shown.length, 2, `one message per refused request: ${JSON.stringify(shown)}`);
    for (const { name, topic } of shown) {
      assert.ok(name.endsWith(DEBUG.name), name);
      assert.match(topic, /^msg\.auth\.decision : Object/);
    }
    assert.equal(shown[0].summary, '{ result: "rejected", steps: array[1], code: "ERR_BEARER_MISSING" }');
    assert.match(shown[1].summary, /^\{ result: "rejected", via: "jwt", steps: array\[\d+\], code: "ERR_SCOPE_INSUFFICIENT" \}$/);

    // Bob's steps, expanded as a user would with the carets: each check of the verification passed, then scope failed.
    const message = messages.nth(1);
    await message.locator('.red-ui-debug-msg-top-level > .red-ui-debug-msg-row .red-ui-debug-msg-object-handle').click();
    const stepsRow = message.locator('.red-ui-debug-msg-object-entry > .red-ui-debug-msg-element > .red-ui-debug-msg-row')
      .filter({ has: page.locator('.red-ui-debug-msg-object-key', { hasText: /^steps$/ }) });
    await stepsRow.locator('.red-ui-debug-msg-object-handle').click();
    const steps = stepsRow.locator('xpath=..');
    const collapsed = steps.locator('.collapsed > .red-ui-debug-msg-expandable > .red-ui-debug-msg-object-handle');
    for (let clicks = 0; clicks < 50 && await collapsed.count() > 0; clicks += 1) await collapsed.first().click();
    assert.deepEqual(await steps.evaluate(readSteps), [
      { check: 'credentials', result: 'pass' },
      ...JWT_CHECKS.map((check) => ({ check, result: 'pass' })),
      { check: 'scope', result: 'fail', code: 'ERR_SCOPE_INSUFFICIENT' },
    ]);
    // Hovering a message marks its debug node on the workspace.
    await message.locator('.red-ui-debug-msg-meta').hover();
    await page.screenshot({ path: SCREENSHOT });

    const html = await page.content();
    for (const token of [alice, bob]) assert.ok(!html.includes(token.split('.')[1]), 'no token, nor its claims, in the editor');
  });

  it('ran without errors in the browser console, and fetched nothing outside the machine', () => {
    assert.deepEqual(editor.consoleErrors, []);
    assert.deepEqual(editor.failedRequests, []);
  });
});
