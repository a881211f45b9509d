'use strict';
/**
 * The Flow Library scorecard: `node-red-dev validate`, the tool flows.nodered.org scores a package
 * with (checks P01–P08, N01–N02, D01–D03), on the package as `npm pack` ships it, each check
 * asserted on its own.
 *
 * node-red-dev runs unmodified, as its own CLI in a child process. Its network look-ups reach no
 * host: one server on 127.0.0.1 (ephemeral port) answers them all from fixtures.
 * - The Flow Library catalogue (P08, N01) and the npm registry's `node-red` document (P06, P07) are
 *   fetched from fixed https URLs with axios 0.21, which honours HTTPS_PROXY and sends a request
 *   for an https URL to an http:// proxy as a plain GET of the full URL (no CONNECT tunnel). The
 *   server is that proxy and answers from test/fixtures/scorecard/ (see its README.md).
 * - Our dependencies' registry documents: D02 walks the dependency tree (npm-remote-ls) and D03
 *   asks for the latest versions (npm-check); both take the registry from npm's config files, so
 *   an .npmrc in node-red-dev's working directory points them at the same server, which answers
 *   from package-lock.json: the tree as we install it, and "latest" as of our lockfile.
 * Any other request (a CONNECT tunnel included) is refused, and a test below fails on it.
 */
const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const { ROOT } = require('../support/launcher');
const { listen } = require('../support/servers');

const execFileAsync = promisify(execFile);
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'scorecard');
const NODE_RED_DEV = path.join(ROOT, 'node_modules', 'node-red-dev', 'bin', 'run');
const CATALOGUE_URL = 'https://catalogue.nodered.org/catalogue.json';
const NODE_RED_URL = 'https://registry.npmjs.org/node-red';
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const PKG = readJson(path.join(ROOT, 'package.json'));

/** The registry document of each package in package-lock.json: the versions we lock, with their dependencies. */
function lockedRegistry() {
  const documents = new Map();
  for (const [where, entry] of Object.entries(readJson(path.join(ROOT, 'package-lock.json')).packages)) {
    if (!where || !entry.version) continue; // the root, and links
    const name = entry.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const document = documents.get(name) ?? { name, 'dist-tags': {}, versions: {} };
    const { version, dependencies, optionalDependencies } = entry;
    document.versions[version] = { name, version, dependencies, optionalDependencies };
    // The hoisted copy is the one a fresh install of the package would get.
    if (where === `node_modules/${name}` || !document['dist-tags'].latest) document['dist-tags'].latest = version;
    documents.set(name, document);
  }
  return documents;
}

/**
 * One server on 127.0.0.1 for every look-up: a request for a full https URL is one node-red-dev
 * sent to its proxy, a request for a path one sent to the registry. `answers(catalogue)` sets the
 * catalogue served next; `requests` lists what was asked and how it was answered.
 */
async function lookupServer() {
  const registry = lockedRegistry();
  const requests = [];
  let catalogue;
  const server = await listen((req, res) => {
    let body;
    if (req.url === CATALOGUE_URL) body = catalogue;
    else if (req.url === NODE_RED_URL) body = readJson(path.join(FIXTURES, 'node-red.json'));
    else if (req.url.startsWith('/')) body = registry.get(decodeURIComponent(req.url.slice(1)));
    requests.push({ url: req.url, status: body ? 200 : 404 });
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'Not found' }));
  });
  // A client that tunnels through the proxy would reach the real host: refuse it, and say so.
  server.on('connect', (req, socket) => {
    requests.push({ url: `CONNECT ${req.url}`, status: 405 });
    socket.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    answers(value) {
      catalogue = value;
      requests.length = 0;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The package as npm would publish it ("files" applied), unpacked into dir/package. */
async function packedPackage(dir) {
  const { stdout } = await execFileAsync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  const [{ filename }] = JSON.parse(stdout);
  await execFileAsync('tar', ['-xzf', path.join(dir, filename), '-C', dir]);
  return path.join(dir, 'package');
}

/**
 * Runs `node-red-dev validate` on packageDir from workDir, with the look-ups sent to the fixture
 * server only; resolves its scorecard and its report (stdout and stderr as they came).
 */
function validate(packageDir, workDir, server, output) {
  fs.writeFileSync(path.join(workDir, '.npmrc'), `registry=${server.url}/\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(https?|all|no)_proxy$/i.test(key)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NODE_RED_DEV, 'validate', '--path', packageDir, '--output', output], {
      cwd: workDir,
      env: { ...env, HTTPS_PROXY: server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let report = '';
    child.stdout.on('data', (chunk) => (report += chunk));
    child.stderr.on('data', (chunk) => (report += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || !fs.existsSync(output)) reject(new Error(`node-red-dev validate exited with ${code}:\n${report}`));
      else resolve({ scorecard: readJson(output), report });
    });
  });
}

describe('the Flow Library scorecard (node-red-dev validate) of the packed package', function () {
  this.timeout(30000);
  const catalogue = readJson(path.join(FIXTURES, 'catalogue.json'));
  let dir;
  let packageDir;
  let server;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scorecard-'));
    [packageDir, server] = await Promise.all([packedPackage(dir), lookupServer()]);
  });

  after(async () => {
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('against the catalogue fixture', () => {
    let result;
    let printed = false;

    before(async () => {
      server.answers(catalogue);
      result = await validate(packageDir, dir, server, path.join(dir, 'scorecard.json'));
    });

    afterEach(function () {
      if (this.currentTest.state === 'failed' && !printed) {
        printed = true;
        console.log(`node-red-dev validate said:\n${result?.report}\nscorecard: ${JSON.stringify(result?.scorecard, null, 2)}`);
      }
    });

    it('answers every look-up from a fixture: the catalogue, node-red, and our dependency tree', () => {
      const urls = server.requests.map((request) => request.url);
      assert.deepEqual(server.requests.filter((request) => request.status !== 200), [], 'a look-up had no fixture');
      assert.ok(urls.includes(CATALOGUE_URL), 'the catalogue was looked up');
      assert.ok(urls.includes(NODE_RED_URL), 'node-red was looked up');
      for (const name of Object.keys(PKG.dependencies)) assert.ok(urls.includes(`/${name}`), `${name} was looked up`);
    });

    it('scores the package it was given', () => {
      assert.deepEqual(result.scorecard.package, { name: PKG.name, version: PKG.version });
    });

    // Each check with its expected entry. `also` checks what node-red-dev 0.1.6 means to check where
    // its own code cannot fail (P02 is not run, P05 and P08 always pass).
    const checks = [
      ['P01', 'has a license', { test: true, license: 'Apache-2.0' }],
      // node-red-dev 0.1.6 has P02 switched off (it cloned the repository with nodegit): no entry.
      [
        'P02',
        'comes from its own repository, not a fork (not scored by node-red-dev 0.1.6)',
        undefined,
        (pkg) => assert.match(pkg.repository.url, new RegExp(`/${pkg.name}\\.git$`)),
      ],
      ['P03', 'names a repository or a bugs URL', { test: true }],
      ['P04', 'uses a valid name (node-red-contrib-*, or a scope)', { test: true }],
      ['P05', 'has the node-red keyword', { test: true }, (pkg) => assert.ok(pkg.keywords.includes('node-red'))],
      ['P06', 'node-red.version admits the current Node-RED', { test: true, versions: ['5.0.7'] }],
      ['P07', "engines.node admits the Node.js the latest Node-RED needs", { test: true, version: PKG.engines.node }],
      [
        'P08',
        'has no similarly named package in the Flow Library',
        { test: true },
        // node-red-dev 0.1.6 compares a one-element array with a string here, so finds nothing.
        (pkg) => {
          const others = catalogue.modules.filter((m) => m.id !== pkg.name && pkg.name.includes(m.id.split('/').pop()));
          assert.deepEqual(others, []);
        },
      ],
      ['N01', 'has node types no other Flow Library module defines', { test: true }],
      ['N02', 'has an example flow for every node but the config node', { test: true, nodes: ['validate-token', 'get-token', 'refresh-token', 'resource-metadata'] }],
      ['D01', 'has 6 or fewer dependencies', { test: true, total: Object.keys(PKG.dependencies).length }],
      ['D02', 'has no known-incompatible package in its dependency tree', { test: true }],
      ['D03', 'has its dependencies at their latest versions (latest as of package-lock.json)', { test: true }],
    ];
    for (const [id, title, expected, also] of checks) {
      it(`${id}: ${title}`, () => {
        assert.deepEqual(result.scorecard[id], expected, `${id}: ${JSON.stringify(result.scorecard[id])}`);
        also?.(readJson(path.join(packageDir, 'package.json')));
      });
    }

    it('has no check this table does not know', () => {
      const known = ['package', ...checks.map(([id]) => id)];
      assert.deepEqual(Object.keys(result.scorecard).filter((key) => !known.includes(key)), []);
    });
  });

  describe('against a catalogue where another module defines validate-token', () => {
    it('fails N01 and names that module', async () => {
      const clash = { id: 'node-red-contrib-token-tools', version: '1.0.0', types: ['validate-token', 'sign-token'] };
      server.answers({ ...catalogue, modules: [...catalogue.modules, clash] });
      const { scorecard, report } = await validate(packageDir, dir, server, path.join(dir, 'scorecard-clash.json'));
      assert.deepEqual(scorecard.N01, { test: false, nodes: [clash.id] }, report);
      assert.match(report, /Duplicate nodename validate-token found in package/);
    });
  });
});
