'use strict';
/**
 * Node-RED for the bench, a child process of bench/run.js: embedded as flows/demo/start.js does it
 * (express, RED.init, RED.httpNode on 127.0.0.1, an ephemeral port), with this package loaded as an
 * installed module through a symlink in the user directory, no editor and no logging.
 *
 * argv[2] is the user directory (a temporary one, made and removed by bench/run.js). Over IPC it
 * says `{ type: 'ready', port }`, deploys `{ type: 'deploy', id, flows }` (a full deployment; the
 * answer `{ type: 'deployed', id }` comes once the flows have started) and stops on
 * `{ type: 'stop' }` or when the parent goes away.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const RED = require('node-red');

const ROOT = path.resolve(__dirname, '..');
const HOST = '127.0.0.1';

async function main() {
  const userDir = process.argv[2];
  const modules = path.join(userDir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  fs.symlinkSync(ROOT, path.join(modules, 'node-red-contrib-identity'), 'dir');

  const app = express();
  const server = http.createServer(app);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'node-red-contrib-identity-bench',
    httpAdminRoot: false,
    httpNodeRoot: '/',
    uiHost: HOST,
    editorTheme: { tours: false, palette: { catalogues: [] } },
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: 'off', metrics: false, audit: false } },
  });
  app.use('/', RED.httpNode);
  // RED.start() resolves before the flows (and their credentials) are loaded; a deploy made before
  // that load ends would have its credentials overwritten by it. Wait for the first start.
  const firstStart = new Promise((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await firstStart;

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await RED.stop().catch(() => {});
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('disconnect', stop);
  process.on('message', (message) => {
    if (message.type === 'stop') stop();
    if (message.type === 'deploy') {
      deploy(message.flows).then(
        () => process.send({ type: 'deployed', id: message.id }),
        (error) => process.send({ type: 'deployed', id: message.id, error: String(error?.stack ?? error) }),
      );
    }
  });
  process.send({ type: 'ready', port: server.address().port });
}

/** A full deployment; resolves once Node-RED has started these flows (their first node's id). */
async function deploy(flows) {
  const marker = flows[0].id;
  const started = new Promise((resolve) => {
    const onStarted = (event) => {
      if (!event?.config?.flows?.some((node) => node.id === marker)) return;
      RED.events.removeListener('flows:started', onStarted);
      resolve();
    };
    RED.events.on('flows:started', onStarted);
  });
  await RED.runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
  await started;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
