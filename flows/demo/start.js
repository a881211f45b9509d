#!/usr/bin/env node
/**
 * `npm start`: Node-RED with this package's nodes and the sample flow "protected API", and the demo
 * identity provider (oidc-provider) mounted at /idp, all on http://127.0.0.1:<PORT> (default 1880).
 *
 * Node-RED keeps its files in a project-local user directory (.node-red-demo/, never ~/.node-red);
 * the package is linked into its node_modules so that Node-RED loads it as an installed module,
 * with its Import ▸ Examples. On the first start the sample flow is deployed, with the demo client
 * secret given as a Node-RED credential (encrypted in flows_cred.json, never in flows.json).
 *
 * Environment: PORT (0 picks a free port), NODE_RED_DEMO_DIR (the user directory),
 * DEMO_CLIENT_SECRET (default "demo-client-secret").
 */
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const RED = require('node-red');

const ROOT = path.resolve(__dirname, '..', '..');
const HOST = '127.0.0.1';
const SAMPLE_FLOW = path.join(ROOT, 'flows', 'protected-api.json');

async function main() {
  const port = Number(process.env.PORT ?? 1880);
  const userDir = path.resolve(process.env.NODE_RED_DEMO_DIR ?? path.join(ROOT, '.node-red-demo'));
  const clientSecret = process.env.DEMO_CLIENT_SECRET || 'demo-client-secret';
  linkPackage(userDir);

  const app = express();
  const server = http.createServer(app);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  const base = `http://${HOST}:${server.address().port}`;
  const issuer = `${base}/idp`;
  process.env.IDENTITY_DEMO_ISSUER = issuer; // read by the sample flow's identity-config: ${IDENTITY_DEMO_ISSUER}

  const { createDemoProvider } = await import('./provider.mjs');
  const { provider } = await createDemoProvider({ issuer, clientSecret });
  app.use('/idp', provider.callback());

  const firstStart = !fs.existsSync(path.join(userDir, 'flows.json'));
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    // Encrypts flows_cred.json; a demo value, since the only secret in it is the documented demo one.
    credentialSecret: 'node-red-contrib-identity-demo',
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    uiHost: HOST,
    // The demo stays on loopback: no telemetry (and so no consent dialog), no palette catalogue fetch.
    editorTheme: { tours: false, palette: { catalogues: [] } },
    telemetry: { enabled: false, updateNotification: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
  });
  app.use('/', RED.httpAdmin);
  app.use('/', RED.httpNode);
  await RED.start();
  if (firstStart) await deploySampleFlow(clientSecret);

  console.log(`\nNode-RED editor and flows: ${base}/`);
  console.log(`Demo identity provider:     ${issuer} (client demo-client, users alice and bob)`);
  console.log(`Protected endpoint:         ${base}/api/orders\n`);

  const stop = async () => {
    await RED.stop();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** userDir/node_modules/node-red-contrib-identity -> this checkout, so Node-RED finds it as a module. */
function linkPackage(userDir) {
  const modules = path.join(userDir, 'node_modules');
  const link = path.join(modules, 'node-red-contrib-identity');
  fs.mkdirSync(modules, { recursive: true });
  try {
    if (fs.realpathSync(link) === fs.realpathSync(ROOT)) return;
    fs.rmSync(link, { recursive: true, force: true });
  } catch {
    // no link yet
  }
  fs.symlinkSync(ROOT, link, 'dir');
}

async function deploySampleFlow(clientSecret) {
  const flows = JSON.parse(fs.readFileSync(SAMPLE_FLOW, 'utf8'));
  for (const node of flows) {
    if (node.type === 'identity-config') node.credentials = { clientSecret };
  }
  const started = new Promise((resolve) => {
    const onStarted = (event) => {
      if (!event?.config?.flows?.some((node) => node.id === flows[0].id)) return; // an earlier (empty) start
      RED.events.removeListener('flows:started', onStarted);
      resolve();
    };
    RED.events.on('flows:started', onStarted);
  });
  await RED.runtime.flows.setFlows({ flows: { flows } });
  await started;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
