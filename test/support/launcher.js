'use strict';
/**
 * Runs the launcher behind `npm start` (flows/demo/start.js) as a child process on a free port with
 * a fresh user directory, as a newcomer's first `npm start` would.
 *
 * `sampleFlows: false` starts it with an empty workspace instead: an empty flows.json in the user
 * directory makes it a later start, on which the launcher deploys nothing (so that a test can import
 * the sample flows itself without their routes colliding with deployed ones).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

async function startLauncher({ sampleFlows = true } = {}) {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-demo-'));
  if (!sampleFlows) fs.writeFileSync(path.join(userDir, 'flows.json'), '[]\n');
  const child = spawn(process.execPath, [path.join(ROOT, 'flows', 'demo', 'start.js')], {
    env: { ...process.env, PORT: '0', NODE_RED_DEMO_DIR: userDir, DEMO_CLIENT_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const base = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output = (output + chunk).slice(-200_000); // long runs (the soak) keep only the tail
      const match = /Protected endpoint:\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/orders/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the launcher exited with ${code}:\n${output}`)));
  });
  return {
    base,
    userDir,
    pid: child.pid,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

module.exports = { ROOT, startLauncher };
