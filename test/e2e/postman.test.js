'use strict';
/**
 * The Postman collection (flows/postman/) under newman, against the launcher behind `npm start`
 * (Node-RED with every sample flow of flows/*.json and the demo provider) on a free port with its
 * own user directory; and what a collection cannot do: the sample flows' shape, and the
 * authorization-code login, which needs a browser's redirects and cookies.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const newman = require('newman');
const { ROOT, startLauncher } = require('../support/launcher');
const { browserLogin } = require('../support/demo');

const POSTMAN = path.join(ROOT, 'flows', 'postman');
const COLLECTION = path.join(POSTMAN, 'node-red-contrib-identity.postman_collection.json');
const ENVIRONMENT = path.join(POSTMAN, 'demo.postman_environment.json');
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const sampleFiles = () => fs.readdirSync(path.join(ROOT, 'flows')).filter((file) => file.endsWith('.json')).sort();

/** Every pm.test( in the collection's scripts: each one is an assertion newman must have run. */
function countTests(collection) {
  const scripts = collection.item.flatMap((item) => (item.event ?? []).map((event) => event.script.exec.join('\n')));
  return scripts.reduce((count, script) => count + (script.match(/\bpm\.test\(/g) ?? []).length, 0);
}

function runNewman(options) {
  return new Promise((resolve, reject) => {
    newman.run(options, (error, summary) => (error ? reject(error) : resolve(summary)));
  });
}

describe('the Postman collection under newman, and the sample flows, against npm start', function () {
  // The collection waits out the 30-second rotation grace period of refresh-token once.
  this.timeout(120000);
  let demo;

  before(async () => {
    demo = await startLauncher();
  });

  after(() => demo.stop());

  it('runs every request of the collection with every assertion green', async () => {
    const collection = readJson(COLLECTION);
    const expected = countTests(collection);
    assert.ok(expected >= collection.item.length, 'every request has at least one pm.test');
    const summary = await runNewman({
      collection,
      environment: readJson(ENVIRONMENT),
      envVar: [{ key: 'baseUrl', value: demo.base }],
      reporters: [],
      timeoutRequest: 10000,
      timeoutScript: 45000,
      timeout: 100000,
    });
    const failures = summary.run.failures.map((failure) => `${failure.source?.name ?? '?'}: ${failure.error?.test ?? ''} ${failure.error?.message}`);
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.equal(summary.run.stats.requests.total, collection.item.length);
    assert.equal(summary.run.stats.assertions.total, expected, 'an assertion was skipped');
    assert.equal(summary.run.stats.assertions.failed, 0);
  });

  it('has one tab per sample flow, each with a comment first and its own identity-config without a secret', () => {
    const ids = new Set();
    for (const file of sampleFiles()) {
      const nodes = readJson(path.join(ROOT, 'flows', file));
      const tabs = nodes.filter((node) => node.type === 'tab');
      assert.equal(tabs.length, 1, `${file}: one tab`);
      assert.equal(nodes[0].type, 'tab', file);
      assert.equal(nodes[1].type, 'comment', `${file}: a comment node first`);
      assert.ok(nodes[1].info.length > 100, `${file}: the comment says what it shows and how to call it`);
      // Its own identity-config, one per demo realm it uses: the demo realm first.
      const configs = nodes.filter((node) => node.type === 'identity-config');
      const issuers = configs.map((config) => config.issuer);
      assert.ok(configs.length >= 1 && configs.length <= 2, `${file}: its own identity-config`);
      assert.deepEqual(issuers, ['${IDENTITY_DEMO_ISSUER}', '${IDENTITY_DEMO_PARTNER_ISSUER}'].slice(0, configs.length), file);
      for (const config of configs) {
        assert.equal(config.clientId, 'demo-client', file);
        // One of the demo provider's APIs: the JWT one, the opaque one (introspection.json), or the encrypted one (encrypted-tokens.json).
        assert.ok(['urn:node-red-contrib-identity:demo-api', 'urn:node-red-contrib-identity:opaque-api',
          'urn:node-red-contrib-identity:encrypted-api'].includes(config.audience), file);
      }
      for (const node of nodes) {
        assert.match(node.id, /^[0-9a-f]{16}$/, `${file}: ${node.id}`);
        assert.ok(!ids.has(node.id), `${file}: the id ${node.id} is used by another sample flow`);
        ids.add(node.id);
        if (node.type !== 'tab' && node.type !== 'identity-config') assert.equal(node.z, tabs[0].id, `${file}: ${node.id} on its tab`);
        if (node.identity) assert.equal(node.identity, configs[0].id, `${file}: ${node.id} uses the flow's own identity-config`);
        if (node.identity2) assert.equal(node.identity2, configs[1]?.id, `${file}: ${node.id} uses the flow's own second identity-config`);
      }
      const text = JSON.stringify(nodes);
      assert.ok(!/demo-client-secret|"(?:clientSecret|privateKey|credentials)":/.test(text), `${file}: no secret`);
    }
  });

  it('deployed every sample flow without an error, and lists each under Import ▸ Examples', async () => {
    const deployed = await (await fetch(`${demo.base}/flows`)).json();
    const tabs = new Set(deployed.filter((node) => node.type === 'tab').map((node) => node.id));
    const examples = JSON.stringify(await (await fetch(`${demo.base}/library/examples/flows/node-red-contrib-identity`)).json());
    for (const file of sampleFiles()) {
      const tab = readJson(path.join(ROOT, 'flows', file))[0];
      assert.ok(tabs.has(tab.id), `${file} is deployed`);
      assert.ok(examples.includes(file.replace(/\.json$/, '')), `${file} is in the examples: ${examples}`);
    }
    assert.doesNotMatch(demo.output(), /\[error\]/, demo.output());
  });

  it('the authorization-code login: /login redirects to the provider, /callback returns alice\'s tokens', async () => {
    const callback = `${demo.base}/callback`;
    const start = await fetch(`${demo.base}/login`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const authorize = new URL(start.headers.get('location'));
    assert.equal(authorize.origin + authorize.pathname, `${demo.base}/realms/demo/auth`);
    assert.equal(authorize.searchParams.get('redirect_uri'), callback);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    const back = await browserLogin(authorize.href, callback);
    assert.equal((await fetch(back.href)).status, 400, 'without the login cookie (another browser): refused');
    const cookie = start.headers.getSetCookie().find((line) => line.startsWith('identity_login=')).split(';')[0];
    const tokens = await fetch(back.href, { headers: { cookie } });
    assert.equal(tokens.status, 200);
    assert.equal(tokens.headers.get('cache-control'), 'no-store');
    const body = await tokens.json();
    assert.equal(typeof body.id_token, 'string');
    assert.equal(JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url')).sub, 'alice');
  });
});
