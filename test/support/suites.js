'use strict';
/** Mocha set-up that many node suites share: one demo provider and the test Node-RED. */
const { helper, startNodeRed } = require('./node-red');
const { startProvider } = require('./demo');

/**
 * Registers the hooks of a suite that runs against one demo provider (started with `options`) and
 * the test Node-RED, unloading the flow after each test; `onStarted` receives the provider.
 */
function useDemoProviderAndNodeRed(onStarted, options = {}) {
  let provider;
  before(async () => {
    provider = await startProvider(options);
    onStarted(provider);
    await startNodeRed();
  });
  after(async () => {
    await helper.unload();
    await helper.stopServer();
    await provider.close();
  });
  afterEach(() => helper.unload());
}

module.exports = { useDemoProviderAndNodeRed };
