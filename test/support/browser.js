'use strict';
/**
 * The editor tests' browser: Debian's chromium, headless, driven by playwright-core; a page on the
 * editor that records what the browser console reports as an error, every request that failed and
 * every flow revision the runtime says it started; and the gestures of someone using the editor
 * (drag a node from the palette, drag a wire from port to port, import an example from the menu,
 * press Deploy). The gestures go through the mouse and the editor's own controls, never through
 * RED.* calls, so a test of them proves what a user can do.
 */
const assert = require('node:assert/strict');
const { EventEmitter, once } = require('node:events');
const fs = require('node:fs');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// The palette shows our nodes once the editor has loaded every node definition.
const EDITOR_READY = '.red-ui-palette-node[data-palette-type="validate-token"]';
const DEPLOY_TIMEOUT_MS = 15000;

async function launchBrowser() {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a sandboxed CI, and with no network beyond loopback: no background fetches.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new page on the editor at `base`, loaded up to the palette. `consoleErrors` and `failedRequests`
 * fill as the page runs; `flowsStarted(revision)` resolves once the runtime has said on the editor's
 * websocket (`notification/runtime-deploy`) that it started that flow revision, which comes after
 * its answer to the deploy.
 */
async function openEditor(browser, base, { viewport = { width: 1800, height: 1000 } } = {}) {
  const page = await browser.newPage({ viewport });
  const consoleErrors = [];
  const failedRequests = [];
  const startedRevisions = new Set();
  const runtime = new EventEmitter();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('requestfailed', (request) => failedRequests.push(request.url()));
  page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => {
    let messages;
    try {
      messages = JSON.parse(String(payload));
    } catch {
      return; // not one of the editor's JSON frames
    }
    for (const { topic, data } of Array.isArray(messages) ? messages : []) {
      if (topic === 'notification/runtime-deploy' && data?.revision) {
        startedRevisions.add(data.revision);
        runtime.emit('started');
      }
    }
  }));
  await page.goto(`${base}/`);
  await page.waitForSelector(EDITOR_READY, { timeout: 30000 });
  /** Resolves once the runtime has started the flows of `revision`. */
  const flowsStarted = async (revision) => {
    const deadline = AbortSignal.timeout(DEPLOY_TIMEOUT_MS);
    while (!startedRevisions.has(revision)) {
      try {
        await once(runtime, 'started', { signal: deadline });
      } catch {
        assert.fail(`the runtime did not announce flow revision ${revision} as started within ${DEPLOY_TIMEOUT_MS} ms`);
      }
    }
  };
  return { page, consoleErrors, failedRequests, flowsStarted };
}

/** The ids of the nodes drawn on the workspace. */
function nodeIdsOnWorkspace(page) {
  return page.$$eval('#red-ui-workspace-chart g.red-ui-flow-node-group', (groups) => groups.map((group) => group.id));
}

/** Selector of a node drawn on the workspace (Node-RED ids may start with a digit, so not `#id`). */
function onWorkspace(id) {
  return `#red-ui-workspace-chart g.red-ui-flow-node-group[id="${id}"]`;
}

/**
 * Finds `type` with the palette's filter, drags it with the mouse onto the workspace at (x, y)
 * from the workspace's top left corner, and returns the id of the node the drop created.
 */
async function dragFromPalette(page, type, { x, y }) {
  const before = new Set(await nodeIdsOnWorkspace(page));
  const filter = page.locator('#red-ui-palette-search input');
  await filter.fill('');
  await filter.pressSequentially(type);
  // The filter applies a moment after the last key: then the palette shows just the nodes whose
  // type or label holds the text.
  await page.waitForFunction((text) => [...document.querySelectorAll('#red-ui-palette-container .red-ui-palette-node')].every((node) => {
    const matches = [node.dataset.paletteType, node.dataset.paletteLabel].some((value) => (value ?? '').toLowerCase().includes(text.toLowerCase()));
    return matches === (node.getAttribute('data-filter') !== 'true');
  }), type);
  const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
  await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).hover();
  await page.mouse.down();
  await page.mouse.move(chart.x + x, chart.y + y, { steps: 12 });
  await page.mouse.up();
  await page.waitForFunction((count) => document.querySelectorAll('#red-ui-workspace-chart g.red-ui-flow-node-group').length === count,
    before.size + 1, { timeout: 5000 }).catch(() => assert.fail(`dropping ${type} from the palette created no node on the workspace`));
  await filter.fill('');
  const created = (await nodeIdsOnWorkspace(page)).filter((id) => !before.has(id));
  assert.equal(created.length, 1, `dropping ${type} created one node`);
  return created[0];
}

/** Drags a wire with the mouse from output `output` (0-based) of node `from` to the input of node `to`. */
async function dragWire(page, from, output, to) {
  const links = '#red-ui-workspace-chart g.red-ui-flow-link';
  const before = await page.locator(links).count();
  await page.locator(`${onWorkspace(from)} g.red-ui-flow-port-output`).nth(output).locator('.red-ui-flow-port').hover();
  await page.mouse.down();
  const input = page.locator(`${onWorkspace(to)} g.red-ui-flow-port-input .red-ui-flow-port`);
  const box = await input.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 12 });
  await input.hover();
  await page.mouse.up();
  await page.waitForFunction(([selector, count]) => document.querySelectorAll(selector).length === count, [links, before + 1], { timeout: 5000 })
    .catch(() => assert.fail(`dragging from output ${output + 1} of ${from} to the input of ${to} drew no wire`));
}

/**
 * Resolves once the edit tray that holds `selector` has finished opening: the tray focuses its first
 * field when its slide ends, and keys typed before that would land in that field.
 */
async function trayOpened(page, selector) {
  await page.waitForFunction((inside) => {
    const tray = document.querySelector(inside)?.closest('.red-ui-tray');
    return Boolean(tray) && tray.contains(document.activeElement);
  }, selector, { timeout: 10000 }).catch(() => assert.fail(`no edit dialog with ${selector} opened`));
}

/** Double-clicks a node on the workspace and waits for its edit dialog, which holds `selector`. */
async function openNode(page, id, selector) {
  await page.locator(onWorkspace(id)).locator('rect.red-ui-flow-node').dblclick();
  await trayOpened(page, selector);
}

/** Main menu ▸ Import ▸ Examples ▸ <module> ▸ <example>, Import. */
async function importExample(page, module, example) {
  await page.click('#red-ui-header-button-sidemenu');
  await page.click('#menu-item-import');
  await page.click('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples');
  const tree = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
  await tree.getByText(module, { exact: true }).click();
  await tree.getByText(example, { exact: true }).click();
  await page.click('#red-ui-clipboard-dialog-ok');
  await page.locator('#red-ui-clipboard-dialog').waitFor({ state: 'hidden' });
  // "Imported: …" covers the tab bar: dismiss it with a click, as it says.
  const notification = await page.locator('#red-ui-notifications .red-ui-notification').last().elementHandle();
  await notification.click();
  await notification.waitForElementState('hidden');
}

/**
 * Presses Deploy and, once the runtime has started them, resolves the revision and the flows the
 * editor sent (credentials included, as the editor sends them). A deploy the editor
 * holds back (nodes not properly configured, unknown types) fails with the editor's own list.
 */
async function deploy({ page, flowsStarted }) {
  const answered = page.waitForResponse((response) => response.request().method() === 'POST'
    && new URL(response.url()).pathname.endsWith('/flows'), { timeout: DEPLOY_TIMEOUT_MS });
  const heldBack = page.locator('.red-ui-deploy-dialog-confirm-list').waitFor({ timeout: DEPLOY_TIMEOUT_MS })
    .then(() => page.locator('.red-ui-notification').filter({ has: page.locator('.red-ui-deploy-dialog-confirm-list') }).innerText());
  answered.catch(() => undefined);
  heldBack.catch(() => undefined);
  await page.click('#red-ui-header-button-deploy');
  const outcome = await Promise.race([answered.then((response) => ({ response })), heldBack.then((warning) => ({ warning }))]);
  if (outcome.warning) assert.fail(`Deploy asked for confirmation instead of deploying:\n${outcome.warning}`);
  assert.equal(outcome.response.status(), 200, `the deploy was answered ${outcome.response.status()}: ${await outcome.response.text()}`);
  const { rev } = await outcome.response.json();
  // The editor says so, and has nothing left to deploy.
  await page.locator('#red-ui-notifications .red-ui-notification-success').first().waitFor();
  await page.locator('#red-ui-header-shade').waitFor({ state: 'hidden' });
  await page.locator('#red-ui-header-button-deploy.disabled').waitFor();
  await flowsStarted(rev);
  return { rev, flows: outcome.response.request().postDataJSON().flows };
}

// Runs in the page: what the workspace shows as the status of each node, as
// `{ id, drawn, shown, shape, fill, text }` (shape and fill null for a status without a shape).
function readStatuses(ids) {
  return ids.map((id) => {
    const node = document.querySelector(`#red-ui-workspace-chart g.red-ui-flow-node-group[id="${id}"]`);
    const group = node?.querySelector('.red-ui-flow-node-status-group');
    const shown = Boolean(group) && group.style.display !== 'none';
    const match = shown && /red-ui-flow-node-status-(dot|ring)-(\w+)/.exec(group.querySelector('.red-ui-flow-node-status').getAttribute('class'));
    return {
      id,
      drawn: Boolean(node),
      shown,
      shape: match ? match[1] : null,
      fill: match ? match[2] : null,
      text: shown ? group.querySelector('.red-ui-flow-node-status-label').textContent : '',
    };
  });
}

/** The statuses of nodes on the workspace (see readStatuses). */
function nodeStatuses(page, ids) {
  return page.evaluate(readStatuses, ids);
}

/**
 * The statuses of `ids` once each shows one that is no longer in progress (yellow: connecting),
 * as the runtime sends them after a deploy.
 */
async function settledStatuses(page, ids, { timeout = 10000 } = {}) {
  await page.waitForFunction(`(${readStatuses})(${JSON.stringify(ids)}).every((status) => status.shown && status.fill !== 'yellow')`,
    undefined, { timeout }).catch(async () => assert.fail(`the node statuses did not settle: ${JSON.stringify(await nodeStatuses(page, ids))}`));
  return nodeStatuses(page, ids);
}

module.exports = {
  CHROMIUM, EDITOR_READY, launchBrowser, openEditor, onWorkspace, dragFromPalette, dragWire, trayOpened, openNode, importExample, deploy,
  nodeStatuses, settledStatuses,
};
