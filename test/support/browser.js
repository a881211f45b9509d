'use strict';
/**
 * The editor tests' browser: Debian's chromium, headless, driven by playwright-core, and a page on
 * the editor that records what the browser console reports as an error and every request that
 * failed, so that a test can assert the editor ran cleanly.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// The palette shows our nodes once the editor has loaded every node definition.
const EDITOR_READY = '.red-ui-palette-node[data-palette-type="validate-token"]';

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
 * fill as the page runs.
 */
async function openEditor(browser, base, { viewport = { width: 1800, height: 1000 } } = {}) {
  const page = await browser.newPage({ viewport });
  const consoleErrors = [];
  const failedRequests = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('requestfailed', (request) => failedRequests.push(request.url()));
  await page.goto(`${base}/`);
  await page.waitForSelector(EDITOR_READY, { timeout: 30000 });
  return { page, consoleErrors, failedRequests };
}

module.exports = { CHROMIUM, EDITOR_READY, launchBrowser, openEditor };
