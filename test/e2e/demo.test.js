'use strict';
/**
 * The two commands: the launcher behind `npm start` (Node-RED + demo provider on loopback) runs as
 * a child process on a free port with its own user directory, and the README's curl lines run
 * against it exactly as written (only the port differs).
 */
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

function startDemo(userDir) {
  const child = spawn(process.execPath, [path.join(ROOT, 'flows', 'demo', 'start.js')], {
    env: { ...process.env, PORT: '0', NODE_RED_DEMO_DIR: userDir, DEMO_CLIENT_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const base = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const match = /Protected endpoint:\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/orders/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the demo exited with ${code}:\n${output}`)));
  });
  return { child, base, output: () => output };
}

/** The shell lines of the README's quick start block (between the quickstart markers). */
function readmeCurlLines() {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- quickstart-curl -->\s*```(?:sh|bash)\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README.md has a quickstart-curl block');
  return block[1];
}

function bash(script) {
  return new Promise((resolve) => {
    execFile('bash', ['-e', '-c', script], { timeout: 20000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
}

describe('npm start: Node-RED with the demo provider, and the README quick start', function () {
  this.timeout(60000);
  let demo;
  let base;
  let userDir;

  before(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-demo-'));
    demo = startDemo(userDir);
    base = await demo.base;
  });

  after(async () => {
    if (demo.child.exitCode === null) {
      const exited = new Promise((resolve) => demo.child.once('exit', resolve));
      demo.child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("runs the README's curl lines as written: alice 200, bob 403, no token 401", async () => {
    const port = new URL(base).port;
    const script = readmeCurlLines().replaceAll('127.0.0.1:1880', `127.0.0.1:${port}`);
    const { error, stdout, stderr } = await bash(`${script}\n`);
    assert.equal(error, null, `${stderr}\n${stdout}`);
    const statuses = [...stdout.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]));
    assert.deepEqual(statuses, [200, 403, 401], stdout);
    assert.match(stdout, /"user":"alice"/);
    assert.match(stdout, /WWW-Authenticate: Bearer realm="orders", error="insufficient_scope", error_description="[^"]+", scope="orders:read"/i);
  });

  it('serves the editor with our nodes, and the sample flow under Import ▸ Examples', async () => {
    assert.equal((await fetch(`${base}/`)).status, 200);
    const nodes = await (await fetch(`${base}/nodes`, { headers: { accept: 'application/json' } })).json();
    const ours = nodes.filter((set) => set.module === 'node-red-contrib-identity');
    assert.deepEqual(ours.flatMap((set) => set.types).sort(), ['identity-config', 'validate-token']);
    assert.ok(ours.every((set) => set.enabled && !set.err), JSON.stringify(ours));
    const examples = await (await fetch(`${base}/library/examples/flows/node-red-contrib-identity`)).json();
    assert.ok(JSON.stringify(examples).includes('protected-api'), JSON.stringify(examples));
  });

  it('keeps the client secret out of the flows: the admin API and flows.json never show it', async () => {
    const flows = await (await fetch(`${base}/flows`)).text();
    assert.ok(flows.includes('identity-config'));
    assert.ok(!flows.includes('demo-client-secret'));
    const saved = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    assert.ok(!saved.includes('demo-client-secret'));
    assert.ok(!fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8').includes('demo-client-secret'), 'encrypted');
    assert.ok(!demo.output().includes('demo-client-secret'), 'not in the log');
  });
});
