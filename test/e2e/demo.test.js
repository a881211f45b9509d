'use strict';
/**
 * The two commands: the launcher behind `npm start` (Node-RED + demo provider on loopback) runs as
 * a child process on a free port with its own user directory, and the README's curl lines run
 * against it exactly as written (only the port differs).
 */
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, startLauncher } = require('../support/launcher');

/** The shell lines of a README block marked `<!-- name -->`. */
function readmeCurlLines(name = 'quickstart-curl') {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = new RegExp(`<!-- ${name} -->\\s*\`\`\`(?:sh|bash)\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(block, `README.md has a ${name} block`);
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
    demo = await startLauncher();
    ({ base, userDir } = demo);
  });

  after(() => demo.stop());

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

  it("runs the README's token endpoint, refresh and machine-to-machine lines as written", async () => {
    const port = new URL(base).port;
    const script = readmeCurlLines('tokens-curl').replaceAll('127.0.0.1:1880', `127.0.0.1:${port}`);
    const { error, stdout, stderr } = await bash(`${script}\n`);
    assert.equal(error, null, `${stderr}\n${stdout}`);
    const answers = stdout.replace(/}{/g, '}\n{').trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(answers.length, 4, stdout);
    const [token, refreshed, reused, m2m] = answers;
    assert.equal(token.token_type, 'Bearer');
    assert.equal(JSON.parse(Buffer.from(token.access_token.split('.')[1], 'base64url')).sub, 'alice');
    assert.equal(typeof refreshed.refresh_token, 'string');
    assert.equal(reused.error, 'invalid_grant');
    assert.equal(m2m.statusCode ?? 200, 200);
    assert.ok(JSON.stringify(m2m).includes('demo-client'), JSON.stringify(m2m));
  });

  it("runs the README's provider chain lines as written: carol at the partners realm, alice at the employees realm", async () => {
    const port = new URL(base).port;
    const script = readmeCurlLines('chain-curl').replaceAll('127.0.0.1:1880', `127.0.0.1:${port}`);
    const { error, stdout, stderr } = await bash(`${script}\n`);
    assert.equal(error, null, `${stderr}\n${stdout}`);
    const [carol, alice, refused] = stdout.replace(/}{/g, '}\n{').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual([carol.for, carol.realm], ['carol', `${base}/realms/partners`]);
    assert.deepEqual([alice.for, alice.realm], ['alice', `${base}/realms/demo`]);
    assert.equal(refused.error, 'invalid_grant');
  });

  it("runs the README's introspection lines as written: alice's opaque token 200, a made-up one 401", async () => {
    const port = new URL(base).port;
    const script = readmeCurlLines('introspection-curl').replaceAll('127.0.0.1:1880', `127.0.0.1:${port}`);
    const { error, stdout, stderr } = await bash(`${script}\n`);
    assert.equal(error, null, `${stderr}\n${stdout}`);
    const statuses = [...stdout.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]));
    assert.deepEqual(statuses, [200, 401], stdout);
    assert.match(stdout, /WWW-Authenticate: Bearer realm="orders", error="invalid_token"/i);
  });

  it("runs the README's encrypted token lines as written: a JWE header, 200 at the encrypted API, 401 at the JWT API", async () => {
    const port = new URL(base).port;
    const script = readmeCurlLines('encrypted-curl').replaceAll('127.0.0.1:1880', `127.0.0.1:${port}`);
    const { error, stdout, stderr } = await bash(`${script}\n`);
    assert.equal(error, null, `${stderr}\n${stdout}`);
    const header = JSON.parse(stdout.split('\n')[0]);
    assert.deepEqual([header.alg, header.enc, header.cty], ['RSA-OAEP-256', 'A256GCM', 'at+jwt'], stdout);
    const statuses = [...stdout.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]));
    assert.deepEqual(statuses, [200, 401], stdout);
    assert.match(stdout, /"user":"alice"/);
    assert.match(stdout, /WWW-Authenticate: Bearer realm="orders", error="invalid_token", error_description="[^"]*no decryption key[^"]*"/i);
    assert.ok(!demo.output().includes(JSON.parse(fs.readFileSync(path.join(userDir, 'demo-token-encryption-key.json'), 'utf8')).d),
      'the decryption key is not in the log');
  });

  it('serves the editor with our nodes, and the sample flow under Import ▸ Examples', async () => {
    assert.equal((await fetch(`${base}/`)).status, 200);
    const nodes = await (await fetch(`${base}/nodes`, { headers: { accept: 'application/json' } })).json();
    const ours = nodes.filter((set) => set.module === 'node-red-contrib-identity');
    assert.deepEqual(ours.flatMap((set) => set.types).sort(), ['get-token', 'identity-config', 'refresh-token', 'resource-metadata', 'validate-token']);
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
